"""The Airflow plugin: the reliability dashboard's API at ``/etl`` and its page in the UI's navigation.

Registered through the ``airflow.plugins`` entry point of this package, so every Airflow process
that has the package installed loads it, none of them needing the bundle. Thin on purpose:
importing this module builds nothing (each task process loads plugins too), except in the
api-server, which serves the app (its first page then loads as fast as the next ones).
"""

from __future__ import annotations

import sys

from airflow.plugins_manager import AirflowPlugin

from reliable_etl_plugin import dashboard

if sys.argv[1:2] == ["api-server"]:
    dashboard.app.build()


class ReliableEtlPlugin(AirflowPlugin):
    name = "reliable_etl"
    fastapi_apps = [  # noqa: RUF012 - the plugin manager reads class attributes
        {"app": dashboard.app, "url_prefix": dashboard.URL_PREFIX, "name": "ETL reliability dashboard"}
    ]
    external_views = [dashboard.external_view()]  # noqa: RUF012
