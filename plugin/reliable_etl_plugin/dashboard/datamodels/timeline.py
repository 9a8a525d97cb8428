"""``GET /etl/timeline``: retail's daily catch-up, gaps and failures marked."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

DayStatus = Literal["processed", "failed", "running", "gap", "behind"]


class Segment(BaseModel):
    """Consecutive days alike."""

    status: DayStatus
    first_day: dt.date
    last_day: dt.date
    days: int
    row_count: int = Field(description="silver rows of these days")
    run_id: str | None = Field(None, description="the latest day's latest run")
    error: str | None = None
    lost: bool = False


class TimelineResponse(BaseModel):
    """From ETL_RETAIL_START_DATE to the last day due (or ETL_RETAIL_END_DATE)."""

    pipeline: str
    first_day: dt.date
    last_day: dt.date
    days: int
    counts: dict[str, int] = Field(description="days per status")
    last_processed_day: dt.date | None = None
    segments: list[Segment]
