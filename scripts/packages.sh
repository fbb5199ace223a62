#!/usr/bin/env bash
# The Debian/Ubuntu packages pop3 needs, in one place. scripts/test.sh, scripts/demo.sh and
# .ci/run install from here; the test-server scripts (tests/integration/*.sh) name a missing
# package from here; scripts/check_packages.py checks that every find_package/find_program in
# the CMake files and every program the test-server scripts require is covered.
#
# Sourced (functions pop3_packages*, pop3_*mailutils_pop3d*), or run:
#   scripts/packages.sh list GROUP...      the packages of the groups, one a line
#   scripts/packages.sh missing GROUP...   those of them that are not installed
#   scripts/packages.sh install GROUP...   install those (root), else print the sudo line, exit 1
#   scripts/packages.sh mailutils-pop3d    unpack GNU Mailutils' pop3d for the interop tests
#   scripts/packages.sh map                what provides each find_package name and program
#
# Groups:
#   build      configure and build the library, examples and tests
#   dovecot    run tests/integration/dovecot.sh (the Dovecot tests, scripts/demo.sh)
#   mailutils  run the unpacked GNU Mailutils pop3d (tests/integration/mailutils.sh)
#   test       everything ctest runs: Catch2, pkg-config, python3, SQLite (the optional
#              sqlite_uid_store's tests), dovecot, mailutils
#   ci         what only .ci/run's extra builds need: Clang, its sanitizer runtimes, Boost,
#              Doxygen (the API reference)
#   bench      the peers bench/bench_latency compares the library with (mpop, curl; python3
#              for poplib); .ci/run's benchmark step installs them
#   base       on every Debian system (Essential or Priority required), never installed;
#              listed so that the map can name them

# shellcheck disable=SC2034 # the groups are read through pop3_packages
POP3_PACKAGES_build=(cmake make g++ libc6-dev libasio-dev libssl-dev)
POP3_PACKAGES_dovecot=(dovecot-core dovecot-pop3d openssl python3 ca-certificates procps)
# mailutils-pop3d conflicts with dovecot-pop3d, so it is never installed: its dependencies are
# (this is its Depends line in Debian 12), and pop3_unpack_mailutils_pop3d unpacks the package.
POP3_PACKAGES_mailutils=(mailutils-common netbase libc6 libcrypt1 libdb5.3 libgdbm6 libgnutls30
    libgsasl18 libkyotocabinet16v5 libldap-2.5-0 libmailutils9 libmu-dbm9 libnsl2 libpam0g
    libunistring2 libwrap0 openssl python3 procps)
POP3_PACKAGES_test=(catch2 pkg-config python3 libsqlite3-dev "${POP3_PACKAGES_dovecot[@]}"
    "${POP3_PACKAGES_mailutils[@]}")
POP3_PACKAGES_ci=(clang libclang-rt-14-dev libboost-dev doxygen)
POP3_PACKAGES_bench=(mpop curl python3)
POP3_PACKAGES_base=(bash coreutils dpkg apt libc-bin util-linux passwd mawk sed grep findutils)

# What provides a CMake package ("package:<find_package name>") or a program ("program:<name>");
# "-" is pop3 itself. scripts/check_packages.py fails when a name is missing here or points at a
# package no group lists.
declare -A POP3_PROVIDES=(
    [package:pop3]=-
    [package:Threads]=libc6-dev
    [package:OpenSSL]=libssl-dev
    [package:asio]=libasio-dev
    [package:Boost]=libboost-dev
    [package:Catch2]=catch2
    [package:Python3]=python3
    [package:PkgConfig]=pkg-config
    [package:Doxygen]=doxygen
    [package:SQLite3]=libsqlite3-dev
    [program:bash]=bash
    [program:python3]=python3
    [program:mpop]=mpop
    [program:curl]=curl
    [program:pkg-config]=pkg-config
    [program:pkgconf]=pkg-config
    [program:dovecot]=dovecot-core
    [program:openssl]=openssl
    [program:ps]=procps
    [program:timeout]=coreutils
    [program:cksum]=coreutils
    [program:awk]=mawk
    [program:useradd]=passwd
    [program:getent]=libc-bin
    [program:ldd]=libc-bin
)

POP3_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# Where pop3_unpack_mailutils_pop3d puts GNU Mailutils' pop3d and tests/integration/mailutils.sh
# runs it from; shared by every build directory.
POP3_MAILUTILS_POP3D_DIR=${POP3_MAILUTILS_PKG:-$POP3_ROOT/.deps/mailutils-pop3d}

# pop3_packages GROUP...: the packages of the groups, each once, in order.
pop3_packages() {
    local group p seen=" "
    for group in "$@"; do
        [[ $group =~ ^(build|dovecot|mailutils|test|ci|bench|base)$ ]] || {
            echo "packages.sh: unknown group '$group'" >&2
            return 2
        }
        local -n list="POP3_PACKAGES_$group"
        for p in "${list[@]}"; do
            [[ $seen == *" $p "* ]] && continue
            seen+="$p "
            echo "$p"
        done
        unset -n list
    done
}

# pop3_packages_missing PACKAGE...: those that dpkg does not have installed.
pop3_packages_missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

# pop3_packages_ensure WHO GROUP...: installs the packages of the groups that are missing
# (apt-get update, then apt-get install --no-install-recommends) when root; otherwise prints the
# exact sudo line and returns 1. WHO is the command to run again, for the message.
pop3_packages_ensure() {
    local who=$1 log rc=0
    shift
    local -a want missing
    pop3_packages "$@" >/dev/null || return 2
    mapfile -t want < <(pop3_packages "$@")
    if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
        echo "$who: no dpkg-query/apt-get (not Debian/Ubuntu): make sure the equivalents of" \
            "these Debian packages are installed: ${want[*]}" >&2
        return 0
    fi
    mapfile -t missing < <(pop3_packages_missing "${want[@]}")
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "$who: these packages are missing; install them, then run $who again:" >&2
        echo >&2
        echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        echo >&2
        return 1
    fi
    echo "$who: installing ${missing[*]}"
    log=$(mktemp)
    # Lock timeouts: another apt may be running (a second build, unattended upgrades).
    if ! apt-get update -q -o DPkg::Lock::Timeout=600 >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        echo "$who: warning: apt-get update failed; using the package lists present" >&2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "${missing[@]}" >>"$log" 2>&1 || rc=$?
    mapfile -t missing < <(pop3_packages_missing "${want[@]}")
    if [[ $rc -ne 0 || ${#missing[@]} -ne 0 ]]; then
        tail -n 20 "$log" >&2
        echo "$who: apt-get install failed (full log: $log); still missing: ${missing[*]}" >&2
        return 1
    fi
    rm -f "$log"
}

# pop3_mailutils_pop3d_problem [DIR]: why DIR (default POP3_MAILUTILS_POP3D_DIR) cannot run
# pop3d, on stdout, or nothing when it can.
pop3_mailutils_pop3d_problem() {
    local dir=${1:-$POP3_MAILUTILS_POP3D_DIR} f libs
    for f in usr/sbin/pop3d usr/bin/popauth; do
        [[ -x $dir/$f ]] || { echo "no $dir/$f"; return 0; }
    done
    libs=$(ldd "$dir/usr/sbin/pop3d" "$dir/usr/bin/popauth" 2>/dev/null | awk '/not found/ {print $1}' |
        sort -u | tr '\n' ' ')
    [[ -z $libs ]] || echo "libraries not found: $libs"
}

# pop3_unpack_mailutils_pop3d WHO: downloads mailutils-pop3d (the version of the installed
# libmailutils9) and unpacks it into POP3_MAILUTILS_POP3D_DIR, unless a usable copy of that version
# is there. The package cannot be installed next to dovecot-pop3d; its dependencies (group
# mailutils) must be installed first. apt-get download needs no root when the lists are current.
pop3_unpack_mailutils_pop3d() {
    local who=$1 dir=$POP3_MAILUTILS_POP3D_DIR version tmp deps d log
    version=$(dpkg-query -W -f='${Version}' libmailutils9 2>/dev/null) || version=""
    [[ -n $version ]] || { echo "$who: libmailutils9 is not installed" >&2; return 1; }
    if [[ -z $(pop3_mailutils_pop3d_problem "$dir") && $(cat "$dir/VERSION" 2>/dev/null) == "$version" ]]; then
        return 0
    fi
    echo "$who: unpacking mailutils-pop3d $version into $dir"
    # A dependency the list above lacks shows up in ldd below; this says which package it is.
    deps=$(apt-cache show "mailutils-pop3d=$version" 2>/dev/null | sed -n 's/^Depends: //p' |
        tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g')
    for d in $deps; do
        [[ " ${POP3_PACKAGES_mailutils[*]} " == *" $d "* ]] ||
            echo "$who: warning: mailutils-pop3d depends on $d, which scripts/packages.sh does not list" >&2
    done
    tmp=$(mktemp -d)
    log=$tmp/apt.log
    # apt drops to the _apt user to download; let it write here (else it warns and runs as root).
    chown _apt "$tmp" 2>/dev/null || true
    if ! (cd "$tmp" && apt-get download -q -o DPkg::Lock::Timeout=600 "mailutils-pop3d=$version") >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        rm -rf "$tmp"
        echo "$who: could not download mailutils-pop3d $version (apt-get update as root may help)" >&2
        return 1
    fi
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.tmp"
    dpkg-deb -x "$tmp"/mailutils-pop3d_*.deb "$dir.tmp" || { rm -rf "$tmp" "$dir.tmp"; return 1; }
    rm -rf "$tmp"
    echo "$version" >"$dir.tmp/VERSION"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    d=$(pop3_mailutils_pop3d_problem "$dir")
    [[ -z $d ]] || { echo "$who: the unpacked pop3d does not run: $d" >&2; return 1; }
}

# pop3_provider KIND NAME: the package that provides a CMake package or program (see
# POP3_PROVIDES), or nothing.
pop3_provider() {
    local key="$1:$2"
    [[ -v "POP3_PROVIDES[$key]" ]] && echo "${POP3_PROVIDES[$key]}"
    return 0
}

# pop3_missing_programs PROGRAM...: "program (package)" for each one not in PATH (nor in the
# sbin directories, which a non-root PATH may lack).
pop3_missing_programs() {
    local p pkg
    for p in "$@"; do
        PATH=$PATH:/usr/sbin:/sbin command -v "$p" >/dev/null && continue
        pkg=$(pop3_provider program "${p##*/}")
        echo "$p (${pkg:-package unknown})"
    done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
    list) pop3_packages "$@" ;;
    missing)
        mapfile -t listed < <(pop3_packages "$@")
        pop3_packages_missing "${listed[@]}"
        ;;
    install) pop3_packages_ensure "scripts/packages.sh install $*" "$@" ;;
    mailutils-pop3d) pop3_unpack_mailutils_pop3d "scripts/packages.sh" && echo "$POP3_MAILUTILS_POP3D_DIR" ;;
    map)
        for group in build dovecot mailutils test ci bench base; do
            while read -r p; do echo "group $group $p"; done < <(pop3_packages "$group")
        done
        for key in "${!POP3_PROVIDES[@]}"; do echo "provides ${key%%:*} ${key#*:} ${POP3_PROVIDES[$key]}"; done
        ;;
    *)
        sed -n '7,12p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
fi
