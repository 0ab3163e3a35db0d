"""Carriers, tracking-number pools, shipments and tracking (PRODUCT.md L1–L6): issue 6."""
