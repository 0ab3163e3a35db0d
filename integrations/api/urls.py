from django.urls import path

from integrations import inbound
from integrations.api import webhook_views

urlpatterns = [
    # Outbound webhooks (to ERPs).
    path("webhooks/", webhook_views.WebhookListApi.as_view(), name="api-webhooks"),
    path(
        "webhooks/<int:subscription_id>/",
        webhook_views.WebhookDetailApi.as_view(),
        name="api-webhook",
    ),
    path(
        "webhooks/<int:subscription_id>/deliveries/",
        webhook_views.WebhookDeliveriesApi.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/redeliver/",
        webhook_views.WebhookRedeliverApi.as_view(),
        name="api-webhook-redeliver",
    ),
    # Inbound platform pushes (no API key; signed by the platform).
    path(
        "platforms/<int:shop_id>/webhook/",
        inbound.PlatformWebhookApi.as_view(),
        name="api-platform-webhook",
    ),
]
