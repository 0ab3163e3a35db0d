"""API routes for order messages, notes and a buyer's history (PRODUCT.md A4)."""

from django.urls import path

from aftersales.api import messaging

urlpatterns = [
    path(
        "orders/<int:order_id>/messages/",
        messaging.OrderMessagesApi.as_view(),
        name="api-order-messages",
    ),
    path(
        "orders/<int:order_id>/notes/",
        messaging.OrderNotesApi.as_view(),
        name="api-order-notes",
    ),
    path(
        "orders/<int:order_id>/buyer-history/",
        messaging.OrderBuyerHistoryApi.as_view(),
        name="api-order-buyer-history",
    ),
]
