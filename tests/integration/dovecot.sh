#!/usr/bin/env bash
# Start/stop a throw-away Dovecot POP3 server on 127.0.0.1 for integration tests.
#
#   dovecot.sh start DIR        generate certs, mailboxes, config; start; write DIR/env
#   dovecot.sh stop DIR         stop the instance started in DIR (by PID, bounded)
#   dovecot.sh reset DIR USER   regenerate USER's Maildir (same bytes, same UIDs)
#   dovecot.sh status DIR       exit 0 if the instance in DIR is running
#
# Needs root (creates the system user "pop3test" that owns the Maildirs, and
# Dovecot drops privileges to it). See README.md in this directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MAILGEN="$HERE/mailgen.py"
SYSUSER=${POP3_TEST_SYSUSER:-pop3test}
USERS=(alice empty big many bench scratch keep)
START_TIMEOUT=10     # seconds to wait for the greetings
STOP_TIMEOUT=5       # seconds to wait after SIGTERM before SIGKILL

die() { echo "dovecot.sh: $*" >&2; exit 1; }

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Absolute, validated path of DIR (must already exist). Only a conservative
# character set is allowed: the path ends up unquoted in dovecot.conf and env.
abs_dir() {
    local d
    d=$(cd "$1" && pwd -P) || die "cannot enter $1"
    [[ "$d" =~ ^/[A-Za-z0-9_./+-]+$ ]] || die "DIR must match [A-Za-z0-9_./+-]+ (got '$d')"
    [[ "$d" != / ]] || die "refusing to use / as DIR"
    printf '%s\n' "$d"
}

# True if PID is alive and is the Dovecot master started with DIR/dovecot.conf
# (guards against a recycled PID).
is_our_master() {
    local pid=$1 dir=$2 cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmd" == *dovecot*" -c $dir/dovecot.conf"* ]]
}

stop_instance() {
    local dir=$1 pidfile pid i children
    pidfile="$dir/run/master.pid"
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if ! is_our_master "$pid" "$dir"; then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "dovecot.sh: master $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL" >&2
        # Children of this master only, by PID.
        children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
        # shellcheck disable=SC2086 # word splitting of the PID list is intended
        kill -KILL "$pid" $children 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$pidfile"
}

log_tail() {
    local dir=$1
    if [[ -s "$dir/dovecot.log" ]]; then
        echo "---- last lines of $dir/dovecot.log ----" >&2
        tail -n 30 "$dir/dovecot.log" >&2
    fi
}

ensure_sysuser() {
    if ! getent passwd "$SYSUSER" >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$SYSUSER" 2>/dev/null ||
            getent passwd "$SYSUSER" >/dev/null ||  # lost a race with a parallel start
            die "could not create system user $SYSUSER"
    fi
}

gen_certs() {
    local dir=$1
    rm -f "$dir"/ca.pem "$dir"/ca.key "$dir"/server.pem "$dir"/server.key "$dir"/server.csr "$dir"/server.ext
    (
        umask 077
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=pop3 integration test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null
        cat >"$dir/server.ext" <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$dir/server.ext" \
            -out "$dir/server.pem" 2>/dev/null
    ) || die "certificate generation with openssl failed"
    chmod 644 "$dir/ca.pem" "$dir/server.pem"
    rm -f "$dir/server.csr" "$dir/server.ext"
}

# Prints three distinct free loopback TCP ports.
free_ports() {
    python3 - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

write_conf() {
    local dir=$1 uid=$2 port=$3 tls_port=$4 nostls_port=$5 name dh=""
    name="pop3test-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
    [[ -r /usr/share/dovecot/dh.pem ]] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
    cat >"$dir/dovecot.conf" <<EOF
# Generated by tests/integration/dovecot.sh - do not edit.
instance_name = $name
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = pop3
# 127.0.0.2 is loopback too but not in the certificate: tests of host name checks use it.
listen = 127.0.0.1, 127.0.0.2

ssl = yes
ssl_cert = <$dir/server.pem
ssl_key = <$dir/server.key
$dh

disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 apop
auth_failure_delay = 0
auth_verbose = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/passwd
}
first_valid_uid = $uid

mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
pop3_no_flag_updates = yes
pop3_uidl_format = %08Xu%08Xv

# Room for parallel tests: one login process serves many connections, and
# up to 1000 POP3 sessions may run at once.
service pop3-login {
  service_count = 0
  process_min_avail = 1
  inet_listener pop3 {
    port = $port
  }
  inet_listener pop3s {
    port = $tls_port
    ssl = yes
  }
}
# Dovecot has no per-listener switch for STLS; a second login service whose
# process runs with ssl=no gives a plain port that does not offer STLS.
service pop3-login-nostls {
  type = login
  protocol = pop3
  executable = pop3-login -o ssl=no
  user = \$default_login_user
  service_count = 0
  process_min_avail = 1
  inet_listener pop3-nostls {
    port = $nostls_port
  }
}
service pop3 {
  process_limit = 1000
}
EOF
}

# Waits (bounded) until both plain ports greet with +OK and the TLS port
# completes a verified handshake and greets.
wait_ready() {
    local dir=$1 port=$2 tls_port=$3 nostls_port=$4
    python3 - "$port" "$tls_port" "$nostls_port" "$dir/ca.pem" "$START_TIMEOUT" <<'EOF'
import socket, ssl, sys, time
port, tls_port, nostls_port = (int(x) for x in sys.argv[1:4])
ca, timeout = sys.argv[4], float(sys.argv[5])
deadline = time.monotonic() + timeout
ctx = ssl.create_default_context(cafile=ca)

def greet(p, tls):
    s = socket.create_connection(("127.0.0.1", p), timeout=1)
    try:
        if tls:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        s.settimeout(2)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"+OK"):
            s.sendall(b"QUIT\r\n")
            return True, data
        return False, data
    finally:
        s.close()

pending = [(port, False), (nostls_port, False), (tls_port, True)]
last = None
while pending:
    p, tls = pending[0]
    try:
        ok, last = greet(p, tls)
    except OSError as e:
        ok, last = False, e
    if ok:
        pending.pop(0)
        continue
    if time.monotonic() > deadline:
        sys.stderr.write("dovecot.sh: no +OK greeting on port %d%s within %ss: %r\n"
                         % (p, " (TLS)" if tls else "", timeout, last))
        sys.exit(1)
    time.sleep(0.05)
EOF
}

cmd_start() {
    local dir uid gid attempt ports port tls_port nostls_port out pid t0 u i
    t0=$EPOCHREALTIME
    [[ $(id -u) -eq 0 ]] || die "start must run as root (needs a system user and privilege drop)"
    for tool in dovecot openssl python3 timeout; do
        command -v "$tool" >/dev/null || die "$tool not found in PATH"
    done
    mkdir -p "$1"
    dir=$(abs_dir "$1")

    stop_instance "$dir"   # idempotent: a previous instance in DIR goes first

    ensure_sysuser
    uid=$(id -u "$SYSUSER")
    gid=$(id -g "$SYSUSER")

    # Dovecot's login (dovenull) and mail ($SYSUSER) processes must reach
    # DIR/run and DIR/home/<user>.
    chmod 755 "$dir"
    if command -v setpriv >/dev/null &&
        ! setpriv --reuid="$uid" --regid="$gid" --clear-groups test -x "$dir"; then
        die "$dir is not reachable by user $SYSUSER (a parent directory is not world-executable); use e.g. a directory made by mktemp -d under /tmp"
    fi

    rm -f "$dir/dovecot.log" "$dir/env"
    gen_certs "$dir"

    timeout 120 python3 "$MAILGEN" --home-root "$dir/home" --expected "$dir/expected" \
        --uid "$uid" --gid "$gid" || die "mailbox generation failed"
    chmod 755 "$dir/home"

    : >"$dir/passwd.tmp"
    for u in "${USERS[@]}"; do
        printf '%s:{PLAIN}secret-%s:%s:%s::%s/home/%s::\n' "$u" "$u" "$uid" "$gid" "$dir" "$u" >>"$dir/passwd.tmp"
    done
    if getent group dovecot >/dev/null; then
        chown root:dovecot "$dir/passwd.tmp"
        chmod 640 "$dir/passwd.tmp"
    else
        chmod 644 "$dir/passwd.tmp"
    fi
    mv -f "$dir/passwd.tmp" "$dir/passwd"

    # Free ports are picked, then bound by Dovecot: retry if another process
    # grabbed one in between.
    for attempt in 1 2 3; do
        ports=$(free_ports) || die "could not pick free ports"
        read -r port tls_port nostls_port <<<"$ports"
        write_conf "$dir" "$uid" "$port" "$tls_port" "$nostls_port"
        rm -rf "$dir/run"
        # Never let the daemon inherit a pipe: the master keeps its original
        # stderr open for its whole life, so $(dovecot ...) or `| tee` would
        # hang until it exits. Send it to a file instead.
        if timeout 20 dovecot -c "$dir/dovecot.conf" </dev/null >"$dir/dovecot.stderr" 2>&1; then
            break
        fi
        out=$(cat "$dir/dovecot.stderr")
        if [[ $attempt -lt 3 ]] && grep -qi 'address already in use' <<<"$out$(cat "$dir/dovecot.log" 2>/dev/null)"; then
            echo "dovecot.sh: port collision, retrying" >&2
            continue
        fi
        echo "$out" >&2
        log_tail "$dir"
        die "dovecot failed to start"
    done

    # master.pid is written right after the master daemonizes.
    pid=
    for ((i = 0; i < 50; i++)); do
        pid=$(cat "$dir/run/master.pid" 2>/dev/null || true)
        [[ -n "$pid" ]] && break
        sleep 0.1
    done
    if [[ -z "$pid" ]] || ! is_our_master "$pid" "$dir"; then
        log_tail "$dir"
        die "dovecot master is not running (no live PID in $dir/run/master.pid)"
    fi

    if ! wait_ready "$dir" "$port" "$tls_port" "$nostls_port"; then
        log_tail "$dir"
        stop_instance "$dir"
        die "dovecot did not become ready"
    fi

    cat >"$dir/env.tmp" <<EOF
POP3_TEST_HOST=127.0.0.1
POP3_TEST_PORT=$port
POP3_TEST_TLS_PORT=$tls_port
POP3_TEST_NOSTLS_PORT=$nostls_port
POP3_TEST_CA=$dir/ca.pem
POP3_TEST_EXPECTED=$dir/expected
POP3_TEST_DIR=$dir
POP3_TEST_DOVECOT_PID=$pid
POP3_TEST_LOG=$dir/dovecot.log
EOF
    mv -f "$dir/env.tmp" "$dir/env"
    echo "dovecot.sh: started pid $pid in $dir (pop3 $port, pop3s $tls_port, pop3 without STLS $nostls_port) in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')s" >&2
    cat "$dir/env"
}

cmd_stop() {
    local dir
    [[ -d "$1" ]] || return 0
    dir=$(abs_dir "$1")
    stop_instance "$dir"
    rm -f "$dir/env"
}

cmd_status() {
    local dir
    [[ -d "$1" ]] || return 1
    dir=$(abs_dir "$1")
    is_our_master "$(cat "$dir/run/master.pid" 2>/dev/null || true)" "$dir"
}

cmd_reset() {
    local dir=$2 user=$3 uid gid u ok=0
    for u in "${USERS[@]}"; do [[ "$u" == "$user" ]] && ok=1; done
    [[ $ok -eq 1 ]] || die "unknown user '$user' (known: ${USERS[*]})"
    [[ -d "$dir/home" ]] || die "$dir has no home/ (run start first)"
    dir=$(abs_dir "$dir")
    uid=$(id -u "$SYSUSER")
    gid=$(id -g "$SYSUSER")
    if [[ -s "$dir/expected/$user.tsv" ]] || [[ "$user" == empty && -f "$dir/expected/empty.tsv" ]]; then
        timeout 120 python3 "$MAILGEN" --home-root "$dir/home" --mail-only \
            --uid "$uid" --gid "$gid" "$user" || die "mailbox generation failed"
    else
        timeout 120 python3 "$MAILGEN" --home-root "$dir/home" --expected "$dir/expected" \
            --uid "$uid" --gid "$gid" "$user" || die "mailbox generation failed"
    fi
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
