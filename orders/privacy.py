"""Buyer data shown only as much as a view needs (PRODUCT.md "Roles")."""

from orders.choices import Role

# Roles that see a buyer's full phone on the order page and in API order replies. The
# warehouse sees it masked everywhere but on the label it prints (the courier needs it).
FULL_PHONE_ROLES = frozenset({Role.OWNER, Role.OPERATOR, Role.CUSTOMER_SERVICE})


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``: lists never show a full phone number."""
    digits = (phone or "").strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def shows_full_phone(role: str | None) -> bool:
    """``role`` of the member asking; None for an API key (an integration shipping the
    organisation's orders, which prints its own labels)."""
    return role is None or role in FULL_PHONE_ROLES


def phone_for(phone: str, role: str | None) -> str:
    """The phone as a record view shows it to ``role``: in full, or masked."""
    return phone if shows_full_phone(role) else mask_phone(phone)
