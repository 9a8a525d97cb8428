"""The development bench of the reliable ETL bundle: never shipped, never imported by the bundle.

Fakes of the Jira and GitHub APIs (`fakes`), a real local Airflow (`airflow_local`, `local_stack`),
throwaway and breakable PostgreSQL servers (`scratch`, `warehouse`), a headless browser
(`browser`), the sample export and its generator (`sample`), test helpers (`testing`) and the
``etl-dev`` command. Installed by ``make setup`` from ``dev/pyproject.toml``; the shipped
packages are ``reliable_etl`` (the bundle) and ``reliable_etl_plugin`` (what Airflow's services load).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout (the bench is installed editable from it)
SAMPLE_CSV = Path(__file__).resolve().parent / "data" / "online_retail_sample.csv"
SAMPLE_DAYS = ("2011-01-24", "2011-02-06")  # the days the sample covers


def dev_home() -> Path:
    """The bench's state: ``ETL_HOME`` when set (the Makefile sets it), else ``.etl`` in the checkout."""
    return Path(os.environ.get("ETL_HOME") or ROOT / ".etl").resolve()
