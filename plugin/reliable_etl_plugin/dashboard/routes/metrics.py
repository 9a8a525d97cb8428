"""Per pipeline the last 10 runs and their averages; the same with the health and checks for Prometheus."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from reliable_etl_plugin import grading
from reliable_etl_plugin.dashboard import prometheus
from reliable_etl_plugin.dashboard.datamodels.checkpoints import SyncJob
from reliable_etl_plugin.dashboard.datamodels.metrics import Averages, MetricsResponse, PipelineMetrics, Run
from reliable_etl_plugin.dashboard.routes.checks import build_checks
from reliable_etl_plugin.dashboard.routes.health import build_health
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import Reader, ReaderDep

router = APIRouter(prefix="/metrics", tags=["metrics"], dependencies=READ)


def _average(runs: list[dict], field: str) -> float:
    return sum(r[field] or 0 for r in runs) / len(runs) if runs else 0.0


def build_metrics(reader: Reader) -> MetricsResponse:
    rows = reader.rows("select_recent_runs", {"batch_size": grading.WINDOW})
    pipelines = []
    for name, group in groupby(rows, key=lambda r: r["pipeline_name"]):
        runs = list(group)
        h = grading.health(runs)
        pipelines.append(
            PipelineMetrics(
                pipeline=name,
                status=h.level,
                averages=Averages(
                    runs=h.runs,
                    duration_s=h.avg_duration_s,
                    records_in=h.avg_records,
                    records_out=_average(runs, "records_out"),
                    records_rejected=_average(runs, "records_rejected"),
                    error_rate=h.avg_error_rate,
                    failed_share=h.failed_share,
                ),
                runs=[Run(**{k: r[k] for k in Run.model_fields}) for r in runs],
            )
        )
    return MetricsResponse(window=grading.WINDOW, pipelines=pipelines)


@router.get("", response_model=MetricsResponse, summary="The last 10 runs of every pipeline and their averages")
def get_metrics(reader: ReaderDep) -> MetricsResponse:
    return build_metrics(reader)


@router.get(
    "/prometheus",
    response_class=Response,
    summary="Health and run metrics in Prometheus text format",
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
)
def get_prometheus(reader: ReaderDep) -> Response:
    sync_jobs = [SyncJob(**row) for row in reader.rows("select_sync_jobs")]
    body = prometheus.exposition(build_health(reader), build_metrics(reader), sync_jobs, build_checks(reader, 1))
    return Response(content=body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
