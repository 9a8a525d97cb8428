"""``etl``: the bundle's command, on any host that has this package, with or without the bundle installed.

It runs ``reliable_etl.cli``: the installed copy when there is one (a checkout's editable install,
the reliable-etl wheel on an operator's host), else the bundle's copy where Airflow serves it: the
DAG bundle named by ``ETL_BUNDLE``, or the first configured one (``[dag_processor]
dag_bundle_config_list``) that holds the package. A git bundle is brought to its tracking ref's
latest commit first, so on an Airflow host the command runs the code later runs will run.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

PACKAGE = "reliable_etl"


def bundle_path() -> Path:
    """The folder of the configured DAG bundle that holds ``reliable_etl`` (its latest version)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    manager = DagBundlesManager()
    wanted = os.environ.get("ETL_BUNDLE", "").strip()
    bundles = [manager.get_bundle(wanted)] if wanted else list(manager.get_all_dag_bundles())
    for bundle in bundles:
        bundle.initialize()  # a local folder as it is; a git bundle's tracking checkout, fetched
        if (Path(bundle.path) / PACKAGE / "__init__.py").is_file():
            return Path(bundle.path)
    names = ", ".join(b.name for b in bundles) or "none"
    raise SystemExit(
        f"etl: no {PACKAGE} package installed, and no DAG bundle holds one (bundles: {names});"
        " set ETL_BUNDLE to the bundle's name, or install the reliable-etl wheel"
    )


def main() -> int:
    try:
        from reliable_etl import cli
    except ModuleNotFoundError as exc:
        if exc.name != PACKAGE:
            raise
        with contextlib.redirect_stdout(sys.stderr):  # Airflow's logs of the search: the command's output stays clean
            path = bundle_path()
        sys.path.insert(0, str(path))  # this process only: a command, not a task
        from reliable_etl import cli

    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
