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
    path(
        "print-batches/",
        views.PrintBatchCreateApi.as_view(),
        name="api-print-batches",
    ),
    path(
        "print-batches/<int:batch_id>/",
        views.PrintBatchDetailApi.as_view(),
        name="api-print-batch",
    ),
    path(
        "print-batches/<int:batch_id>/labels.pdf",
        views.PrintBatchLabelsApi.as_view(),
        name="api-print-batch-labels",
    ),
    path(
        "print-batches/<int:batch_id>/reprint/",
        views.PrintBatchReprintApi.as_view(),
        name="api-print-batch-reprint",
    ),
    path(
        "print-batches/<int:batch_id>/packing-slips.pdf",
        views.PrintBatchPackingSlipsApi.as_view(),
        name="api-print-batch-packing-slips",
    ),
    path(
        "print-batches/<int:batch_id>/pick-list.pdf",
        views.PrintBatchPickListApi.as_view(),
        name="api-print-batch-pick-list",
    ),
    path(
        "print-batches/<int:batch_id>/scan/",
        views.PrintBatchScanApi.as_view(),
        name="api-print-batch-scan",
    ),
    path(
        "tracking-events/",
        views.TrackingEventsApi.as_view(),
        name="api-tracking-events",
    ),
    path(
        "orders/<int:order_id>/tracking/",
        views.OrderTrackingApi.as_view(),
        name="api-order-tracking",
    ),
    path(
        "orders/<int:order_id>/redelivery/",
        views.OrderRedeliveryApi.as_view(),
        name="api-order-redelivery",
    ),
]
