"""Reports and analytics (PRODUCT.md N1–N5, J3)."""
