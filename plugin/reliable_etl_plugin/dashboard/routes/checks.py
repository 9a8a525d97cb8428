"""The checks (gold units, nightly files): the latest verdict of each check of each target, with its history."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Query

from reliable_etl_plugin.dashboard.datamodels.checks import ChecksResponse, GoldCheck, Verdict
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import Reader, ReaderDep

router = APIRouter(prefix="/checks", tags=["checks"], dependencies=READ)

HISTORY = 10


def build_checks(reader: Reader, history: int = HISTORY) -> ChecksResponse:
    rows = reader.rows("select_checks", {"history": history})
    checks = []
    for (pipeline, target, name), group in groupby(
        rows, key=lambda r: (r["pipeline_name"], r["target"], r["check_name"])
    ):
        verdicts = [Verdict(**{k: r[k] for k in Verdict.model_fields}) for r in group]
        checks.append(
            GoldCheck(
                pipeline=pipeline,
                target=target,
                check_name=name,
                severity=verdicts[0].severity,
                latest=verdicts[0],
                history=verdicts,
                failures=sum(not v.passed for v in verdicts),
            )
        )
    return ChecksResponse(history=history, checks=checks)


@router.get("", response_model=ChecksResponse, summary="Every check's latest verdict, with its history")
def get_checks(reader: ReaderDep, history: Annotated[int, Query(ge=1, le=100)] = HISTORY) -> ChecksResponse:
    return build_checks(reader, history)
