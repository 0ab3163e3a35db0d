"""Buyer data shown only as much as a view needs (PRODUCT.md "Roles")."""


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``: lists never show a full phone number."""
    digits = (phone or "").strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"
