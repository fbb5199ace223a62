#!/usr/bin/env bash
# Start/stop a throw-away GNU Mailutils pop3d (3.15, Debian 12) on 127.0.0.1, the second
# real server of the interop tests.
#
#   mailutils.sh start DIR        write mail and config, start pop3d; DIR/env
#   mailutils.sh stop DIR         stop the instance started in DIR (by PID, bounded)
#   mailutils.sh reset DIR USER   rewrite USER's Maildir (same bytes; new UIDLs)
#   mailutils.sh status DIR       exit 0 if the instance in DIR is running
#
# dovecot-pop3d conflicts with mailutils-pop3d, so pop3d is never apt-installed: its
# dependencies are, and the package is unpacked into $POP3_MAILUTILS_PKG (default
# .deps/mailutils-pop3d in the source tree), both by ./scripts/test.sh before it builds
# (scripts/packages.sh). This script installs nothing: when pop3d, a program or root is
# missing, start says what and how to get it and exits 77, which ctest reports as skipped.
# Needs root: pop3d refuses to start otherwise ("error setting mail group").
# Users are virtual (a passwd file of this script, never PAM or /etc/shadow) and log in as
# <name>@mu.test with password secret-<name>. See README.md in this directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=(alice scratch keep)
DOMAIN=mu.test
START_TIMEOUT=10 # seconds to wait for the greeting
STOP_TIMEOUT=5   # seconds to wait after SIGTERM before SIGKILL
# What start runs; scripts/check_packages.py checks that scripts/packages.sh provides each.
REQUIRED_PROGRAMS=(python3 openssl timeout ps ldd awk)

die() { echo "mailutils.sh: $*" >&2; exit 1; }

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# shellcheck source-path=SCRIPTDIR source=server_lib.sh
. "$HERE/server_lib.sh"

pkg_dir() { printf '%s\n' "$POP3_MAILUTILS_POP3D_DIR"; }

# True if PID is the pop3d started with DIR/pop3d.conf.
is_ours() { is_process "$1" "*pop3d* --config-file $2/pop3d.conf*"; }

stop_instance() {
    local dir=$1 pid
    [[ -f "$dir/pop3d.pid" ]] || return 0
    pid=$(cat "$dir/pop3d.pid" 2>/dev/null || true)
    # The master's session children too: they would otherwise live until their client goes
    # away (pop3d does not end them on SIGTERM).
    if is_ours "$pid" "$dir"; then
        stop_pid "mailutils.sh: pop3d" "$pid" "$STOP_TIMEOUT" children
    fi
    rm -f "$dir/pop3d.pid"
}

# Skips (exit 77) unless this machine can run pop3d from PKG: root, the programs, pop3d unpacked
# with all its libraries.
check_requirements() {
    local dir=$1 pkg=$2 problem
    [[ $(id -u) -eq 0 ]] ||
        skip "$dir" "start must run as root (pop3d sets the group 'mail' at startup): run the" \
            "tests as root, e.g. sudo ./scripts/test.sh"
    check_programs "$dir" "${REQUIRED_PROGRAMS[@]}"
    problem=$(pop3_mailutils_pop3d_problem "$pkg")
    [[ -z $problem ]] ||
        skip "$dir" "GNU Mailutils pop3d cannot run from $pkg ($problem). ./scripts/test.sh" \
            "installs its libraries and unpacks it there (run it as root; 'scripts/packages.sh" \
            "install mailutils' and 'scripts/packages.sh mailutils-pop3d' do only that)"
}

# Writes USER's Maildir (DIR/home/USER/INBOX) and, unless --mail-only, the expected
# bytes: DIR/expected/USER.tsv with "<number>\t<LIST octets>\t<path of .eml>" per message,
# the .eml being what RETR delivers once unstuffed and without the X-UIDL header line
# Mailutils inserts at the end of the header: LF -> CRLF, a CRLF added when the message has
# no final newline (not counted in the octets). Files are stored with LF only: Mailutils
# 3.15 loses the whole header and body of a CRLF-stored Maildir message (and of one
# without an empty line after the header), so such files would test Mailutils, not us.
gen_mail() {
    local dir=$1 user=$2 mode=$3
    timeout 60 python3 - "$dir" "$user" "$mode" <<'EOF'
import os, shutil, sys
dir, user, mode = sys.argv[1:4]

def msg(subject, body, extra=b""):
    return (b"From: Sender <sender@example.org>\nTo: " + user.encode() + b"@mu.test\n"
            b"Subject: " + subject + b"\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"
            b"Message-ID: <" + subject.replace(b" ", b"-") + b"@example.org>\n" + extra + b"\n" + body)

if user == "alice":
    long_body = b"".join(b"line %04d of a longer message, some text to fill it up\n" % i for i in range(3000))
    messages = [
        msg(b"plain", b"Hello Alice,\nsecond line\nthird line\n"),
        # Lines starting with '.', and a lone '.' last line: dot-stuffing both ways.
        msg(b"dots", b".\n..\n.x\n...\nnot a dot . line\n."  b"\n"),
        msg(b"eight bit", b"Latin-1: caf\xe9 na\xefve\nUTF-8: Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93\n",
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"),
        msg(b"no final newline", b"first\nlast line without newline"),
        msg(b"empty body", b""),
        # Maildir has no "From " quoting; NUL and a bare CR pass through.
        msg(b"odd bytes", b"From the start of a line\nbare\rCR and a NUL \0 byte\n"),
        msg(b"long", long_body),
    ]
else:
    messages = [msg(b"%s %d" % (user.encode(), i), b"body of message %d\n.dot line\n" % i)
                for i in range(1, {"scratch": 6, "keep": 5}[user] + 1)]

home = os.path.join(dir, "home", user)
inbox = os.path.join(home, "INBOX")
shutil.rmtree(inbox, ignore_errors=True)
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(inbox, sub))
for n, m in enumerate(messages, 1):
    # Mailutils numbers new/ messages in the order of these names.
    name = "17000000%02d.M%dP1.mutest" % (n, n)
    with open(os.path.join(inbox, "tmp", name), "wb") as f:
        f.write(m)
    os.rename(os.path.join(inbox, "tmp", name), os.path.join(inbox, "new", name))
if mode == "mail-only":
    sys.exit(0)

exp = os.path.join(dir, "expected")
shutil.rmtree(os.path.join(exp, user), ignore_errors=True)
os.makedirs(os.path.join(exp, user))
lines = []
for n, m in enumerate(messages, 1):
    octets = len(m) + m.count(b"\n")
    wire = m.replace(b"\n", b"\r\n")
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    path = os.path.join(exp, user, "%d.eml" % n)
    with open(path, "wb") as f:
        f.write(wire)
    lines.append("%d\t%d\t%s\n" % (n, octets, path))
with open(os.path.join(exp, user + ".tsv"), "w") as f:
    f.writelines(lines)
EOF
}

# A free loopback TCP port (bound by pop3d a moment later; start retries on a collision).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    local dir=$1 port=$2
    cat >"$dir/pop3d.conf" <<EOF
# Generated by tests/integration/mailutils.sh - do not edit.
mode daemon;
foreground yes;
max-children 100;
logging { syslog no; };
# Never /etc/hosts.allow and /etc/hosts.deny.
tcp-wrappers { enable no; };
# Users from DIR/passwd/$DOMAIN (login as user@$DOMAIN), checked against its crypt()
# hashes: no PAM, no /etc/passwd or /etc/shadow. The mailbox is the passwd home + /INBOX.
auth {
  authorization virtdomain;
  authentication generic;
};
virtdomain { passwd-dir $dir/passwd; };
# APOP secrets in plain text (a GDBM file made by popauth).
apop-database-file $dir/apop.db;
# Maildir locks go here instead of /var/lock/subsys/mail.
mandatory-locking { enable yes; lock-directory $dir/lock; };
# The session transcript goes to the log (pop3d masks passwords).
server 127.0.0.1:$port { transcript yes; };
EOF
}

write_users() {
    local dir=$1 pkg=$2 u hash
    rm -rf "$dir/passwd" "$dir/apop.db" "$dir/apop.txt"
    mkdir -p "$dir/passwd" "$dir/lock"
    : >"$dir/apop.txt"
    for u in "${USERS[@]}"; do
        # A fixed salt keeps the files identical from run to run. The uid/gid fields are
        # not used for a privilege drop: pop3d keeps root for virtdomain users.
        hash=$(openssl passwd -6 -salt pop3test "secret-$u") || die "openssl passwd failed"
        printf '%s:%s:%s:%s::%s/home/%s:/usr/sbin/nologin\n' \
            "$u" "$hash" "$(id -u)" "$(id -g)" "$dir" "$u" >>"$dir/passwd/$DOMAIN"
        printf '%s@%s secret-%s\n' "$u" "$DOMAIN" "$u" >>"$dir/apop.txt"
    done
    "$pkg/usr/bin/popauth" --create -f "$dir/apop.txt" -o "$dir/apop.db" ||
        die "popauth could not create $dir/apop.db"
    rm -f "$dir/apop.txt"
}

# Waits (bounded) for "+OK ... <timestamp>" on PORT; fails early when PID died.
wait_ready() {
    local port=$1 pid=$2 i line
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        line=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -n 1 <&3 && printf 'QUIT\r\n' >&3" 2>/dev/null || true)
        [[ "$line" == "+OK"* ]] && return 0
        sleep 0.1
    done
    return 1
}

cmd_start() {
    local dir pkg attempt port pid u t0=$EPOCHREALTIME
    mkdir -p "$1"
    dir=$(abs_dir "$1")
    pkg=$(pkg_dir)
    stop_instance "$dir" # idempotent: a previous instance in DIR goes first
    rm -f "$dir/env" "$dir/skipped" "$dir/pop3d.log"
    check_requirements "$dir" "$pkg"
    write_users "$dir" "$pkg"
    for u in "${USERS[@]}"; do
        gen_mail "$dir" "$u" full || die "mailbox generation for $u failed"
    done

    pid=
    for attempt in 1 2 3; do
        port=$(free_port) || die "could not pick a free port"
        write_conf "$dir" "$port"
        # No pipe on its stderr (ctest would wait for it): the log is a file.
        "$pkg/usr/sbin/pop3d" --config-file "$dir/pop3d.conf" </dev/null >>"$dir/pop3d.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/pop3d.pid"
        wait_ready "$port" "$pid" && break
        if [[ $attempt -lt 3 ]] && ! kill -0 "$pid" 2>/dev/null &&
            grep -qi 'address already in use' "$dir/pop3d.log"; then
            echo "mailutils.sh: port collision, retrying" >&2
            continue
        fi
        log_tail "$dir/pop3d.log"
        stop_instance "$dir"
        die "pop3d exited or did not greet on 127.0.0.1:$port within ${START_TIMEOUT}s"
    done
    disown "$pid" 2>/dev/null || true

    cat >"$dir/env.tmp" <<EOF
POP3_MU_HOST=127.0.0.1
POP3_MU_PORT=$port
POP3_MU_DOMAIN=$DOMAIN
POP3_MU_USER=alice@$DOMAIN
POP3_MU_PASSWORD=secret-alice
POP3_MU_EXPECTED=$dir/expected
POP3_MU_DIR=$dir
POP3_MU_PID=$pid
POP3_MU_LOG=$dir/pop3d.log
EOF
    mv -f "$dir/env.tmp" "$dir/env"
    echo "mailutils.sh: started pop3d pid $pid in $dir (port $port) in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')s" >&2
    cat "$dir/env"
}

cmd_status() {
    local dir
    [[ -d "$1" ]] || return 1
    dir=$(abs_dir "$1")
    is_ours "$(cat "$dir/pop3d.pid" 2>/dev/null || true)" "$dir"
}

# Same bytes as at start; the UIDLs change (Mailutils derives them from the time).
# Do it while no session of USER is open.
cmd_reset() {
    local dir user=$3 u ok=0
    for u in "${USERS[@]}"; do [[ "$u" == "$user" ]] && ok=1; done
    [[ $ok -eq 1 ]] || die "unknown user '$user' (known: ${USERS[*]})"
    [[ -d "$2/home" ]] || die "$2 has no home/ (run start first)"
    dir=$(abs_dir "$2")
    gen_mail "$dir" "$user" mail-only || die "mailbox generation for $user failed"
}

[[ $# -ge 1 ]] || usage
case "$1" in
start) [[ $# -eq 2 ]] || usage; cmd_start "$2" ;;
stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
status) [[ $# -eq 2 ]] || usage; cmd_status "$2" ;;
reset) [[ $# -eq 3 ]] || usage; cmd_reset "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
