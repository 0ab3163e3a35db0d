"""Exact money: ``Decimal`` amounts with an ISO 4217 currency, never ``float``."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from oms.core.errors import ValidationFailed

# Minor units for the currencies our shops settle in; anything else uses 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "IDR": 0}
AMOUNT_PLACES = 2  # the precision every amount column stores


def parse_amount(value: object, *, field: str = "amount") -> Decimal:
    """Turn a decimal string or integer into a ``Decimal`` rounded to the stored precision.

    Floats are refused: binary floating point cannot hold 0.1 exactly.
    """
    if isinstance(value, (bool, float)):
        raise ValidationFailed(
            f"{field} must be a decimal string, not a float", field=field
        )
    if value is None or value == "":
        return Decimal("0.00")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValidationFailed(
            f"{field} is not a number: {value!r}", field=field
        ) from exc
    if not amount.is_finite():
        raise ValidationFailed(f"{field} is not a finite number", field=field)
    return amount.quantize(Decimal(1).scaleb(-AMOUNT_PLACES), rounding=ROUND_HALF_UP)


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
