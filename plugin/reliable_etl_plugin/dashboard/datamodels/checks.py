"""``GET /etl/checks``: the write-audit-publish checks (gold units, nightly files), latest verdicts and history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Verdict(BaseModel):
    unit_key: str
    severity: str
    passed: bool
    published: bool = Field(description="false: an error check failed and the unit was rolled back")
    details: dict[str, Any] = Field(description="the numbers behind the verdict, as the check's SQL returned them")
    run_id: str | None = None
    checked_at: dt.datetime


class GoldCheck(BaseModel):
    pipeline: str
    target: str = Field(description="what the unit publishes: a gold table, a files table")
    check_name: str
    severity: str = Field(description="of the latest verdict: error (blocks the publish) or warning (reported)")
    latest: Verdict
    history: list[Verdict] = Field(description="newest first, the latest included")
    failures: int = Field(description="failed verdicts in the history")


class ChecksResponse(BaseModel):
    history: int = Field(description="verdicts kept per check in this answer")
    checks: list[GoldCheck]
