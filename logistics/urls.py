"""Dashboard routes for shipping. Included before the orders dashboard, whose
``orders/<id>/<action>/`` would otherwise take ``orders/<id>/ship/``."""

from django.urls import path

from logistics import views

app_name = "logistics"

urlpatterns = [
    path("orders/<int:order_id>/ship/", views.ship_order, name="ship"),
    path("warehouse/print/", views.print_page, name="print"),
    path("warehouse/batches/<int:batch_id>/", views.batch_page, name="batch"),
    path(
        "warehouse/batches/<int:batch_id>/<str:kind>.pdf",
        views.batch_pdf,
        name="batch-pdf",
    ),
    path("warehouse/batches/<int:batch_id>/scan/", views.scan_page, name="scan"),
]

urlpatterns += [
    path("warehouse/to-ship/", views.queue_page, name="queue"),
]

urlpatterns += [
    path("warehouse/pools/", views.pools_page, name="pools"),
    path("warehouse/carriers/", views.carriers_page, name="carriers"),
    path("warehouse/merge/", views.merge, name="merge"),
    path("warehouse/merge/<int:group_id>/undo/", views.undo_merge, name="undo-merge"),
    path(
        "orders/<int:order_id>/packages/<int:package_id>/redelivery/",
        views.redelivery,
        name="redelivery",
    ),
    path("orders/<int:order_id>/split/undo/", views.undo_split, name="undo-split"),
]
