# shellcheck shell=bash
# Shared by the test-server scripts (dovecot.sh, mailutils.sh); sourced, never run. The script
# defines die() first.

# The package list and its helpers: which package provides a missing program.
# shellcheck source-path=SCRIPTDIR source=../../scripts/packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/packages.sh"

# `start`'s exit status when the server cannot run on this machine (root or a part is missing):
# ctest reports the start fixture as skipped (SKIP_RETURN_CODE), and needs_server.sh then skips
# the tests that need the server. Nothing is installed here: ./scripts/test.sh does that first.
SKIP_CODE=77

# skip DIR REASON...: says what is missing and how to get it, leaves the reason in DIR/skipped
# for needs_server.sh, and exits SKIP_CODE. With POP3_SERVERS_REQUIRED set (CI) it fails instead.
skip() {
    local dir=$1
    shift
    printf '%s\n' "$*" 2>/dev/null >"$dir/skipped" || true # (a non-root run in a root's DIR)
    echo "${0##*/}: SKIPPED: $*" >&2
    if [[ -n ${POP3_SERVERS_REQUIRED:-} ]]; then
        echo "${0##*/}: POP3_SERVERS_REQUIRED is set, so this is a failure" >&2
        exit 1
    fi
    exit "$SKIP_CODE"
}

# check_programs DIR PROGRAM...: skips (see skip) when one of them is not installed, naming the
# packages that provide them (scripts/packages.sh).
check_programs() {
    local dir=$1 line pkgs=""
    shift
    local -a missing
    mapfile -t missing < <(pop3_missing_programs "$@")
    [[ ${#missing[@]} -eq 0 ]] && return 0
    for line in "${missing[@]}"; do
        line=${line##*(}
        pkgs+=" ${line%)}"
    done
    skip "$dir" "not installed: ${missing[*]}. ./scripts/test.sh installs what the tests need" \
        "(run it as root); or: sudo apt-get install -y --no-install-recommends$pkgs"
}

# Absolute, validated path of DIR (must already exist). Only a conservative character set is
# allowed: the path ends up unquoted in server configs and env files.
abs_dir() {
    local d
    d=$(cd "$1" && pwd -P) || die "cannot enter $1"
    [[ "$d" =~ ^/[A-Za-z0-9_./+-]+$ ]] || die "DIR must match [A-Za-z0-9_./+-]+ (got '$d')"
    [[ "$d" != / ]] || die "refusing to use / as DIR"
    printf '%s\n' "$d"
}

# True if PID is alive and its command line matches the glob PATTERN (the server started with
# our config, not a recycled PID).
is_process() {
    local pid=$1 pattern=$2 cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    # shellcheck disable=SC2053 # the pattern is a glob on purpose
    [[ "$cmd" == $pattern ]]
}

# Stops server PID: SIGTERM (to its children too when WITH_CHILDREN is "children"), up to
# TIMEOUT seconds, then SIGKILL to it and its children, by PID. NAME is for the message.
stop_pid() {
    local name=$1 pid=$2 timeout=$3 with_children=${4:-} children="" i
    if [[ $with_children == children ]]; then
        children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
    fi
    # shellcheck disable=SC2086 # word splitting of the PID list is intended
    kill -TERM "$pid" $children 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$name $pid still alive after ${timeout}s, sending SIGKILL" >&2
    children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
    # shellcheck disable=SC2086
    kill -KILL "$pid" $children 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# The last lines of a server's log, on stderr, after a failure.
log_tail() {
    if [[ -s "$1" ]]; then
        echo "---- last lines of $1 ----" >&2
        tail -n 30 "$1" >&2
    fi
}

# `stop DIR`: the instance started in DIR (the script's stop_instance), and its env file.
cmd_stop() {
    local dir
    [[ -d "$1" ]] || return 0
    dir=$(abs_dir "$1")
    stop_instance "$dir"
    rm -f "$dir/env" "$dir/skipped"
}
