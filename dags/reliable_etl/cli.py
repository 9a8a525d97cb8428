"""The ``etl`` command: every subcommand calls the same functions the DAG tasks call."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
import traceback
from pathlib import Path

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.sync.errors import SyncError

# Exit codes: 0 done, 1 failed, 2 bad input or configuration (fix it first),
# 75 (EX_TEMPFAIL) a service is unavailable or busy right now: the same command later resumes.
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TRY_LATER = 1, 2, 75


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _cli_run_id(suffix: str = "") -> str:
    """A run id of its own for every invocation (microseconds: two commands in one second differ)."""
    return f"cli__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}" + (f"__{suffix}" if suffix else "")


def cmd_init(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema

    for script in init_schema():
        print(f"applied {script}")
    return 0


def cmd_pools(args: argparse.Namespace) -> int:
    from reliable_etl.config import resource

    print(resource("pools.json"))
    return 0


def cmd_retail_split(args: argparse.Namespace) -> int:
    from reliable_etl.retail.landing import split_export

    result = split_export(
        Path(args.source), Path(args.landing), progress=lambda n: print(f"  read {n:,} rows", flush=True)
    )
    print(
        f"split {result.rows:,} rows into {result.files} daily files "
        f"({result.first_day} .. {result.last_day}) in {args.landing}"
    )
    return 0


def cmd_retail_run(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl.retail.gold import gold_for_day
    from reliable_etl.retail.load import load_day, restated_days, stale_days

    init_schema()
    landing = Path(args.landing) if args.landing else None
    if args.stale:
        chosen = stale_days()
        print(f"{len(chosen)} day(s) loaded with other rules than the current ones", flush=True)
    elif args.restated:
        restated = restated_days(landing)
        chosen = [r.day for r in restated]
        print(f"{len(chosen)} day(s) delivered again with other bytes since they were loaded", flush=True)
        for r in restated:
            print(f"  {r}", flush=True)
    elif args.from_date is None or args.to_date is None:
        raise BadInputError("give --from and --to (the days to run), --stale or --restated")
    elif args.to_date < args.from_date:
        raise BadInputError(f"--to {args.to_date} is before --from {args.from_date}")
    else:
        chosen = [args.from_date + dt.timedelta(days=n) for n in range((args.to_date - args.from_date).days + 1)]
    days = len(chosen)
    started = time.monotonic()
    for n, day in enumerate(chosen):
        run_id = _cli_run_id(day.isoformat())
        result = load_day(day, run_id=run_id, landing_dir=landing, threshold=args.reject_threshold)
        args.committed.append(f"day {day}")
        gold = gold_for_day(day, run_id=run_id)
        gold_note = f", gold {gold.month_key} {gold.action}" if gold else ""
        print(
            f"[{n + 1}/{days}] {day}: {result.rows_in:>6} rows, {result.accepted:>6} accepted, "
            f"{result.rejected:>4} rejected{' (file unchanged)' if result.bronze_skipped else ''}{gold_note}",
            flush=True,
        )
    print(f"processed {days} days in {time.monotonic() - started:.1f}s")
    return 0


def cmd_retail_gold(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl.retail.gold import rebuild_gold

    init_schema()
    results = rebuild_gold(
        args.year,
        args.month,
        run_id=_cli_run_id("gold"),
        reset=args.reset,
        dry_run=args.dry_run,
        on_month=lambda r: args.committed.append(f"gold {r.month_key}") if r.action == "computed" else None,
    )
    for r in results:
        action = f"{r.action} ({r.reason})" if r.reason else r.action
        print(f"{r.month_key}: {action:<30} {r.input_rows:>8,} input rows {r.rows_written:>7,} rows written")
    if not results:
        print("every month is up to date")
    return 0


def cmd_retail_summary(args: argparse.Namespace) -> int:
    from reliable_etl.retail.report import format_summary, summary

    data = summary()
    print(json.dumps(data, default=str, indent=2) if args.json else format_summary(data))
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from reliable_etl_plugin.recovery import AirflowApi, recover

    keep = args.keep_version or settings().recover_keep_version
    report = recover(args.dag_id, airflow=AirflowApi.from_connection(), dry_run=args.dry_run, latest_version=not keep)
    print(report)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from reliable_etl_plugin.recovery import AirflowApi, backfill_days

    if args.to_date < args.from_date:
        raise BadInputError(f"--to {args.to_date} is before --from {args.from_date}")
    report = backfill_days(
        AirflowApi.from_connection(),
        args.dag_id,
        args.from_date,
        args.to_date,
        reprocess=args.reprocess_behavior,
        max_active_runs=args.max_active_runs,
        dry_run=args.dry_run,
    )
    print(report)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from reliable_etl.maintenance.services import logger
    from reliable_etl.maintenance.tasks import ensure_schema
    from reliable_etl.maintenance.watchdog import watchdog

    ensure_schema(logger("watchdog", None))
    report = watchdog(
        run_id=_cli_run_id("health"),
        repair=args.repair,
        airflow=False if args.no_airflow else None,
        pipelines=tuple(args.pipeline) if args.pipeline else None,
    )
    print(json.dumps(report.as_dict(), default=str, indent=2))
    if report.status in {"unhealthy", "error"}:
        return EXIT_FAILED
    return 0 if report.warehouse_available else EXIT_TRY_LATER


def cmd_status(args: argparse.Namespace) -> int:
    from reliable_etl.status import stack_status, to_json

    status = stack_status()
    print(to_json(status) if args.json else status.render())
    return 0 if status.ok else EXIT_FAILED


def cmd_backup(args: argparse.Namespace) -> int:
    from reliable_etl.maintenance import backup

    if args.backup_command == "list":
        found = backup.list_backups(Path(args.dir) if args.dir else None)
        for b in found:
            print(
                f"{b['directory']}  {b['created_at'][:19]}  {','.join(b['schemas'])}  {b['tables']} tables"
                f"  {b['rows']:,} rows  {b['size_bytes'] / 2**20:.1f} MB  PostgreSQL {b['server_version']}"
            )
        if not found:
            print(f"no backup in {args.dir or settings().backup_dir}")
        return 0
    if args.backup_command == "verify":
        problems = backup.verify_backup(Path(args.directory))
        print("\n".join(problems) if problems else f"{args.directory}: verified")
        return EXIT_FAILED if problems else 0
    result = backup.restore_backup(Path(args.directory), args.into)
    for table, rows in result.tables.items():
        print(f"  {table:<44} {rows:>10,} rows")
    print(f"restored {args.directory} into {result.target}: {len(result.tables)} tables, row counts as in the manifest")
    return 0


def _entities(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def cmd_sync_run(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl.sync.runner import next_due, sync_queue

    cfg = settings()
    if args.sync_command == "github":
        from reliable_etl.sync.github import GitHubSync as Sync

        entities, conn_id = args.repos or list(cfg.github_repos), cfg.github_conn_id
    else:
        from reliable_etl.sync.jira import JiraSync as Sync

        entities, conn_id = args.projects or list(cfg.jira_projects), cfg.jira_conn_id
    if not entities:
        option = "--repos" if args.sync_command == "github" else "--projects"
        raise BadInputError(
            f"nothing to sync: give {option} or set ETL_{args.sync_command.upper()}_{option[2:].upper()}"
        )
    init_schema()
    run_id = _cli_run_id(args.sync_command)

    def say(line: str) -> None:
        print(line, flush=True)

    results = sync_queue(
        lambda: Sync(run_id=run_id, conn_id=conn_id, progress=say),
        entities,
        run_id=run_id,
        full_refresh=args.full_refresh,
        concurrency=args.concurrency or cfg.sync_concurrency,
        wait=not args.no_wait,
        progress=say,
    )
    for r in results:
        counts = f"{r.items} items, {r.pages} pages, {r.skipped} skipped, {r.warnings} warnings, cost {r.api_cost}"
        print(f"{r.entity}: {r.outcome} ({r.mode or '-'}; {counts}; API {r.api_count}, ours {r.db_count})")
    if due := next_due(results):
        print(f"rate limited: run the same command again after {due:%Y-%m-%d %H:%M:%S} UTC")
        return 75  # EX_TEMPFAIL
    return 0


def cmd_sync_status(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl.sync.report import format_metrics, format_progress, progress, recovery_metrics

    init_schema()
    if args.sync_command == "metrics":
        rows = recovery_metrics()
        print(json.dumps(rows, default=str, indent=2) if args.json else format_metrics(rows))
    else:
        rows = progress(args.service)
        print(json.dumps(rows, default=str, indent=2) if args.json else format_progress(rows))
    return 0


def cmd_sync_set(args: argparse.Namespace) -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl.sync.jobs import Status, set_status

    init_schema()
    target = Status.PAUSED if args.sync_command == "pause" else Status.PENDING
    status = set_status(args.service, args.entity, target, reason=f"{args.sync_command}d by hand (etl sync)")
    print(f"{args.service} {args.entity}: {status}")
    return 0


def cmd_files_load(args: argparse.Namespace) -> int:
    from reliable_etl.files.load import finish_run, load_directory, start_run
    from reliable_etl.files.report import run_report
    from reliable_etl.notify import notify
    from reliable_etl.ops import init_schema

    init_schema()
    run_id = _cli_run_id("files")
    started = time.monotonic()
    if not args.dry_run:
        start_run(run_id)
    results = load_directory(
        Path(args.relationships) if args.relationships else None,
        Path(args.dir) if args.dir else None,
        run_id=run_id,
        threshold=args.reject_threshold,
        archive_dir=Path(args.archive) if args.archive else None,
        dry_run=args.dry_run,
    )
    for r in results:
        line = f"{r.file} -> {', '.join(r.tables)}: {r.status}, {r.records:,} records, {r.loaded:,} loaded, "
        line += f"{r.rejected:,} rejected ({r.error_rate:.2%})"
        if r.snapshots:
            line += f"; previous contents kept as {', '.join(r.snapshots)}"
        if r.error:
            line += f"\n    {r.error}"
        print(line)
    if not results:
        print("no declared file in the drop directory")
    if args.dry_run:
        return 0
    status = finish_run(run_id, results)
    report = run_report(run_id, status, results, duration_s=time.monotonic() - started)
    if not args.no_notify:
        for channel, outcome in notify(report).items():
            print(f"notification {channel}: {outcome}")
    print(f"run {run_id}: {status.upper()}: {report.summary}")
    return 1 if status == "error" else 0


def cmd_files_rollback(args: argparse.Namespace) -> int:
    from reliable_etl.files.snapshots import rollback
    from reliable_etl.ops import init_schema

    init_schema()
    result = rollback(args.table, args.to, run_id=_cli_run_id("rollback"))
    print(
        f"{result.table}: restored {result.restored} ({result.rows:,} rows, md5 {result.checksum}); "
        f"the replaced contents are kept as {result.saved_as or 'nothing (there were none)'}"
    )
    return 0


def cmd_files_status(args: argparse.Namespace) -> int:
    from reliable_etl.files.report import format_status, recent_runs
    from reliable_etl.files.snapshots import snapshots
    from reliable_etl.ops import init_schema

    init_schema()
    print(format_status(recent_runs(args.last)))
    kept = snapshots()
    if kept:
        print("\nsnapshots kept (etl files rollback --table T [--to SNAPSHOT]):")
        for s in kept:
            print(f"  {s['table_name']:<28} {s['snapshot']:<56} {s['row_count']:>10,} rows  {s['reason']}")
    return 0


def _add_files_parser(sub: argparse._SubParsersAction) -> None:
    files = sub.add_parser("files", help="nightly fixed-width files").add_subparsers(
        dest="files_command", required=True
    )
    p = files.add_parser("load", help="load the declared files of a drop directory (each all or nothing)")
    p.add_argument("--relationships", help="relationships.json (default: ETL_FILES_RELATIONSHIPS)")
    p.add_argument("--dir", help="the drop directory (default: ETL_FILES_DROP_DIR)")
    p.add_argument("--archive", help="where loaded files go (default: ETL_FILES_ARCHIVE_DIR)")
    p.add_argument("--reject-threshold", type=float, help="refuse a file above this share of rejected records")
    p.add_argument("--dry-run", action="store_true", help="parse and validate; load, move and notify nothing")
    p.add_argument("--no-notify", action="store_true", help="send no Slack/Teams/email notification")
    p.set_defaults(func=cmd_files_load)
    p = files.add_parser("rollback", help="restore a table from a kept snapshot (default: the newest)")
    p.add_argument("--table", required=True)
    p.add_argument("--to", help="the snapshot to restore (see etl files status)")
    p.set_defaults(func=cmd_files_rollback)
    p = files.add_parser("status", help="health, the last runs and their averages, kept snapshots")
    p.add_argument("--last", type=int, default=10, help="how many runs (default 10)")
    p.set_defaults(func=cmd_files_status)


def _add_maintenance_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "health",
        help="the freshness watchdog as JSON: per pipeline status, last data, days behind (exit 1 when unhealthy)",
    )
    p.add_argument("--repair", action="store_true", help="trigger retail's catch-up as the etl_health DAG does")
    p.add_argument("--pipeline", action="append", choices=["retail", "sync", "files"], help="repeatable; default all")
    p.add_argument("--no-airflow", action="store_true", help="the warehouse only, no REST API call")
    p.set_defaults(func=cmd_health)

    backup = sub.add_parser("backup", help="backups of the critical schemas").add_subparsers(
        dest="backup_command", required=True
    )
    p = backup.add_parser("list", help="complete backups, newest first")
    p.add_argument("--dir", help="default: ETL_BACKUP_DIR")
    p.set_defaults(func=cmd_backup)
    p = backup.add_parser("verify", help="checksums and pg_restore --list of one backup")
    p.add_argument("directory")
    p.set_defaults(func=cmd_backup)
    p = backup.add_parser("restore", help="verify, then restore a backup into a database (a scratch one)")
    p.add_argument("directory")
    p.add_argument("--into", required=True, help="target database: postgresql://user@host:port/db")
    p.set_defaults(func=cmd_backup)


def _add_status_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="a running stack at a glance: services up, last runs per pipeline, the watchdog's health, logs",
    )
    p.add_argument("--json", action="store_true", help="the same as one JSON document")
    p.set_defaults(func=cmd_status)


def _add_sync_parser(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="Jira and GitHub syncs").add_subparsers(dest="sync_command", required=True)
    for service, option, example in (("github", "--repos", "OWNER/NAME,..."), ("jira", "--projects", "KEY,...")):
        p = sync.add_parser(service, help=f"sync {service} (resumes an interrupted pass where it stopped)")
        p.add_argument(
            option, type=_entities, metavar=example, help=f"default: ETL_{service.upper()}_{option[2:].upper()}"
        )
        p.add_argument("--full-refresh", action="store_true", help="reprocess everything (idempotent)")
        p.add_argument("--concurrency", type=int, help="entities synced at once (default: ETL_SYNC_CONCURRENCY)")
        p.add_argument("--no-wait", action="store_true", help="on a long rate limit, save state and exit 75")
        p.set_defaults(func=cmd_sync_run)
    p = sync.add_parser("status", help="per-entity progress: status, cursor, pages, API cost, errors")
    p.add_argument("--service", choices=["github", "jira"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync_status)
    p = sync.add_parser("metrics", help="recoveries and data consistency")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync_status)
    for action, what in (
        ("pause", "stop at the next page and stay paused"),
        ("resume", "queue a paused or failed job"),
    ):
        p = sync.add_parser(action, help=what)
        p.add_argument("service", choices=["github", "jira"])
        p.add_argument("entity", help="OWNER/NAME or a project key")
        p.set_defaults(func=cmd_sync_set)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etl",
        description=__doc__,
        epilog="exit codes: 0 done, 1 failed, 2 bad input or configuration, "
        "75 a service is unavailable or busy (run the same command again later: it resumes)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the logs (and tracebacks) to stderr")
    parser.add_argument("--json", dest="json_logs", action="store_true", help="with -v: the logs as JSON documents")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create the ops, bronze, silver and gold schemas (idempotent)").set_defaults(
        func=cmd_init
    )
    sub.add_parser(
        "pools", help='the path of the bundle\'s Airflow pools (for `airflow pools import "$(etl pools)"`)'
    ).set_defaults(func=cmd_pools)

    retail = sub.add_parser("retail", help="the retail pipeline").add_subparsers(dest="retail_command", required=True)
    p = retail.add_parser("split", help="cut a full export into daily landing files")
    p.add_argument("--source", required=True, help="UCI Online Retail CSV (or .csv.gz)")
    p.add_argument("--landing", required=True, help="landing directory")
    p.set_defaults(func=cmd_retail_split)

    p = retail.add_parser("run", help="run the daily steps in-process, day by day in order")
    p.add_argument("--from", dest="from_date", type=_date)
    p.add_argument("--to", dest="to_date", type=_date)
    p.add_argument(
        "--stale",
        action="store_true",
        help="the days loaded with other validation rules than the current ones (etl health lists them)",
    )
    p.add_argument(
        "--restated",
        action="store_true",
        help="the loaded days whose landing file was delivered again with other bytes (etl health lists them)",
    )
    p.add_argument("--landing", help="landing directory (default: ETL_RETAIL_LANDING_DIR)")
    p.add_argument("--reject-threshold", type=float, default=None, help="fail a day above this reject rate")
    p.set_defaults(func=cmd_retail_run)

    p = retail.add_parser("gold", help="publish gold months (no flags: every month not up to date)")
    p.add_argument("--year", type=int)
    p.add_argument("--month", type=int, choices=range(1, 13), metavar="1-12")
    p.add_argument("--reset", action="store_true", help="forget the months' gold and rebuild it")
    p.add_argument("--dry-run", action="store_true", help="show what would be processed")
    p.set_defaults(func=cmd_retail_gold)

    p = retail.add_parser("summary", help="rows per layer, gold per month, rejects")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_retail_summary)

    for add_parsers in (_add_sync_parser, _add_files_parser, _add_maintenance_parsers, _add_status_parser):
        add_parsers(sub)

    p = sub.add_parser(
        "backfill",
        help="re-run a DAG for the calendar days --from..--to, both included (Airflow's backfill, by days)",
        description="`airflow backfill create` bounds logical dates: day D's run of retail_daily has logical "
        "date D 02:00, so --to-date D would leave D out. This command takes days, as people count them.",
    )
    p.add_argument("dag_id")
    p.add_argument("--from", dest="from_date", type=_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="to_date", type=_date, required=True, help="last day, included")
    p.add_argument(
        "--reprocess-behavior",
        choices=["none", "failed", "completed"],
        default="failed",
        help="days that already have a run: keep (none), re-run failed ones (default), re-run all",
    )
    p.add_argument("--max-active-runs", type=int, default=1, help="a backfill does not inherit the DAG's (default 1)")
    p.add_argument("--dry-run", action="store_true", help="list the runs it would create")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser(
        "recover",
        help="clear a DAG's failed run and re-queue the runs it blocks, in order, on the latest bundle version",
    )
    p.add_argument("dag_id")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument(
        "--keep-version",
        action="store_true",
        help="rerun each run on the bundle version it was created with (default: the latest, i.e. the fix)",
    )
    p.set_defaults(func=cmd_recover)
    return parser


def _setup_logging(verbose: bool, as_json: bool) -> None:
    """Progress goes to stdout; the records go to ops.pipeline_logs, and to stderr with -v."""
    from reliable_etl.ops.logs import JsonFormatter

    logger = logging.getLogger("reliable_etl")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)-7s %(message)s"))
        logger.addHandler(handler)


def _warehouse() -> str:
    """Where the warehouse is, for error messages: host, port and database, never credentials."""
    try:
        return db.describe_warehouse()
    except Exception:  # describing must not hide the error being reported
        return f"the {db.warehouse_conn_id()!r} connection"


def _committed(args: argparse.Namespace) -> str:
    done = getattr(args, "committed", [])
    if not done:
        return "nothing was committed by this command"
    shown = done if len(done) <= 3 else [done[0], "...", done[-1]]
    return f"committed before it: {', '.join(shown)} ({len(done)} unit{'s' if len(done) > 1 else ''})"


def report_error(exc: BaseException, args: argparse.Namespace) -> int:
    """One clear line on stderr for an error (the traceback only with -v); the exit code."""
    from reliable_etl.ops.logs import redact
    from reliable_etl.retry import first_line, is_misconfigured, is_transient

    if args.verbose:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, BadInputError | ValueError):
        print(f"etl: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, SyncError) and not is_transient(exc):
        print(f"etl: failed: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    import psycopg

    if is_misconfigured(exc):
        print(
            f"etl: error: {_warehouse()} refused the connection: {redact(first_line(exc))}."
            f" Check the {db.warehouse_conn_id()!r} connection (AIRFLOW_CONN_{db.warehouse_conn_id().upper()})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if is_transient(exc):
        what = "is unavailable" if isinstance(exc, psycopg.OperationalError) else "is busy"
        print(
            f"etl: {_warehouse()} {what} ({redact(first_line(exc))}); {_committed(args)}."
            " Try again later: the same command goes on from there (exit 75)",
            file=sys.stderr,
        )
        return EXIT_TRY_LATER
    hint = "" if args.verbose else " (etl -v ... shows the traceback)"
    print(f"etl: failed: {redact(first_line(exc))}; {_committed(args)}{hint}", file=sys.stderr)
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.committed = []  # units this command committed, for the error report
    _setup_logging(args.verbose, args.json_logs)
    try:
        return args.func(args)
    except Exception as exc:
        return report_error(exc, args)
    finally:
        from reliable_etl.ops.logs import flush_logs

        flush_logs()


if __name__ == "__main__":
    sys.exit(main())
