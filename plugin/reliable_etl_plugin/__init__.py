"""What Airflow's own services load outside any task: installed into the Airflow image, not versioned by the bundle.

- ``plugin``: the Airflow plugin (entry point ``airflow.plugins``): the reliability dashboard,
  a FastAPI app the api-server serves at ``/etl`` (``dashboard``), and its page in the UI.
- ``deadlines``: the Deadline Alert callback the triggerer runs.
- ``recovery``: Airflow's REST API, and getting an in-order catch-up going again on the latest
  bundle version (``etl recover``, the watchdog's repair and the dashboard's Recover).
- ``masking`` and ``grading``: the rules the bundle (``reliable_etl``) and the dashboard share.
- ``launcher``: the ``etl`` command on any Airflow host: the bundle's CLI, from the DAG bundle.

It never imports ``reliable_etl`` (but for ``launcher``, which finds the bundle to run its
command): the api-server and the triggerer do not have the bundle.
The bundle imports the modules above; their names and signatures are kept stable across
releases: `API` grows when one is added, and the bundle checks it on import.
"""

from __future__ import annotations

__version__ = "0.3.0"
API = 1  # the interface the bundle uses: masking, grading, recovery, deadlines
