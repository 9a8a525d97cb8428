"""Retail sales: landing files -> bronze -> silver -> gold, one day and one month at a time."""

PIPELINE = "retail"
HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")

# GoldUpsertOperator's arguments (plain values: a mapped operator's are serialized with the DAG)
RETAIL_GOLD_ARGS: dict = {
    "pipeline": PIPELINE,
    "kind": "month",
    "fingerprint_sql": "retail/select_month_fingerprint",
    "tables": [
        "retail/upsert_gold_sales_monthly",
        "retail/upsert_gold_product_performance",
        "retail/upsert_gold_country_sales",
    ],
    "reset_sql": "retail/delete_gold_month",
    "lock": "retail:month:{unit}",  # day loads hold it shared
    # audited before the commit (write-audit-publish): an error rolls the month back
    "checks": [
        {"name": "net_amount_matches_silver", "sql": "retail/check_net_amount_matches_silver"},
        {"name": "lines_and_invoices_match_silver", "sql": "retail/check_lines_and_invoices_match_silver"},
        {"name": "keys_unique", "sql": "retail/check_keys_unique"},
        {"name": "volume_against_history", "sql": "retail/check_volume_against_history", "severity": "warning"},
    ],
}
