# The image of docker-compose.yaml: Airflow 3.3.2, the bundle's locked runtime dependencies and
# its Airflow plugin package (reliable_etl_plugin: the dashboard the api-server serves, the
# Deadline callback the triggerer runs, the `etl` command). The bundle itself (dags/) is not in
# the image: compose mounts it, a GitDagBundle fetches it. A change of requirements.txt,
# constraints.txt or plugin/ needs a rebuild (`docker compose build`); a change of dags/ does not.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/
COPY --chown=airflow:0 plugin /opt/airflow/plugin-src
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt -c /opt/airflow/constraints.txt /opt/airflow/plugin-src
