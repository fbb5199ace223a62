#!/usr/bin/env bash
# pop3 in one command: builds pop3-fetch, starts a throw-away Dovecot on 127.0.0.1 with a
# sample mailbox, fetches it over STLS into ./demo-mail (a Maildir), fetches again to show
# that nothing is fetched twice, and stops the server.
#
#     ./scripts/demo.sh
#
# Needs root (Dovecot runs the sample mailbox as a system user it creates) and Debian/Ubuntu
# packages (scripts/packages.sh, groups build and dovecot), which it installs when they are
# missing; when not root it prints the exact `sudo apt-get install` line. Nothing listens on
# anything but 127.0.0.1, and the server is stopped by its PID on exit (also on Ctrl-C or
# failure).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd -P)
BUILD=$ROOT/build-demo
MAIL=./demo-mail
USER_NAME=alice
PASSWORD=secret-alice

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
[[ -t 1 ]] || say() { printf '==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }
die() {
    echo "demo: $*" >&2
    exit 1
}

# ---- 1. packages -------------------------------------------------------------------------
# shellcheck source=scripts/packages.sh
. scripts/packages.sh
pop3_packages_ensure ./scripts/demo.sh build dovecot || exit 1

if [[ $(id -u) -ne 0 ]]; then
    echo "demo: please run as root (sudo ./scripts/demo.sh)."
    echo "      The local Dovecot needs root to create the system user 'pop3test' that owns the"
    echo "      sample mailbox, and drops its privileges to it. Nothing else on the system changes"
    echo "      and nothing listens beyond 127.0.0.1."
    exit 1
fi

# ---- 2. build ----------------------------------------------------------------------------
say "building pop3-fetch (Release, in build-demo/)"
log=$BUILD/demo-build.log
mkdir -p "$BUILD"
t0=$SECONDS
if ! { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPOP3_BUILD_TESTS=OFF \
        -DPOP3_BUILD_EXAMPLES=ON -DPOP3_BUILD_BENCHMARKS=OFF -DPOP3_BUILD_FUZZERS=OFF &&
    cmake --build "$BUILD" --target pop3-fetch -j"${JOBS:-2}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "the build failed (full log: $log)"
fi
FETCH=$BUILD/examples/pop3-fetch
[[ -x $FETCH ]] || die "no $FETCH after the build"
echo "    built $FETCH in $((SECONDS - t0))s"

# ---- 3. a local Dovecot --------------------------------------------------------------------
DIR=$(mktemp -d /tmp/pop3-demo.XXXXXX)
stop_server() {
    if [[ -f $DIR/run/master.pid ]]; then
        say "stopping Dovecot (pid $(cat "$DIR/run/master.pid" 2>/dev/null))"
        bash tests/integration/dovecot.sh stop "$DIR" || true
    fi
    rm -rf "$DIR"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

say "starting Dovecot on 127.0.0.1 with a sample mailbox (user $USER_NAME, password $PASSWORD)"
if ! bash tests/integration/dovecot.sh start "$DIR" >"$DIR.log" 2>&1; then
    tail -n 20 "$DIR.log" >&2
    rm -f "$DIR.log"
    die "Dovecot did not start"
fi
rm -f "$DIR.log"
# shellcheck disable=SC1091
. "$DIR/env"
echo "    pid $POP3_TEST_DOVECOT_PID, POP3 with STLS on port $POP3_TEST_PORT, its CA in $POP3_TEST_CA"

# ---- 4. fetch, twice -----------------------------------------------------------------------
# A previous demo's Maildir goes; anything else called demo-mail is left alone.
if [[ -e $MAIL ]]; then
    if compgen -G "$MAIL/.pop3-fetch-$USER_NAME@127.0.0.1.state*" >/dev/null; then
        rm -rf "$MAIL"
    else
        die "$MAIL exists and is not from an earlier demo; move it away first"
    fi
fi

args=(--host 127.0.0.1 --port "$POP3_TEST_PORT" --tls starttls --cafile "$POP3_TEST_CA"
      --user "$USER_NAME" --maildir "$MAIL" --keep)
export POP3_PASSWORD=$PASSWORD # the password never goes on the command line

list_subjects() {
    python3 - "$MAIL/new" <<'EOF'
import os, re, sys
d = sys.argv[1]
names = sorted(os.listdir(d), key=lambda n: [int(x) for x in re.findall(r"\d+", n)[:3]])
for i, name in enumerate(names, 1):
    subject = "(no subject)"
    with open(os.path.join(d, name), "rb") as f:
        for line in f:
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"subject:"):
                raw = line[8:].strip()
                try:
                    subject = raw.decode("utf-8")
                except UnicodeDecodeError:
                    subject = raw.decode("latin-1")  # 8-bit headers are usually Latin-1
                break
    print("    %2d  %-56s %9d bytes" % (i, subject[:56], os.path.getsize(os.path.join(d, name))))
EOF
}

say "first run: pop3-fetch ${args[*]}"
"$FETCH" "${args[@]}" | indent
echo "    $MAIL/new now holds $(find "$MAIL/new" -type f | wc -l) messages:"
list_subjects

say "second run, same command: only new mail is fetched"
"$FETCH" "${args[@]}" | indent

say "done: the mail is in $MAIL (a Maildir: try 'mutt -f $MAIL'); more options: $FETCH --help"
