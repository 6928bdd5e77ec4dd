#!/usr/bin/env bash
# Airflow standalone on 127.0.0.1 with this project's DAGs (LocalExecutor on SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$ROOT/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/airflow-home}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:${AIRFLOW__API__PORT}/execution/"
export WARWATCH_DATA_DIR="${WARWATCH_DATA_DIR:-$ROOT/data}"
echo "Airflow UI: http://127.0.0.1:${AIRFLOW__API__PORT} (admin password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec airflow standalone
