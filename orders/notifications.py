"""In-app notifications, and email to owners for the ones that warrant it."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from orders.choices import NotificationLevel, Role
from orders.models import Membership, Notification, Order, Organisation

logger = logging.getLogger(__name__)


def notify(
    *,
    organisation: Organisation | int,
    kind: str,
    title: str,
    body: str = "",
    level: NotificationLevel = NotificationLevel.INFO,
    order: Order | None = None,
    membership: Membership | None = None,
    email_owners: bool = False,
) -> Notification:
    """Record a notification; with ``email_owners``, mail the owners after the commit."""
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    notification = Notification.objects.create(
        organisation_id=organisation_id,
        membership=membership,
        order=order,
        kind=kind,
        level=level,
        title=title,
        body=body,
    )
    if email_owners:
        transaction.on_commit(lambda: email_notification(notification.pk))
    return notification


def email_notification(notification_id: int) -> None:
    """Mail a notification to the organisation's owners (once)."""
    notification = Notification.objects.select_related("organisation").get(
        pk=notification_id
    )
    if notification.emailed_at or not notification.organisation.email_ship_warnings:
        return
    recipients = sorted(
        email
        for email in Membership.objects.filter(
            organisation_id=notification.organisation_id, role=Role.OWNER
        ).values_list("user__email", flat=True)
        if email
    )
    if not recipients:
        return
    try:
        send_mail(
            subject=f"[OMS] {notification.title}",
            message=notification.body or notification.title,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except OSError:
        logger.exception("could not email notification %s", notification_id)
        return
    Notification.objects.filter(pk=notification_id).update(emailed_at=timezone.now())
