"""The health and metrics answers in Prometheus' text exposition format, for Grafana users.

Written by ``prometheus_client`` from the same figures as ``/etl/health`` and ``/etl/metrics``
and ``/etl/checks`` (one scrape, one warehouse snapshot). Grades are numbers: 0 healthy, 1 degraded, 2 unhealthy.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from reliable_etl_plugin.dashboard.datamodels.checkpoints import SyncJob
from reliable_etl_plugin.dashboard.datamodels.checks import ChecksResponse
from reliable_etl_plugin.dashboard.datamodels.health import HealthResponse
from reliable_etl_plugin.dashboard.datamodels.metrics import MetricsResponse
from reliable_etl_plugin.grading import LEVELS

SYNC_STATES = ("NOT_STARTED", "PENDING", "RUNNING", "FAILED", "FINISHED", "PAUSED")


class _Snapshot:
    """A collector over figures already read (prometheus_client calls ``collect`` at generation)."""

    def __init__(
        self, health: HealthResponse, metrics: MetricsResponse, sync_jobs: list[SyncJob], checks: ChecksResponse
    ) -> None:
        self.health, self.metrics, self.sync_jobs, self.checks = health, metrics, sync_jobs, checks

    def collect(self) -> Iterator[Metric]:
        yield from self._health()
        yield from self._pipelines()
        yield from self._sync()
        yield from self._checks()

    def _health(self) -> Iterator[Metric]:
        overall = GaugeMetricFamily("etl_health_status", "Overall health: 0 healthy, 1 degraded, 2 unhealthy")
        overall.add_metric([], LEVELS.index(self.health.status))
        yield overall
        watchdog = GaugeMetricFamily(
            "etl_watchdog_days_behind", "Days of data the freshness watchdog found missing", labels=["pipeline"]
        )
        if self.health.watchdog:
            for name, item in sorted(self.health.watchdog.pipelines.items()):
                if item.days_behind is not None:
                    watchdog.add_metric([name], item.days_behind)
        yield watchdog
        maintenance = GaugeMetricFamily(
            "etl_maintenance_job_ok", "1 when the job's latest run succeeded (or was healthy)", labels=["job"]
        )
        finished = GaugeMetricFamily(
            "etl_maintenance_job_finished_timestamp_seconds", "When the job's latest run finished", labels=["job"]
        )
        for job in self.health.maintenance:
            maintenance.add_metric([job.job], int(job.ok))
            finished.add_metric([job.job], job.finished_at.timestamp())
        yield maintenance
        yield finished
        alerts = GaugeMetricFamily("etl_alerts_firing", "Alert conditions firing now")
        alerts.add_metric([], len(self.health.alerts))
        yield alerts

    def _pipelines(self) -> Iterator[Metric]:
        labels = ["pipeline"]
        status = GaugeMetricFamily(
            "etl_pipeline_health_status", "Pipeline health: 0 healthy, 1 degraded, 2 unhealthy", labels=labels
        )
        gauges = {
            "runs": GaugeMetricFamily("etl_pipeline_runs", "Finished runs graded (the last 10)", labels=labels),
            "failed_share": GaugeMetricFamily(
                "etl_pipeline_failed_runs_ratio", "Failed runs among the last 10", labels=labels
            ),
            "error_rate": GaugeMetricFamily(
                "etl_pipeline_error_rate_avg", "Average rejected / records_in of the last 10 runs", labels=labels
            ),
            "duration_s": GaugeMetricFamily(
                "etl_pipeline_duration_seconds_avg", "Average duration of the last 10 runs", labels=labels
            ),
            "records_in": GaugeMetricFamily(
                "etl_pipeline_records_in_avg", "Average records read per run (last 10)", labels=labels
            ),
            "records_out": GaugeMetricFamily(
                "etl_pipeline_records_out_avg", "Average records written per run (last 10)", labels=labels
            ),
            "records_rejected": GaugeMetricFamily(
                "etl_pipeline_records_rejected_avg", "Average records rejected per run (last 10)", labels=labels
            ),
        }
        last_run = GaugeMetricFamily(
            "etl_pipeline_last_run_timestamp_seconds", "Start of the latest finished run", labels=labels
        )
        last_failed = GaugeMetricFamily(
            "etl_pipeline_last_run_failed", "1 when the latest finished run failed", labels=labels
        )
        for pipeline in self.metrics.pipelines:
            status.add_metric([pipeline.pipeline], LEVELS.index(pipeline.status))
            for field, gauge in gauges.items():
                gauge.add_metric([pipeline.pipeline], getattr(pipeline.averages, field))
            if pipeline.runs:
                last_run.add_metric([pipeline.pipeline], pipeline.runs[0].started_at.timestamp())
                last_failed.add_metric([pipeline.pipeline], int(pipeline.runs[0].status == "failed"))
        yield status
        yield from gauges.values()
        yield last_run
        yield last_failed

    def _sync(self) -> Iterator[Metric]:
        labels = ["service", "entity"]
        state = GaugeMetricFamily("etl_sync_job_state", "1 for the job's current state", labels=[*labels, "state"])
        gauges = {
            "pages": GaugeMetricFamily("etl_sync_pages", "Pages of the pass under way (or the last)", labels=labels),
            "items": GaugeMetricFamily("etl_sync_items", "Items of the pass under way (or the last)", labels=labels),
            "api_cost": GaugeMetricFamily("etl_sync_api_cost", "API cost of the pass (GitHub points)", labels=labels),
            "total_processed": GaugeMetricFamily(
                "etl_sync_items_processed", "Items processed over every pass", labels=labels
            ),
        }
        attention = GaugeMetricFamily(
            "etl_sync_needs_attention", "1 when the job failed and waits for a person", labels=labels
        )
        retry = GaugeMetricFamily(
            "etl_sync_next_retry_timestamp_seconds", "When a rate-limited job resumes", labels=labels
        )
        for job in self.sync_jobs:
            key = [job.service, job.entity]
            for name in SYNC_STATES:
                state.add_metric([*key, name], int(job.status == name))
            for field, gauge in gauges.items():
                gauge.add_metric(key, getattr(job, field))
            attention.add_metric(key, int(job.needs_attention))
            if job.next_retry_at:
                retry.add_metric(key, job.next_retry_at.timestamp())
        yield state
        yield from gauges.values()
        yield attention
        yield retry

    def _checks(self) -> Iterator[Metric]:
        labels = ["pipeline", "target", "check", "severity"]
        passed = GaugeMetricFamily(
            "etl_check_passed", "1 when the check's latest verdict passed (write-audit-publish)", labels=labels
        )
        published = GaugeMetricFamily(
            "etl_check_unit_published", "1 when the unit of the latest verdict was published", labels=labels
        )
        checked = GaugeMetricFamily(
            "etl_check_timestamp_seconds", "When the check's latest verdict was given", labels=labels
        )
        for check in self.checks.checks:
            key = [check.pipeline, check.target, check.check_name, check.severity]
            passed.add_metric(key, int(check.latest.passed))
            published.add_metric(key, int(check.latest.published))
            checked.add_metric(key, check.latest.checked_at.timestamp())
        yield passed
        yield published
        yield checked


def exposition(
    health: HealthResponse, metrics: MetricsResponse, sync_jobs: list[SyncJob], checks: ChecksResponse
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(health, metrics, sync_jobs, checks))
    return generate_latest(registry)
