"""``etl-dev``: the bench's commands (the embedded warehouse, the sample, the fake APIs, the local Airflow)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from reliable_etl_dev import SAMPLE_CSV


def cmd_warehouse(args: argparse.Namespace) -> int:
    from reliable_etl_dev import warehouse

    if args.action == "start":
        print(warehouse.start())
    elif args.action == "stop":
        print("stopped" if warehouse.stop() else "not running")
    else:
        from airflow.sdk import BaseHook

        from reliable_etl import db

        conn = BaseHook.get_connection(db.ensure_warehouse())
        print(f"{conn.conn_type}://{conn.login or ''}@{conn.host or ''}:{conn.port or ''}/{conn.schema or ''}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from reliable_etl_dev.sample import write_sample

    rows = write_sample(Path(args.out), args.start, args.days)
    print(f"wrote {rows} rows to {args.out}")
    return 0


def _sized(item: str) -> tuple[str, int]:
    name, _, count = item.partition(":")
    return name, int(count or 100)


def cmd_fake_server(args: argparse.Namespace) -> int:
    from reliable_etl_dev.fakes import serve

    serve(
        port=args.port,
        latency=args.latency_ms / 1000,
        repos=dict(_sized(item) for item in args.repos.split(",") if item.strip()),
        projects=dict(_sized(item) for item in args.projects.split(",") if item.strip()),
        jira_mode=args.jira_mode,
        github_schema_path=args.github_schema,
    )
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run ``airflow ARGS`` against the local stack (the instance `make up` runs)."""
    from reliable_etl_dev import local_stack
    from reliable_etl_dev.airflow_local import AIRFLOW_BIN

    airflow = local_stack.local_airflow()
    if not (airflow.home / "airflow.cfg").exists():
        print(f"etl-dev: no local Airflow in {airflow.home} yet: start it once with `make up`", file=sys.stderr)
        return 2
    argv = [str(AIRFLOW_BIN), *args.airflow_args]
    os.execve(argv[0], argv, airflow.environ())  # noqa: S606 - the venv's own airflow, our arguments
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl-dev", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("warehouse", help="the embedded default warehouse (.etl/pgdata)")
    p.add_argument("action", choices=["start", "stop", "uri"])
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("sample", help="write the generated sample export (byte for byte the shipped one)")
    p.add_argument("--out", default=str(SAMPLE_CSV))
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2011, 1, 24))
    p.add_argument("--days", type=int, default=14)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("fake-server", help="a local fake Jira + GitHub to try the syncs without credentials")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--repos", default="acme/api:250,acme/web:120", help="OWNER/NAME:COUNT,...")
    p.add_argument("--projects", default="ENG:400,OPS:150", help="KEY:COUNT,...")
    p.add_argument("--jira-mode", choices=["cloud", "server"], default="cloud")
    p.add_argument("--github-schema", help="validate queries against this GitHub schema (SDL) too")
    p.set_defaults(func=cmd_fake_server)

    p = sub.add_parser(
        "airflow", help="`airflow ARGS` against the local stack `make up` runs (its AIRFLOW_HOME)", add_help=False
    )
    p.add_argument("airflow_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    from reliable_etl_dev import dev_home

    os.environ.setdefault("ETL_HOME", str(dev_home()))  # the checkout's .etl, as under make
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
