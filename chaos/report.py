"""Trials, the per-fault summary, and the report: JSON for machines, a markdown table for docs/RELIABILITY.md."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

BEGIN, END = "<!-- chaos:begin (written by python -m chaos --doc; do not edit) -->", "<!-- chaos:end -->"


@dataclass
class Trial:
    """One fault injected and recovered from. ``None`` figures do not apply to the fault."""

    fault: str
    survived: bool
    rows_lost: int | None = 0
    duplicates: int | None = 0
    recover_s: float | None = None
    params: dict = field(default_factory=dict)
    detail: str = ""
    notes: list[str] = field(default_factory=list)  # seen, but outside the case's invariant


@dataclass
class CaseResult:
    name: str
    title: str
    invariant: str
    recover_clock: str  # what "time to recover" measures in this case
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def survived(self) -> bool:
        return self.skipped is None and all(t.survived for t in self.trials)

    def failures(self) -> list[Trial]:
        return [t for t in self.trials if not t.survived]


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summarize(case: CaseResult) -> list[dict]:
    """One row per fault type: trials, survived, rows lost, duplicates, time to recover (median, max)."""
    rows = []
    for fault in dict.fromkeys(t.fault for t in case.trials):
        trials = [t for t in case.trials if t.fault == fault]
        times = [t.recover_s for t in trials if t.recover_s is not None]
        rows.append(
            {
                "case": case.name,
                "fault": fault,
                "trials": len(trials),
                "survived": sum(t.survived for t in trials),
                "rows_lost": _sum([t.rows_lost for t in trials]),
                "duplicates": _sum([t.duplicates for t in trials]),
                "recover_median_s": round(statistics.median(times), 2) if times else None,
                "recover_max_s": round(max(times), 2) if times else None,
            }
        )
    return rows


def as_json(meta: dict, cases: list[CaseResult]) -> dict:
    return {
        "meta": meta,
        "summary": [row for case in cases for row in summarize(case)],
        "cases": [
            {
                "name": c.name,
                "title": c.title,
                "invariant": c.invariant,
                "recover_clock": c.recover_clock,
                "seconds": round(c.seconds, 1),
                "skipped": c.skipped,
                "survived": c.survived,
                "trials": [asdict(t) for t in c.trials],
            }
            for c in cases
        ],
    }


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def markdown(meta: dict, cases: list[CaseResult]) -> str:
    """The report's table and, per case, its invariant and the clock of its recovery time."""
    lines = [
        f"Command: `{meta['command']}` (seed {meta['seed']}, {meta['mode']} counts), commit `{meta['commit']}`,"
        f" {meta['date']}, {meta['duration']} on {meta['machine']}; PostgreSQL {meta['postgres']}.",
        "",
        "| Case | Fault | Trials | Survived | Rows lost | Duplicates | Time to recover, s (median / max) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        if case.skipped:
            lines.append(f"| {case.title} | skipped: {case.skipped} | 0 | - | - | - | - |")
            continue
        for row in summarize(case):
            recover = (
                "-"
                if row["recover_median_s"] is None
                else f"{row['recover_median_s']:.2f} / {row['recover_max_s']:.2f}"
            )
            lines.append(
                f"| {case.title} | {row['fault']} | {row['trials']} | {row['survived']} |"
                f" {_cell(row['rows_lost'])} | {_cell(row['duplicates'])} | {recover} |"
            )
    total = sum(len(c.trials) for c in cases)
    survived = sum(t.survived for c in cases for t in c.trials)
    lines += ["", f"**{survived} of {total} trials survived.**", ""]
    for case in cases:
        lines.append(
            f"- **{case.title}** ({case.seconds:.0f} s): {case.invariant} *Time to recover*: {case.recover_clock}"
        )
        for trial in case.failures():
            lines.append(f"  - FAILED {trial.fault} {json.dumps(trial.params)}: {trial.detail}")
        for trial in case.trials:
            lines.extend(f"  - note, {trial.fault} {json.dumps(trial.params)}: {note}" for note in trial.notes)
    return "\n".join(lines) + "\n"


def write(out_dir: Path, meta: dict, cases: list[CaseResult]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(as_json(meta, cases), indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(meta, cases), encoding="utf-8")
    return json_path, md_path


def update_doc(doc: Path, text: str) -> None:
    """Replace the generated block of ``doc`` (between the chaos markers) with ``text``."""
    content = doc.read_text(encoding="utf-8")
    start, end = content.index(BEGIN) + len(BEGIN), content.index(END)
    doc.write_text(content[:start] + "\n" + text + content[end:], encoding="utf-8")
