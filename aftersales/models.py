"""Cancel requests, refunds, disputes and messages (PRODUCT.md A1–A5): issue 7."""
