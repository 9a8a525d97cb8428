"""Health grades: the seed's thresholds, graded by the same function as `etl files status`.

A pipeline is graded on its last `WINDOW` finished runs (``reliable_etl.files.report.health``): healthy
below 20% failed runs and 10% average error rate, degraded up to 50% / 20%, unhealthy above,
the worse of the two. The overall grade is the worst pipeline's; a watchdog or health check
that is not healthy makes a healthy overall grade degraded (they report data late or a service
down, not failed runs), and never worse.
"""

from __future__ import annotations

from reliable_etl.files.report import ERROR_RATE, FAILED_RUNS, LEVELS, Health, health, level

WINDOW = 10  # runs graded per pipeline, as the seed's /metrics (last 10 runs)
THRESHOLDS = {"failed_share": FAILED_RUNS, "error_rate": ERROR_RATE}  # (healthy below, unhealthy above)

__all__ = ["LEVELS", "THRESHOLDS", "WINDOW", "Health", "describe", "health", "level", "point_level", "worst"]


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index) if levels else "healthy"


def point_level(failed_share: float, error_rate: float) -> str:
    """The grade of one window of runs, from its two figures."""
    return worst([level(failed_share, FAILED_RUNS), level(error_rate, ERROR_RATE)])


def describe(h: Health) -> str:
    """``degraded: 3 of the last 10 runs failed (30%), average error rate 2.00%``."""
    if not h.runs:
        return "healthy: no finished run yet"
    failed = round(h.failed_share * h.runs)
    return (
        f"{h.level}: {failed} of the last {h.runs} runs failed ({h.failed_share:.0%}), "
        f"average error rate {h.avg_error_rate:.2%}"
    )
