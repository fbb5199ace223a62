#!/usr/bin/env bash
# Unpacks Catch2 v3 (Debian 12 bookworm-backports' libcatch2-dev) into a private prefix, so the
# tests can be built against v3 while Debian's Catch2 2.13 stays installed in /usr.
#
#   prefix=$(sudo scripts/catch2-v3.sh /opt/catch2-v3)     # /opt/catch2-v3/usr
#   cmake -S . -B build-catch3 -DCMAKE_PREFIX_PATH="$prefix"
#
# Needs root (apt sources, apt-get update). Safe to rerun. The package's CMake config finds its
# prefix relative to itself, so the unpacked tree works from any directory.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 <directory to unpack Catch2 v3 into>" >&2
    exit 2
fi
dest=$1

# deb822, like Debian 12's own debian.sources.
cat >/etc/apt/sources.list.d/pop3-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Backports (priority 100) never upgrade what is installed, but libcatch2-dev exists only there,
# so a plain `apt-get install libcatch2-dev` would replace catch2 2.13. Forbid installing v3;
# `apt-get download pkg/bookworm-backports` below still works.
cat >/etc/apt/preferences.d/pop3-catch2-v3 <<'EOF'
Package: libcatch2-dev catch2
Pin: release n=bookworm-backports
Pin-Priority: -1
EOF

# apt's chatter goes to stderr: stdout is only the prefix, for prefix=$(scripts/catch2-v3.sh dir).
if ! apt-get update -qq >&2; then
    echo "error: apt-get update failed, so Catch2 v3 cannot be downloaded (see above)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt drops to the _apt user to download; let it write here (else it warns and runs as root).
chown _apt "$tmp" 2>/dev/null || true
# libcatch2-dev holds everything: headers, libCatch2.a, libCatch2Main.a and the CMake config.
if ! (cd "$tmp" && apt-get download -q libcatch2-dev/bookworm-backports >&2); then
    echo "error: could not download libcatch2-dev from bookworm-backports (see above)" >&2
    exit 1
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
dpkg -x "$tmp"/libcatch2-dev_*.deb "$dest"

config="$dest/usr/lib/cmake/Catch2/Catch2ConfigVersion.cmake"
if ! grep -q 'PACKAGE_VERSION "3\.' "$config" 2>/dev/null; then
    echo "error: no Catch2 3.x CMake config in $dest/usr after unpacking" >&2
    exit 1
fi
echo "$dest/usr"
