"""The gold tables as Airflow Assets, so other DAGs can be scheduled on them.

``GoldUpsertOperator`` emits an event only when gold changed, with what changed in its
``extra``: a dry run, or a month whose silver input is unchanged, skips the task (a skipped
task emits nothing).
"""

from __future__ import annotations

from airflow.sdk import Asset

GOLD_TABLES = ("fact_sales_monthly", "fact_product_performance", "fact_country_sales")
# Named by their table; no postgres:// URI: the warehouse's address is a Connection, not a constant
# (and a postgres URI makes every parse load the provider's URI normalizer, ~5 ms).
GOLD_ASSETS = [Asset(name=f"gold.{table}", group="retail") for table in GOLD_TABLES]
