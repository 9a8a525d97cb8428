#!/usr/bin/env bash
# Install the bundle's Airflow stack as systemd units (no Docker): api-server, scheduler,
# dag-processor, triggerer, N Celery workers (etl-airflow-worker@1..N), the init job, one target.
#
#   sudo deploy/systemd/install.sh [--user airflow] [--workers 2] [--env-file /etc/etl/airflow.env]
#                                  [--project DIR] [--venv DIR] [--unit-dir /etc/systemd/system]
#                                  [--no-start] [--render-only]
#
# Needs the project's venv (`make setup`), a PostgreSQL for Airflow's metadata and the warehouse,
# and a Redis; their addresses and passwords go in the env file. A missing env file is created
# from airflow.env.example (mode 600, fresh fernet key and JWT secret), and the script stops so
# that you fill it in. --render-only writes the units to --unit-dir and touches nothing else
# (what the tests check with `systemd-analyze verify`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "${here}/../.." && pwd)"
venv=""
user="$(stat -c %U "${project}")"
workers=2
env_file=/etc/etl/airflow.env
unit_dir=/etc/systemd/system
start=1
render_only=0

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --user) user="$2"; shift 2 ;;
        --workers) workers="$2"; shift 2 ;;
        --env-file) env_file="$2"; shift 2 ;;
        --project) project="$(cd "$2" && pwd)"; shift 2 ;;
        --venv) venv="$2"; shift 2 ;;
        --unit-dir) unit_dir="$2"; shift 2 ;;
        --no-start) start=0; shift ;;
        --render-only) render_only=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
venv="${venv:-${project}/.venv}"
group="$(id -gn "${user}")"
[[ "${workers}" =~ ^[0-9]+$ ]] || { echo "install.sh: --workers takes a number, not ${workers}" >&2; exit 2; }

if [[ ! -x "${venv}/bin/airflow" ]]; then
    echo "install.sh: no Airflow in ${venv}: run \`make setup\` in ${project} first (or give --venv)" >&2
    exit 1
fi

render() {  # template -> stdout, the @...@ placeholders filled in
    sed -e "s|@PROJECT_DIR@|${project}|g" -e "s|@VENV@|${venv}|g" -e "s|@USER@|${user}|g" \
        -e "s|@GROUP@|${group}|g" -e "s|@ENV_FILE@|${env_file}|g" "$1"
}

mkdir -p "${unit_dir}"
units=()
for template in "${here}"/*.service "${here}"/*.target; do
    name="$(basename "${template}")"
    render "${template}" > "${unit_dir}/${name}"
    chmod 644 "${unit_dir}/${name}"
    units+=("${name}")
done
echo "units written to ${unit_dir}: ${units[*]}"
if [[ "${render_only}" == 1 ]]; then
    exit 0
fi

if [[ ! -f "${env_file}" ]]; then
    install -d -m 750 "$(dirname "${env_file}")"
    secret() { "${venv}/bin/python" -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"; }
    render "${here}/airflow.env.example" \
        | sed -e "s|^AIRFLOW__CORE__FERNET_KEY=$|AIRFLOW__CORE__FERNET_KEY=$(secret)|" \
              -e "s|^AIRFLOW__API_AUTH__JWT_SECRET=$|AIRFLOW__API_AUTH__JWT_SECRET=$(secret)|" \
        > "${env_file}"
    chmod 600 "${env_file}"
    chown "root:${group}" "${env_file}" 2>/dev/null || true
    echo "created ${env_file}: fill in its passwords and hosts, then run this script again" >&2
    exit 1
fi

if command -v systemd-analyze > /dev/null; then
    systemd-analyze verify "${units[@]/#/${unit_dir}/}" "${unit_dir}/etl-airflow-worker@1.service"
fi
if [[ ! -d /run/systemd/system ]]; then
    echo "install.sh: systemd is not running here (not PID 1): units written, nothing enabled" >&2
    exit 1
fi
systemctl daemon-reload
instances=()
for n in $(seq 1 "${workers}"); do instances+=("etl-airflow-worker@${n}.service"); done
systemctl enable etl-airflow.target etl-airflow-init.service etl-airflow-api-server.service \
    etl-airflow-scheduler.service etl-airflow-dag-processor.service etl-airflow-triggerer.service "${instances[@]}"
if [[ "${start}" == 1 ]]; then
    systemctl start etl-airflow.target "${instances[@]}"
    echo "started: systemctl status 'etl-airflow-*'; logs: journalctl -u 'etl-airflow-*' -f;" \
        "state: ${venv}/bin/etl status"
fi
