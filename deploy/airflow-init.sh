#!/usr/bin/env bash
# The deployment's init job: docker compose's `airflow-init` and systemd's etl-airflow-init.service.
# Idempotent (run it again after every upgrade):
#   1. Airflow's metadata schema (`airflow db migrate`, the FAB auth manager's tables included)
#   2. the FAB admin (AIRFLOW_ADMIN_*) and the bundle's API user (AIRFLOW_API_*, role Op: the
#      watchdog, `etl recover` and `etl backfill` act through the REST API as this user)
#   3. the per-service API pools (the bundle's pools.json, `etl pools`)
#   4. the warehouse schemas (`etl init`)
# Every setting comes from the environment (.env, or the systemd EnvironmentFile). `etl` is the
# installed plugin's command: it runs the bundle's code from the DAG bundle Airflow is configured with.
set -euo pipefail

: "${AIRFLOW_ADMIN_USERNAME:?set AIRFLOW_ADMIN_USERNAME}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD}"
: "${AIRFLOW_API_USERNAME:?set AIRFLOW_API_USERNAME}"
: "${AIRFLOW_API_PASSWORD:?set AIRFLOW_API_PASSWORD}"

echo "== airflow db migrate"
airflow db migrate
echo "== users: ${AIRFLOW_ADMIN_USERNAME} (Admin), ${AIRFLOW_API_USERNAME} (Op)"
airflow users create --role Admin --username "${AIRFLOW_ADMIN_USERNAME}" --password "${AIRFLOW_ADMIN_PASSWORD}" \
    --email "${AIRFLOW_ADMIN_EMAIL:-admin@example.com}" --firstname Airflow --lastname Admin
airflow users create --role Op --username "${AIRFLOW_API_USERNAME}" --password "${AIRFLOW_API_PASSWORD}" \
    --email "${AIRFLOW_API_EMAIL:-etl-service@example.com}" --firstname ETL --lastname Service
echo "== pools"
airflow pools import "$(etl pools)"
echo "== warehouse schemas"
etl init
echo "== init done"
