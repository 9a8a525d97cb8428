"""Retail's daily catch-up as a timeline: processed days, failures, gaps, and how far behind."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from reliable_etl_plugin import config
from reliable_etl_plugin.dashboard.datamodels.timeline import Segment, TimelineResponse
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import ReaderDep

router = APIRouter(prefix="/timeline", tags=["timeline"], dependencies=READ)

RUN_HOUR = 2  # day D's run starts at D+1 02:00 UTC
PIPELINE = "retail"  # retail_daily's name in the ops tables


def last_due_day(now: dt.datetime) -> dt.date:
    """The latest day whose run has started: day D runs at D+1 02:00 UTC."""
    return (now - dt.timedelta(days=1, hours=RUN_HOUR)).date()


def window(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    first, end = config.retail_days()
    last = last_due_day(now or dt.datetime.now(dt.UTC))
    if end:
        last = min(last, end)
    return first, max(last, first)


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
