"""The reliability dashboard in the Airflow UI: the bundle's API at /etl and its page in the navigation.

Thin on purpose: the app is ``reliable_etl.dashboard`` (in the DAGs folder). Every Airflow process loads
this folder, each task included, so importing this file builds nothing, except in the api-server,
which serves the app (its first page then loads as fast as the next ones).
"""

from __future__ import annotations

import sys

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

try:
    import reliable_etl.dashboard
except ModuleNotFoundError as exc:  # the api-server has no DAGs folder on sys.path (DAG parsing does)
    if exc.name != "reliable_etl":
        raise
    sys.path.append(conf.get("core", "dags_folder"))
    import reliable_etl.dashboard

if sys.argv[1:2] == ["api-server"]:
    reliable_etl.dashboard.app.build()


class EtlDashboardPlugin(AirflowPlugin):
    name = "etl_dashboard"
    fastapi_apps = [  # noqa: RUF012 - the plugin manager reads class attributes
        {
            "app": reliable_etl.dashboard.app,
            "url_prefix": reliable_etl.dashboard.URL_PREFIX,
            "name": "ETL reliability dashboard",
        }
    ]
    external_views = [reliable_etl.dashboard.external_view()]  # noqa: RUF012
