"""Exact money: ``Decimal`` amounts with an ISO 4217 currency, never ``float``."""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from oms.core.errors import ValidationFailed

# Minor units for the currencies our shops settle in; anything else uses 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "IDR": 0}
AMOUNT_PLACES = 2  # the precision every amount column stores
AMOUNT_DIGITS = 14  # ... and its digits (DecimalField(max_digits=14, decimal_places=2))
MAX_AMOUNT = Decimal(10) ** (AMOUNT_DIGITS - AMOUNT_PLACES) - Decimal("0.01")
# A plain decimal: ASCII digits, an optional sign and fraction. No exponent ("1e30"),
# no NaN or Infinity, no other scripts' digits (Decimal("١٢") is 12).
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def currency_places(currency: str | None) -> int:
    """The decimals an amount in ``currency`` may have (at most the column's two)."""
    return min(MINOR_UNITS.get((currency or "").upper(), 2), AMOUNT_PLACES)


def parse_amount(
    value: object,
    *,
    field: str = "amount",
    currency: str | None = None,
    positive: bool = False,
) -> Decimal:
    """The one money validator, for every amount that enters (API, forms, platforms).

    A decimal string, an integer or a ``Decimal``; ``None`` or ``""`` is 0. Refused with
    ``ValidationFailed``: floats (binary floating point cannot hold 0.1 exactly), anything
    but a plain decimal, negative amounts (zero too when ``positive``), more decimals than
    the currency has (two when it is not known), and more digits than the columns hold.
    """
    if isinstance(value, (bool, float)):
        raise ValidationFailed(
            f"{field} must be a decimal string, not a float", field=field
        )
    if value is None or value == "":
        return Decimal("0.00")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        text = str(value).strip()
        if len(text) > 40 or not _PLAIN.fullmatch(text):
            raise ValidationFailed(f"{field} is not a decimal number", field=field)
        amount = Decimal(text)
    if not amount.is_finite():
        raise ValidationFailed(f"{field} is not a finite number", field=field)
    if amount < 0 or (positive and amount == 0):
        bound = "more than 0" if positive else "0 or more"
        raise ValidationFailed(f"{field} must be {bound}", field=field)
    if amount > MAX_AMOUNT:
        raise ValidationFailed(f"{field} must be at most {MAX_AMOUNT}", field=field)
    places = currency_places(currency)
    step = Decimal(1).scaleb(-places)
    if amount != amount.quantize(step, rounding=ROUND_HALF_UP):
        unit = currency.upper() if currency else "this amount"
        raise ValidationFailed(
            f"{field} has more than {places} decimal places for {unit}", field=field
        )
    return amount.quantize(Decimal(1).scaleb(-AMOUNT_PLACES))


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {self.currency} and {other.currency}")
        return Money(self.amount + other.amount, self.currency)

    def rounded(self) -> Decimal:
        places = MINOR_UNITS.get(self.currency, 2)
        return self.amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        return f"{self.rounded():,} {self.currency}"
