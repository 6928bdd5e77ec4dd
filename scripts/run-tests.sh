#!/usr/bin/env bash
# Start the local search node the tests need, run pytest, stop the node again if we started it.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${TEST_PORT:-9200}"
export WARWATCH_ES_URL="${WARWATCH_ES_URL:-http://127.0.0.1:${PORT}}"

started=0
if ! "$BIN/warwatch" local-es status --port "$PORT" >/dev/null 2>&1; then
  echo "starting the local search node on 127.0.0.1:${PORT} for the tests"
  if ! "$BIN/warwatch" local-es start --port "$PORT"; then
    echo "error: could not start the local search node" >&2
    [ "${CI:-}" = "true" ] && exit 1
  else
    started=1
  fi
fi

"$BIN/python" -m pytest "$@"
status=$?

if [ "$started" = 1 ]; then
  "$BIN/warwatch" local-es stop --port "$PORT" >/dev/null 2>&1 || true
fi
# pytest exits 5 when it collected no test: that is a failure for us.
exit $status
