"""Shipping API routes. Included before the orders API, so ``orders/batch/ship/``
wins over the orders' ``orders/batch/<action>/``; no other route is shadowed."""

from django.urls import path

from logistics.api import views

urlpatterns = [
    path(
        "orders/batch/ship/",
        views.OrderBatchShipApi.as_view(),
        name="api-orders-batch-ship",
    ),
    path(
        "orders/<int:order_id>/ship/",
        views.OrderShipApi.as_view(),
        name="api-order-ship",
    ),
    path(
        "orders/<int:order_id>/packages/",
        views.OrderPackagesApi.as_view(),
        name="api-order-packages",
    ),
]
