from django.urls import path

from orders.api import ingest_views, views

urlpatterns = [
    path("shops/", views.ShopListApi.as_view(), name="api-shops"),
    path("orders/", views.OrderListApi.as_view(), name="api-orders"),
    # One route per batch action, each with its own permission; others are 404.
    *[
        path(
            f"orders/batch/{action}/", view.as_view(), name=f"api-orders-batch-{action}"
        )
        for action, view in views.BATCH_VIEWS.items()
    ],
    path(
        "orders/bulk-upsert/",
        ingest_views.OrderBulkUpsertApi.as_view(),
        name="api-orders-bulk-upsert",
    ),
    path("orders/<int:order_id>/", views.OrderDetailApi.as_view(), name="api-order"),
    path(
        "orders/<int:order_id>/events/",
        views.OrderEventsApi.as_view(),
        name="api-order-events",
    ),
    path(
        "orders/<int:order_id>/memo/",
        views.OrderMemoApi.as_view(),
        name="api-order-memo",
    ),
    path(
        "orders/<int:order_id>/adjust-price/",
        views.OrderPriceApi.as_view(),
        name="api-order-price",
    ),
    path(
        "orders/<int:order_id>/address/",
        views.OrderAddressApi.as_view(),
        name="api-order-address",
    ),
    path(
        "orders/<int:order_id>/hold/",
        views.OrderHoldApi.as_view(),
        name="api-order-hold",
    ),
    path(
        "orders/<int:order_id>/release/",
        views.OrderReleaseApi.as_view(),
        name="api-order-release",
    ),
    path(
        "orders/<int:order_id>/cancel/",
        views.OrderCancelApi.as_view(),
        name="api-order-cancel",
    ),
]
