"""A small generated export in UCI Online Retail format, with the same kinds of mess.

The quick start uses its output (``reliable_etl_dev/data/online_retail_sample.csv``) so that it
never depends on the real data set; ``etl-dev sample`` regenerates it byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from reliable_etl.retail import HEADER

PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55"),
    ("71053", "WHITE METAL LANTERN", "3.39"),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", "2.75"),
    ("22423", "REGENCY CAKESTAND 3 TIER", "12.75"),
    ("85099B", "JUMBO BAG RED RETROSPOT", "2.08"),
    ("47566", "PARTY BUNTING", "4.95"),
    ("20725", "LUNCH BAG RED RETROSPOT", "1.65"),
    ("22197", "SMALL POPCORN HOLDER", "0.85"),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", "1.69"),
    ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", "4.95"),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", "0.55"),
    ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS", "2.95"),
    ("23084", "RABBIT NIGHT LIGHT", "2.08"),
    ("21034", "REX CASH+CARRY JUMBO SHOPPER", "0.95"),
    ("22386", 'JUMBO BAG PINK POLKADOT, "LARGE"', "2.08"),
    ("DCGSSGIRL", "GIRLS PARTY BAG", "3.29"),
]
COUNTRIES = ["United Kingdom"] * 8 + ["Germany", "France", "EIRE", "Spain", "Netherlands", "Australia"]


def generate(start: dt.date, days: int, *, seed: int = 7) -> list[list[str]]:
    """Rows for ``days`` days from ``start``; Saturdays have no sales, as in the real shop."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not security
    rows: list[list[str]] = []
    invoice = 540_000
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if day.weekday() == 5:
            continue
        for _ in range(rng.randint(6, 12)):
            invoice += 1
            customer = "" if rng.random() < 0.2 else str(rng.randint(12_346, 18_287))
            country = rng.choice(COUNTRIES)
            at = dt.datetime.combine(day, dt.time(rng.randint(8, 19), rng.randint(0, 59)))
            for code, description, price in rng.sample(PRODUCTS, rng.randint(2, 8)):
                quantity = rng.choice([1, 2, 3, 4, 6, 12, 24])
                rows.append(
                    [
                        str(invoice),
                        code,
                        description,
                        str(quantity),
                        f"{at:%Y-%m-%d %H:%M:%S}",
                        price,
                        customer,
                        country,
                    ]
                )
            if rng.random() < 0.3:  # postage, a non-product line
                rows.append(
                    [str(invoice), "POST", "POSTAGE", "1", f"{at:%Y-%m-%d %H:%M:%S}", "18.00", customer, country]
                )
        # a cancellation (a return) of an earlier line, a stock write-off, a line without description
        code, description, price = rng.choice(PRODUCTS)
        at = f"{day:%Y-%m-%d} 17:05:00"
        rows.append(
            [f"C{invoice + 1}", code, description, "-2", at, price, str(rng.randint(12_346, 18_287)), "United Kingdom"]
        )
        rows.append([str(invoice + 2), "21275", "", "-12", at, "0", "", "United Kingdom"])
        invoice += 2
    rows.append(
        [f"A{invoice + 1}", "B", "Adjust bad debt", "1", f"{start:%Y-%m-%d} 14:51:00", "-1062.06", "", "United Kingdom"]
    )
    rows.sort(key=lambda r: r[4])
    return rows


def write_sample(path: Path, start: dt.date = dt.date(2011, 1, 24), days: int = 14, *, seed: int = 7) -> int:
    """Write the sample export; returns the number of data rows."""
    rows = generate(start, days, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)
