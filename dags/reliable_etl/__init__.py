"""The reliable ETL bundle's package: everything its tasks run, and the ``etl`` command.

Versioned with the bundle: under a ``GitDagBundle`` each run imports the copy of the commit it
started with, SQL and other files included (``config.resource``). It builds on the installed
``reliable_etl_plugin`` (masking, health grades, recovery, Deadline callbacks), which Airflow's
services load without any bundle; see docs/deployment.md.
"""

from __future__ import annotations

PLUGIN_API = 1  # the reliable_etl_plugin.API this version of the bundle needs

try:
    import reliable_etl_plugin
except ModuleNotFoundError as exc:
    if exc.name != "reliable_etl_plugin":
        raise
    raise ImportError(
        "the bundle needs the package reliable-etl-plugin installed where Airflow runs"
        " (pip install ./plugin, or the project's image): see docs/deployment.md"
    ) from None
if reliable_etl_plugin.API < PLUGIN_API:
    raise ImportError(
        f"this bundle version needs reliable-etl-plugin with API {PLUGIN_API} or later; the installed"
        f" {reliable_etl_plugin.__version__} has API {reliable_etl_plugin.API}: upgrade the Airflow image"
    )
