#!/usr/bin/env bash
# Runs a test that needs a test server (a ctest fixture started by dovecot.sh or mailutils.sh):
#
#   needs_server.sh DIR COMMAND [ARG...]
#
# DIR/env exists (the server runs): runs COMMAND. DIR/skipped exists (start found root or a
# part of the server missing, and said so): prints "pop3 test skipped: <why>", which the
# test's SKIP_REGULAR_EXPRESSION turns into a ctest skip, and exits 1, so that a run without
# that property fails rather than passes. Neither: the start fixture failed; exits 1.
# A message is matched rather than an exit code: a Catch2 run may exit with any small number.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 DIR COMMAND [ARG...]" >&2; exit 2; }
dir=$1
shift
if [[ -f $dir/env ]]; then
    exec "$@"
fi
if [[ -f $dir/skipped ]]; then
    echo "pop3 test skipped: $(cat "$dir/skipped")"
    exit 1
fi
echo "needs_server.sh: no $dir/env: the server's start fixture failed or did not run" >&2
exit 1
