"""Health grades: the seed's thresholds, one function for the dashboard and `etl files status`.

A pipeline is graded on its last `WINDOW` finished runs (`health`): healthy below 20% failed
runs and 10% average error rate, degraded up to 50% / 20%, unhealthy above, the worse of the
two. The overall grade is the worst pipeline's; a watchdog or health check that is not healthy
makes a healthy overall grade degraded (they report data late or a service down, not failed
runs), and never worse.
"""

from __future__ import annotations

from dataclasses import dataclass

# (healthy below, unhealthy above): share of failed runs, and average error rate of the runs
FAILED_RUNS = (0.20, 0.50)
ERROR_RATE = (0.10, 0.20)
LEVELS = ("healthy", "degraded", "unhealthy")


def level(value: float, bounds: tuple[float, float]) -> str:
    low, high = bounds
    return "healthy" if value < low else "unhealthy" if value > high else "degraded"


@dataclass(frozen=True)
class Health:
    level: str  # the worse of the two
    runs: int
    failed_share: float
    avg_error_rate: float
    avg_duration_s: float
    avg_records: float


def health(runs: list[dict]) -> Health:
    """Healthy below 20% failed runs and 10% error rate; degraded 20-50% / 10-20%; unhealthy above."""
    if not runs:
        return Health("healthy", 0, 0.0, 0.0, 0.0, 0.0)
    n = len(runs)
    failed = sum(r["status"] == "failed" for r in runs) / n
    error_rate = sum(r["error_rate"] or 0 for r in runs) / n
    worst = max(level(failed, FAILED_RUNS), level(error_rate, ERROR_RATE), key=LEVELS.index)
    return Health(
        worst,
        n,
        failed,
        error_rate,
        sum((r["duration_ms"] or 0) for r in runs) / n / 1000,
        sum(r["records_in"] for r in runs) / n,
    )


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
