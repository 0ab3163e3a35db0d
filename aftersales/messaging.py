"""Order messages, customer-service notes and a buyer's history (PRODUCT.md A4).

- ``send_message`` writes a seller's message to the buyer of an order, after checking it
  against the platform's rule (``rule_for``: the one its package declares).
  A refused message is not stored.
- ``record_buyer_message`` stores a buyer's message the platform reported; the same
  ``platform_message_id`` again returns the stored one (pushes and polls repeat).
- ``add_note`` adds a customer-service note on an order, or on its buyer (every order of
  that buyer on that platform shows it).
- ``buyer_history`` finds the buyer's orders across every shop of the organisation the
  caller may see, with counts and totals per currency, open after-sales cases and notes.

Messages are stored here; pushing a seller's message to the platform needs each
platform's messaging API, which no platform client implements yet.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.choices import CaseState, MessageDirection, NoteSubject
from aftersales.models import Case, Message, Note
from oms.core.errors import NotFound, PermissionDenied, ValidationFailed
from oms.core.timeutils import parse_iso
from orders import events as order_events
from orders import permissions as p
from orders.capabilities import PLATFORM_RULE as PLATFORM_RULE  # re-exported
from orders.capabilities import PRODUCT_DEFAULT, MessageRule
from orders.choices import ActorKind, EventType
from orders.models import Order, Organisation
from orders.permissions import role_allows
from orders.platforms import platforms
from orders.services import Actor, allowed_shops_for, check_scope

# --- each platform's rules for a seller's message ------------------------------------
# Each platform package declares its rule (``Platform.message_rule``); the type and the
# sources (PLATFORM_RULE, PRODUCT_DEFAULT) are in ``orders.capabilities``.

# A platform that declares no rule of its own.
DEFAULT_RULE = MessageRule(
    max_length=2000,
    english_only=False,
    source=PRODUCT_DEFAULT,
    doc="Product default for a platform that declares no message rule.",
)

# "English only", precisely: printable ASCII (U+0020–U+007E: the English letters A–Z and
# a–z, digits, space and the punctuation of an English keyboard), line breaks and tabs,
# and the typographic quotes, dashes and ellipsis editors put in English text. Anything
# else is refused: accented or other non-ASCII letters (é, ß), CJK, Hangul, Kana,
# Cyrillic, Arabic, full-width punctuation (，。), emoji, no-break spaces.
ENGLISH_EXTRAS = frozenset("\n\t\u2018\u2019\u201c\u201d\u2013\u2014\u2026")


def message_rules() -> dict[str, MessageRule]:
    """The rule each installed platform declares, by platform code."""
    return {
        code: platform.message_rule
        for code, platform in platforms().items()
        if platform.message_rule is not None
    }


def rule_for(platform: str) -> MessageRule:
    return message_rules().get(platform, DEFAULT_RULE)


def normalise(body: str) -> str:
    """Line breaks as ``\\n`` (browsers send ``\\r\\n``), no surrounding whitespace."""
    return str(body or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def describe_character(char: str) -> str:
    """``"你" (U+4F60 CJK UNIFIED IDEOGRAPH-4F60)``; invisible ones by code only."""
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    label = f"{code} {name}".strip()
    if char.isprintable() and not char.isspace():
        return f'"{char}" ({label})'
    return label


@dataclass(frozen=True)
class Offence:
    position: int  # 1-based, in the normalised text
    char: str

    @property
    def details(self) -> dict:
        return {
            "position": self.position,
            "character": self.char,
            "codepoint": f"U+{ord(self.char):04X}",
            "name": unicodedata.name(self.char, ""),
        }


def english_problem(text: str) -> Offence | None:
    """The first character that is not allowed in an English-only message."""
    for index, char in enumerate(text):
        if not (" " <= char <= "~" or char in ENGLISH_EXTRAS):
            return Offence(index + 1, char)
    return None


def control_problem(text: str) -> Offence | None:
    """The first control character other than a line break or tab (any platform)."""
    for index, char in enumerate(text):
        if char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs"):
            return Offence(index + 1, char)
    return None


def check_message(platform: str, body: str) -> str:
    """The message as it will be stored, or ``ValidationFailed`` naming what is wrong.

    ``details`` carry ``reason`` (``empty``, ``too_long``, ``not_english``,
    ``control_character``), ``fields.body`` and, for a character, its ``position``
    (1-based), ``character``, ``codepoint`` and ``name``.
    """
    rule = rule_for(platform)
    text = normalise(body)
    if not text:
        message = _("The message is empty.")
        raise ValidationFailed(message, reason="empty", fields={"body": message})
    if len(text) > rule.max_length:
        message = _(
            "The message is %(length)s characters long; %(platform)s allows at most "
            "%(max)s."
        ) % {
            "length": f"{len(text):,}",
            "platform": platform_label(platform),
            "max": f"{rule.max_length:,}",
        }
        raise ValidationFailed(
            message,
            reason="too_long",
            length=len(text),
            max_length=rule.max_length,
            fields={"body": message},
        )
    offence = english_problem(text) if rule.english_only else None
    if offence is not None:
        message = _(
            "%(platform)s messages must be in English: character %(position)s, "
            "%(character)s, is not allowed."
        ) % {
            "platform": platform_label(platform),
            "position": offence.position,
            "character": describe_character(offence.char),
        }
        raise ValidationFailed(
            message, reason="not_english", fields={"body": message}, **offence.details
        )
    offence = control_problem(text)
    if offence is not None:
        message = _(
            "The message contains a control character at position %(position)s "
            "(%(character)s)."
        ) % {
            "position": offence.position,
            "character": describe_character(offence.char),
        }
        raise ValidationFailed(
            message,
            reason="control_character",
            fields={"body": message},
            **offence.details,
        )
    return text


def platform_label(platform: str) -> str:
    from orders.platforms import registry

    spec = registry().get(platform)
    return str(spec.label) if spec else platform


# --- permissions and scope -------------------------------------------------------------


def _require(actor: Actor, *permissions: str, message: str) -> None:
    """A member needs one of ``permissions``; API clients are held by their key's
    scope, platforms and jobs are trusted."""
    if actor.membership is None:
        return
    if not any(role_allows(actor.membership.role, perm) for perm in permissions):
        raise PermissionDenied(message, permission=" | ".join(permissions))


def can_message(actor: Actor) -> bool:
    return actor.membership is None or role_allows(
        actor.membership.role, p.DECIDE_AFTERSALES
    )


def can_note(actor: Actor) -> bool:
    return actor.membership is None or any(
        role_allows(actor.membership.role, perm)
        for perm in (p.MEMO, p.DECIDE_AFTERSALES)
    )


def _order(order: Order | int, actor: Actor) -> Order:
    """The order, if the actor may see it (a 404 otherwise, as for a missing one)."""
    order_id = order.pk if isinstance(order, Order) else order
    found = Order.objects.select_related("shop").filter(pk=order_id).first()
    if found is None:
        raise NotFound("No such order.", order_id=order_id)
    check_scope(found, actor, allowed_shops_for(actor))
    return found


def _author(actor: Actor) -> dict:
    return {
        "author": actor.membership.user if actor.membership else None,
        "author_label": actor.label[:150],
    }


# --- messages --------------------------------------------------------------------------


def send_message(
    order: Order | int, body: str, actor: Actor, *, now: datetime | None = None
) -> Message:
    """Write a seller's message to the order's buyer.

    Refused, with nothing stored: an order the actor may not see (``NotFound``), a role
    without ``aftersales.decide`` (``PermissionDenied``), a message the platform's rule
    refuses (``ValidationFailed``, see ``check_message``). The order's timeline gets an
    ``message`` entry ``message.sent``.
    """
    now = now or timezone.now()
    order = _order(order, actor)
    _require(
        actor,
        p.DECIDE_AFTERSALES,
        message=_("Your role may not send messages to buyers."),
    )
    text = check_message(order.platform, body)
    with transaction.atomic():
        message = Message.objects.create(
            organisation_id=order.organisation_id,
            order=order,
            direction=MessageDirection.TO_BUYER,
            body=text,
            created_at=now,
            **_author(actor),
        )
        _log(order, message, "message.sent", actor, now)
    return message


def record_buyer_message(
    order: Order | int,
    body: str,
    platform_message_id: str,
    sent_at: datetime | str | None = None,
    *,
    actor: Actor | None = None,
) -> tuple[Message, bool]:
    """Store a buyer's message from the platform; returns ``(message, created)``.

    Idempotent by ``platform_message_id`` within the order: a repeat (even a concurrent
    one) returns the stored message unchanged and writes nothing. The buyer's text is
    kept as sent: the seller's rules (English only …) do not apply to it.
    """
    platform_message_id = str(platform_message_id or "").strip()
    if not platform_message_id or len(platform_message_id) > 64:
        raise ValidationFailed(
            fields={"platform_message_id": "required, at most 64 characters"}
        )
    text = normalise(body)
    if not text:
        raise ValidationFailed(fields={"body": "empty"})
    if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
        # The database cannot store them; anything else the buyer wrote is kept.
        raise ValidationFailed(fields={"body": "contains NUL or a lone surrogate"})
    when = parse_iso(sent_at, field="sent_at") if sent_at else None
    order_id = order.pk if isinstance(order, Order) else order
    found = Order.objects.select_related("shop").filter(pk=order_id).first()
    if found is None:
        raise NotFound("No such order.", order_id=order_id)
    actor = actor or Actor.platform(found.platform)
    check_scope(found, actor, allowed_shops_for(actor))
    existing = Message.objects.filter(
        order=found, platform_message_id=platform_message_id
    ).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organisation_id=found.organisation_id,
                order=found,
                direction=MessageDirection.FROM_BUYER,
                body=text,
                platform_message_id=platform_message_id,
                author_label=found.buyer_nick[:150],
                created_at=when or now,
            )
            _log(found, message, "message.received", actor, now)
    except IntegrityError:
        # The same message arrived twice at once; the other one stored it.
        stored = Message.objects.filter(
            order=found, platform_message_id=platform_message_id
        ).first()
        if stored is None:
            raise
        return stored, False
    return message, True


def _log(order: Order, message: Message, action: str, actor: Actor, now) -> None:
    # The text stays on the message (personal data), not on the timeline.
    order_events.record(
        order,
        EventType.MESSAGE,
        actor,
        now=now,
        action=action,
        from_status=order.native_status,
        to_status=order.native_status,
        data={
            "message": message.pk,
            "direction": message.direction,
            "length": len(message.body),
            **(
                {"platform_message_id": message.platform_message_id}
                if message.platform_message_id
                else {}
            ),
        },
    )


def thread(order: Order) -> QuerySet[Message]:
    """The order's messages, oldest first (the caller has checked the order's scope)."""
    return Message.objects.filter(order=order).order_by("created_at", "id")


# --- buyers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """A buyer as an organisation knows them: a nick on a platform, maybe a phone."""

    organisation_id: int
    platform: str
    nick: str
    phone: str = ""

    @classmethod
    def of(cls, order: Order) -> Buyer:
        return cls(
            order.organisation_id,
            order.platform,
            order.buyer_nick.strip(),
            order.buyer_phone.strip(),
        )

    @classmethod
    def from_key(
        cls, organisation: Organisation | int, key: str, phone: str = ""
    ) -> Buyer:
        platform, _sep, nick = str(key).partition(":")
        if not platform or not nick:
            raise ValidationFailed(fields={"buyer": "<platform>:<buyer nick>"})
        organisation_id = (
            organisation.pk if isinstance(organisation, Organisation) else organisation
        )
        return cls(organisation_id, platform, nick, phone)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.nick}" if self.nick else ""

    @property
    def matchable_phone(self) -> str:
        """The phone, if it can identify a person: platforms mask phones (TikTok
        ``(+60)11****78``, Taobao's ``receiver_phone``), and two masked numbers that
        look alike are not the same buyer."""
        phone = self.phone
        if not phone or "*" in phone or sum(c.isdigit() for c in phone) < 7:
            return ""
        return phone

    def orders_q(self) -> Q:
        """Same platform and nick, or same phone; each arm names the organisation, so
        each is one index (``order_org_nick_idx``, ``order_org_phone_idx``)."""
        query = Q(pk__in=[])
        if self.nick:
            query |= Q(
                organisation_id=self.organisation_id,
                platform=self.platform,
                buyer_nick=self.nick,
            )
        if self.matchable_phone:
            query |= Q(
                organisation_id=self.organisation_id, buyer_phone=self.matchable_phone
            )
        return query


# --- notes -------------------------------------------------------------------------------

MAX_NOTE = 2000


def add_note(
    subject: Order | int | Buyer,
    body: str,
    actor: Actor,
    *,
    on_buyer: bool = False,
    now: datetime | None = None,
) -> Note:
    """Add a customer-service note on an order, or on a buyer.

    ``subject`` is an order (the note is on it, or with ``on_buyer`` on its buyer) or a
    ``Buyer`` (who must have an order the actor may see). Needs the memo or the
    after-sales permission. A buyer note is on ``"<platform>:<buyer nick>"``, so an
    order without a buyer nick can have order notes only.
    """
    now = now or timezone.now()
    if isinstance(subject, Buyer):
        buyer, order = subject, None
        if actor.kind in (ActorKind.MEMBER, ActorKind.API_CLIENT) and (
            actor.organisation_id != buyer.organisation_id
        ):
            raise NotFound("No such buyer.")
        visible = _visible_orders(buyer.organisation_id, actor)
        if not buyer.nick or not visible.filter(buyer.orders_q()).exists():
            raise NotFound("No such buyer.")
    else:
        order = _order(subject, actor)
        buyer = Buyer.of(order)
    _require(
        actor,
        p.MEMO,
        p.DECIDE_AFTERSALES,
        message=_("Your role may not write customer-service notes."),
    )
    text = normalise(body)
    if not text:
        raise ValidationFailed(_("The note is empty."), fields={"body": "empty"})
    offence = control_problem(text)
    if offence is not None:
        message = _(
            "The note contains a control character at position %(position)s "
            "(%(character)s)."
        ) % {
            "position": offence.position,
            "character": describe_character(offence.char),
        }
        raise ValidationFailed(
            message, reason="control_character", fields={"body": message}
        )
    if len(text) > MAX_NOTE:
        raise ValidationFailed(
            _("A note has at most %(max)s characters.") % {"max": f"{MAX_NOTE:,}"},
            fields={"body": f"at most {MAX_NOTE} characters"},
        )
    if order is None or on_buyer:
        if not buyer.key:
            raise ValidationFailed(
                _("This order has no buyer nick, so it can have order notes only."),
                fields={"subject": "the order has no buyer nick"},
            )
        return Note.objects.create(
            organisation_id=buyer.organisation_id,
            subject=NoteSubject.BUYER,
            buyer_key=buyer.key,
            body=text,
            created_at=now,
            **_author(actor),
        )
    return Note.objects.create(
        organisation_id=order.organisation_id,
        subject=NoteSubject.ORDER,
        order=order,
        body=text,
        created_at=now,
        **_author(actor),
    )


def notes_for(order: Order) -> QuerySet[Note]:
    """The order's notes and its buyer's, newest first (scope checked by the caller)."""
    query = Q(subject=NoteSubject.ORDER, order=order)
    key = Buyer.of(order).key
    if key:
        query |= Q(subject=NoteSubject.BUYER, buyer_key=key)
    return Note.objects.filter(query, organisation_id=order.organisation_id).order_by(
        "-created_at", "-id"
    )


# --- a buyer's history -------------------------------------------------------------------

HISTORY_LIMIT = 50  # orders listed (counts and totals cover all of them)
NOTES_LIMIT = 100
KEYS_LIMIT = 20


@dataclass
class CurrencyTotal:
    currency: str
    orders: int
    total: Decimal


@dataclass
class BuyerHistory:
    buyer: Buyer
    order_count: int
    totals: list[CurrencyTotal]
    orders: list[Order]  # newest first, at most HISTORY_LIMIT, with ``shop``
    has_more: bool
    open_cases: list[Case]  # soonest deadline first, with ``order``
    notes: list[Note]  # the buyer's (under any of their nicks) and their orders'
    buyer_keys: list[str] = field(default_factory=list)


def _visible_orders(organisation_id: int, actor: Actor) -> QuerySet[Order]:
    queryset = Order.objects.filter(organisation_id=organisation_id)
    shops = allowed_shops_for(actor)
    if shops is not None:
        queryset = queryset.filter(shop_id__in=shops)
    return queryset


def buyer_history(
    subject: Order | int | tuple[Organisation | int, Buyer | str],
    actor: Actor,
    *,
    limit: int = HISTORY_LIMIT,
) -> BuyerHistory:
    """The buyer's orders across every shop of the organisation the actor may see.

    The buyer is the order's, or ``(organisation, buyer)`` with a ``Buyer`` or a
    ``"<platform>:<nick>"`` key. An order matches on the same platform and buyer nick,
    or on the same phone (unmasked, see ``Buyer.matchable_phone``). A member or API key
    limited to shops sees only those shops' orders, cases and order notes; buyer notes
    are the organisation's. A fixed number of queries, whatever the number of orders.
    """
    if isinstance(subject, tuple):
        organisation, who = subject
        organisation_id = (
            organisation.pk if isinstance(organisation, Organisation) else organisation
        )
        if actor.kind in (ActorKind.MEMBER, ActorKind.API_CLIENT) and (
            actor.organisation_id != organisation_id
        ):
            raise NotFound("No such buyer.")
        buyer = who if isinstance(who, Buyer) else Buyer.from_key(organisation_id, who)
        anchor = None
    else:
        anchor = _order(subject, actor)
        buyer = Buyer.of(anchor)
        organisation_id = anchor.organisation_id
    visible = _visible_orders(organisation_id, actor)
    query = buyer.orders_q()
    if anchor is not None:
        query |= Q(pk=anchor.pk)  # a buyer with neither nick nor phone: just this order
    matched = visible.filter(query)

    by_currency = list(
        matched.order_by()
        .values("currency")
        .annotate(orders=Count("id"), total=Sum("total"))
        .order_by("currency")
    )
    totals = [
        CurrencyTotal(row["currency"], row["orders"], row["total"] or Decimal(0))
        for row in by_currency
    ]
    rows = list(
        matched.select_related("shop").order_by("-created_at", "-id")[: limit + 1]
    )
    open_cases = list(
        Case.objects.filter(order__in=matched.values("pk"), state=CaseState.OPEN)
        .select_related("order")
        .order_by("due_at", "opened_at", "id")
    )
    keys = [
        f"{platform}:{nick}"
        for platform, nick in matched.exclude(buyer_nick="")
        .order_by()
        .values_list("platform", "buyer_nick")
        .distinct()[:KEYS_LIMIT]
    ]
    notes_query = Q(subject=NoteSubject.ORDER, order__in=matched.values("pk"))
    if keys:
        notes_query |= Q(subject=NoteSubject.BUYER, buyer_key__in=keys)
    notes = list(
        Note.objects.filter(notes_query, organisation_id=organisation_id)
        .select_related("order__shop")
        .order_by("-created_at", "-id")[:NOTES_LIMIT]
    )
    return BuyerHistory(
        buyer=buyer,
        order_count=sum(total.orders for total in totals),
        totals=totals,
        orders=rows[:limit],
        has_more=len(rows) > limit,
        open_cases=open_cases,
        notes=notes,
        buyer_keys=keys,
    )
