"""API fields that carry the platform's input rules (one validator per kind of value)."""

from decimal import Decimal

from rest_framework import serializers

from oms.core.errors import ValidationFailed
from oms.core.money import AMOUNT_DIGITS, AMOUNT_PLACES, parse_amount


class AmountField(serializers.DecimalField):
    """A money amount: a decimal string, checked by ``oms.core.money.parse_amount``.

    Non-negative (more than 0 with ``positive``), a plain decimal with at most two
    places, within the amount columns' digits. The currency's own decimals are checked
    where the currency is known (the service, with the order).
    """

    def __init__(self, *, positive: bool = False, **kwargs) -> None:
        self.positive = positive
        kwargs.setdefault("max_digits", AMOUNT_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_PLACES)
        kwargs.setdefault("coerce_to_string", True)
        kwargs.setdefault("min_value", Decimal("0.01") if positive else Decimal(0))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return parse_amount(
                data, field=self.field_name or "amount", positive=self.positive
            )
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from None


MAX_ID = 2**63 - 1  # ids are bigints


class IdField(serializers.IntegerField):
    """An object id: a whole number from 1 to the largest bigint."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
