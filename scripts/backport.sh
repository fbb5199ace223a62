#!/usr/bin/env bash
# Unpacks one package from Debian 12's bookworm-backports into a private prefix, so the build can
# be tried against a newer library (Catch2 v3, a current Boost) while Debian's own version stays
# installed in /usr.
#
#   prefix=$(sudo scripts/backport.sh libcatch2-dev /opt/catch2-v3)    # /opt/catch2-v3/usr
#   cmake -S . -B build-catch3 -DCMAKE_PREFIX_PATH="$prefix"
#
# Needs root (apt sources, apt-get update). Safe to rerun. Only what the package itself holds is
# unpacked (header-only libraries and static archives work; the package's dependencies must be
# installed already). CMake configs in such packages find their prefix relative to themselves.
set -euo pipefail

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
    echo "usage: $0 <package> <directory to unpack it into>" >&2
    exit 2
fi
package=$1
dest=$2
[[ $package =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || { echo "error: bad package name '$package'" >&2; exit 2; }

# deb822, like Debian 12's own debian.sources.
cat >/etc/apt/sources.list.d/pop3-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# Backports (priority 100) never upgrade what is installed, but a package that exists only there
# (libcatch2-dev replaces catch2 2.13) would be installed by a plain `apt-get install`. Forbid
# installing it; `apt-get download pkg/bookworm-backports` below still works.
cat >"/etc/apt/preferences.d/pop3-backport-$package" <<PIN
Package: $package
Pin: release n=bookworm-backports
Pin-Priority: -1
PIN

# apt's chatter goes to stderr: stdout is only the prefix, for prefix=$(scripts/backport.sh ...).
if ! apt-get update -qq >&2; then
    echo "error: apt-get update failed, so $package cannot be downloaded (see above)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt drops to the _apt user to download; let it write here (else it warns and runs as root).
chown _apt "$tmp" 2>/dev/null || true
if ! (cd "$tmp" && apt-get download -q "$package/bookworm-backports" >&2); then
    echo "error: could not download $package from bookworm-backports (see above)" >&2
    exit 1
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
dpkg -x "$tmp"/"${package}"_*.deb "$dest"
echo "$dest/usr"
