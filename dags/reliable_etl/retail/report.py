"""What the retail pipeline holds: rows per layer, gold per month, rejects, days in order."""

from __future__ import annotations

from reliable_etl import db


def summary() -> dict:
    with db.transaction(application_name="etl retail summary") as conn:
        layers = dict(db.run_sql(conn, "retail/select_layer_counts").fetchall())
        months = db.run_sql(conn, "retail/select_gold_months").fetchall()
        rejects = db.run_sql(conn, "retail/select_reject_reasons").fetchall()
        days = db.run_sql(conn, "retail/select_days_processed").fetchall()
    return {"layers": layers, "gold_months": months, "rejects": rejects, "days": days}


def format_summary(data: dict) -> str:
    lines = ["Days processed (in the order they were committed):"]
    lines += [
        f"  {day}  {rows:>6} rows  {rejected:>4} rejected  committed {at:%H:%M:%S}"
        for day, rows, rejected, at in data["days"]
    ]
    lines.append("Rows per layer:")
    lines += [f"  {table:<34} {count:>9,}" for table, count in data["layers"].items()]
    lines.append("Gold per month:")
    lines.append(f"  {'month':<8} {'invoices':>8} {'customers':>9} {'lines':>7} {'net amount':>14}  products countries")
    lines += [
        f"  {m:<8} {inv:>8,} {cust:>9,} {n:>7,} {net:>14,.2f}  {prod:>8} {ctry:>9}"
        for m, inv, cust, n, net, prod, ctry in data["gold_months"]
    ]
    lines.append("Rejected rows by reason:")
    lines += [f"  {n:>6}  {reason}" for reason, n in data["rejects"]] or ["  none"]
    return "\n".join(lines)
