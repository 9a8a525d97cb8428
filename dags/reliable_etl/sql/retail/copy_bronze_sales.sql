copy {partition} (
    invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country
)
from stdin with (format csv, header true, encoding 'UTF8')
