"""Dashboard forms for the warehouse screens.

Forms parse and show errors; the rules live in the services they call
(``logistics.services.pool_create_from_range`` / ``_from_list``), whose refusals are
turned into errors on the field they name.
"""

import re
from datetime import datetime

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from logistics import services
from logistics.errors import TrackingNumberTaken
from logistics.models import Carrier, TrackingNumberPool
from oms.core.errors import OmsError
from orders.models import Order

RANGE, LIST = "range", "list"
LISTED = 20  # taken numbers named in the form error


class PoolForm(forms.Form):
    """Record a pool bought from a carrier: a numeric range or a pasted list."""

    carrier = forms.ModelChoiceField(
        label=gettext_lazy("Carrier"),
        queryset=Carrier.objects.filter(is_active=True).order_by("code"),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    source = forms.ChoiceField(
        label=gettext_lazy("Numbers"),
        choices=[
            (RANGE, gettext_lazy("A numeric range")),
            (LIST, gettext_lazy("A pasted list")),
        ],
        initial=RANGE,
        widget=forms.RadioSelect,
    )
    prefix = forms.CharField(
        label=gettext_lazy("Prefix"), max_length=20, required=False
    )
    start = forms.IntegerField(label=gettext_lazy("From"), min_value=0, required=False)
    end = forms.IntegerField(label=gettext_lazy("To"), min_value=0, required=False)
    width = forms.IntegerField(
        label=gettext_lazy("Digits (zero-padded; 0: none)"),
        min_value=0,
        max_value=30,
        initial=0,
        required=False,
    )
    numbers = forms.CharField(
        label=gettext_lazy("Tracking numbers (one per line, or separated by commas)"),
        widget=forms.Textarea(attrs={"rows": 6, "cols": 40, "translate": "no"}),
        required=False,
    )
    price = forms.DecimalField(
        label=gettext_lazy("Price per number"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
    )
    currency = forms.CharField(
        label=gettext_lazy("Currency"), max_length=3, initial="CNY"
    )
    purchased_at = forms.DateTimeField(
        label=gettext_lazy("Purchased at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: now."),
    )
    expires_at = forms.DateTimeField(
        label=gettext_lazy("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: never."),
    )

    def __init__(self, *args, organisation, actor, zone, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.actor = actor
        self.zone = zone
        self.imported = 0

    def _in_zone(self, value: datetime | None) -> datetime | None:
        """The browser sends a wall-clock time: it is the shop's, not the server's."""
        if value is None:
            return None
        return value.replace(tzinfo=None).replace(tzinfo=self.zone)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("source") == RANGE:
            for name in ("start", "end"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, _("Needed for a range."))
        elif data.get("source") == LIST:
            data["number_list"] = [
                n for n in re.split(r"[\s,;]+", data.get("numbers") or "") if n
            ]
            if not data["number_list"] and "numbers" not in self.errors:
                self.add_error("numbers", _("Paste at least one tracking number."))
        return data

    def save(self) -> TrackingNumberPool | None:
        """Import through the services; on a refusal add it as a form error, return None."""
        data = self.cleaned_data
        common = {
            "organisation": self.organisation,
            "carrier": data["carrier"],
            "price": data["price"],
            "currency": data["currency"],
            "expires_at": self._in_zone(data.get("expires_at")),
            "purchased_at": self._in_zone(data.get("purchased_at")),
            "name": data["name"],
        }
        try:
            if data["source"] == RANGE:
                pool = services.pool_create_from_range(
                    prefix=(data.get("prefix") or "").strip().upper(),
                    start=data["start"],
                    end=data["end"],
                    width=data.get("width") or 0,
                    **common,
                )
                self.imported = data["end"] - data["start"] + 1
            else:
                pool = services.pool_create_from_list(
                    numbers=data["number_list"], **common
                )
                self.imported = len(data["number_list"])
        except OmsError as exc:
            self._refused(exc)
            return None
        return pool

    def _refused(self, exc: OmsError) -> None:
        if isinstance(exc, TrackingNumberTaken):
            self.add_error(None, self._taken_message(exc))
            return
        field = exc.details.get("field")
        if field in ("number", "numbers"):  # a bad number: the list, or the prefix
            field = "numbers" if self.data.get("source") == LIST else "prefix"
        if field in self.fields:
            self.add_error(field, exc.message)
        else:
            self.add_error(None, exc.message)

    def _taken_message(self, exc: TrackingNumberTaken) -> str:
        """Name the numbers already known and, for the organisation's own used numbers,
        the order each is on."""
        details = exc.details
        if details.get("duplicates_in_batch"):
            listed = ", ".join(details["duplicates_in_batch"][:LISTED])
            return _("These numbers are listed more than once: %(numbers)s.") % {
                "numbers": listed
            }
        owners = details.get("orders") or {}
        orders = dict(
            Order.objects.filter(
                organisation=self.organisation, pk__in=set(owners.values())
            ).values_list("pk", "platform_order_id")
        )
        parts = []
        for number in (details.get("numbers") or [])[:LISTED]:
            if number in owners and owners[number] in orders:
                parts.append(
                    _("%(number)s (used on order %(order)s)")
                    % {"number": number, "order": orders[owners[number]]}
                )
            else:
                parts.append(number)
        total = details.get("conflicts") or len(parts)
        more = total - len(parts)
        message = _(
            "Refused: %(n)s numbers are already known for this carrier and are never "
            "re-used: %(numbers)s"
        ) % {"n": total, "numbers": ", ".join(parts)}
        if more > 0:
            message += " " + _("and %(more)s more.") % {"more": more}
        return message
