# The image of docker-compose.yaml: Airflow 3.3.2 with the bundle's locked dependencies.
# The bundle itself (dags/, plugins/, include/, deploy/) is mounted, not copied: a DAG change
# needs no rebuild; a change of requirements.txt or constraints.txt does (`docker compose build`).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt -c /opt/airflow/constraints.txt
