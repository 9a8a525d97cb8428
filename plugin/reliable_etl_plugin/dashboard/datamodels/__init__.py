"""The dashboard API's response models (one module per resource), so its OpenAPI page documents them."""
