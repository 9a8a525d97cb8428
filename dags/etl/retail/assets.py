"""The gold tables as Airflow Assets, so other DAGs can be scheduled on them."""

from __future__ import annotations

from airflow.sdk import Asset

GOLD_TABLES = ("fact_sales_monthly", "fact_product_performance", "fact_country_sales")
GOLD_ASSETS = [
    Asset(name=f"gold.{table}", uri=f"postgres://warehouse:5432/warehouse/gold/{table}", group="retail")
    for table in GOLD_TABLES
]
