"""Retail's daily catch-up as a timeline: processed days, failures, gaps, and how far behind."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from reliable_etl.config import settings
from reliable_etl.dashboard.datamodels.timeline import Segment, TimelineResponse
from reliable_etl.dashboard.security import READ
from reliable_etl.dashboard.warehouse import ReaderDep
from reliable_etl.retail import PIPELINE

router = APIRouter(prefix="/timeline", tags=["timeline"], dependencies=READ)

RUN_HOUR = 2  # day D's run starts at D+1 02:00 UTC


def last_due_day(now: dt.datetime) -> dt.date:
    """The latest day whose run has started: day D runs at D+1 02:00 UTC."""
    return (now - dt.timedelta(days=1, hours=RUN_HOUR)).date()


def window(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    cfg = settings()
    last = last_due_day(now or dt.datetime.now(dt.UTC))
    if cfg.retail_end_date:
        last = min(last, cfg.retail_end_date)
    return cfg.retail_start_date, max(last, cfg.retail_start_date)


@router.get("", response_model=TimelineResponse, summary="Retail's daily catch-up, gaps and failures marked")
def get_timeline(reader: ReaderDep) -> TimelineResponse:
    first, last = window()
    segments = [
        Segment(**row)
        for row in reader.rows(
            "select_retail_timeline", {"first_day": first, "last_day": last, "pipeline_name": PIPELINE}
        )
    ]
    counts = dict.fromkeys(("processed", "failed", "running", "gap", "behind"), 0)
    for segment in segments:
        counts[segment.status] += segment.days
    processed = [s.last_day for s in segments if s.status == "processed"]
    return TimelineResponse(
        pipeline=PIPELINE,
        first_day=first,
        last_day=last,
        days=(last - first).days + 1,
        counts=counts,
        last_processed_day=max(processed, default=None),
        segments=segments,
    )
