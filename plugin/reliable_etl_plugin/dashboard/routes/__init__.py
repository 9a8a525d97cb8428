"""The dashboard API's routers, one per resource; each carries its auth dependency."""
