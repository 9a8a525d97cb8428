"""Retail sales: landing files -> bronze -> silver -> gold, one day and one month at a time."""

PIPELINE = "retail"
HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
