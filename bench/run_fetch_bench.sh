#!/usr/bin/env bash
# Runs bench_fetch (or bench_latency) against a throw-away Dovecot on 127.0.0.1 (issues 3, 12).
#
#   bench/run_fetch_bench.sh [BENCH_BINARY [ARGS...]]
#
# BENCH_BINARY defaults to build/bench/bench_fetch (relative to the source tree); both
# benchmarks run this script themselves when started without POP3_TEST_ENV. Starts
# Dovecot with tests/integration/dovecot.sh in a fresh temp dir, runs the binary with
# POP3_TEST_ENV=DIR/env, then stops that Dovecot by PID and removes the dir, also on
# failure or SIGINT/SIGTERM. Exit status: the benchmark's (124 on timeout); 77 when the
# prerequisites (root, dovecot) are missing.
#
# Time limits (seconds): POP3_FETCH_BENCH_START_TIMEOUT (default 180) for starting Dovecot,
# POP3_FETCH_BENCH_TIMEOUT (default 600) for the benchmark itself.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
DOVECOT_SH="$ROOT/tests/integration/dovecot.sh"
START_TIMEOUT=${POP3_FETCH_BENCH_START_TIMEOUT:-180}
BENCH_TIMEOUT=${POP3_FETCH_BENCH_TIMEOUT:-600}

BENCH=${1:-$ROOT/build/bench/bench_fetch}
[[ $# -gt 0 ]] && shift

die() { echo "run_fetch_bench.sh: $*" >&2; exit "${2:-1}"; }

[[ -x $BENCH ]] || die "no benchmark binary at $BENCH (build the bench_fetch target)"
[[ $(id -u) -eq 0 ]] || die "needs root (dovecot.sh creates a system user): skipped" 77
command -v dovecot >/dev/null ||
    die "dovecot not found (apt-get install dovecot-core dovecot-pop3d): skipped" 77

# Under /tmp: the pop3test user that owns the Maildirs must be able to reach it.
DIR=$(mktemp -d /tmp/pop3-fetch-bench.XXXXXX)
BENCH_PID=""

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    # Stops only the master recorded in DIR/run/master.pid (checked to be ours), by PID.
    timeout 30 bash "$DOVECOT_SH" stop "$DIR" >/dev/null 2>&1 ||
        echo "run_fetch_bench.sh: warning: stopping the Dovecot in $DIR failed" >&2
    rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "run_fetch_bench.sh: starting Dovecot in $DIR"
timeout "$START_TIMEOUT" bash "$DOVECOT_SH" start "$DIR" >/dev/null ||
    die "dovecot.sh start failed (see above)"

# In the background, so that a signal reaches the trap at once rather than after the
# benchmark has ended.
POP3_TEST_ENV="$DIR/env" timeout --kill-after=10 "$BENCH_TIMEOUT" "$BENCH" "$@" &
BENCH_PID=$!
rc=0
wait "$BENCH_PID" || rc=$?
BENCH_PID=""
[[ $rc -ne 124 ]] || echo "run_fetch_bench.sh: the benchmark timed out after ${BENCH_TIMEOUT}s" >&2
exit "$rc"
