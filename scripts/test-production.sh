#!/usr/bin/env bash
# make test-production: the production-shape checks (tests/production, marker `production`).
# Installs what they need and is missing (Debian's postgresql and redis-server; the `production`
# extra in .venv), starts the local search node if it is down (scripts/run-tests.sh), runs
#   pytest -m production tests/production
# whose session fixtures start Postgres, Redis and Airflow with Celery workers on 127.0.0.1
# (tests/production/services.py) and stop them; whatever pytest leaves running (killed, crashed)
# is stopped here afterwards, by the pids the run recorded.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

have_pg() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
need=()
have_pg || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing Debian packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || exit 1
fi
# Debian starts the packaged services on their standard ports where it can; the tests use their own
# instances on other ports and need none of those.

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/warwatch-production-XXXXXX")
export WARWATCH_PRODUCTION_RUN_DIR="$RUN_DIR"
cleanup() {
  "$BIN/python" -m tests.production.services cleanup "$RUN_DIR" || true
  [ "${KEEP_PRODUCTION_RUN_DIR:-}" = 1 ] || rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
bash scripts/run-tests.sh -m production tests/production -p no:xdist -p no:cacheprovider --durations=10 "$@"
status=$?
echo "make test-production: $(( $(date +%s) - started )) s (exit $status)"
exit $status
