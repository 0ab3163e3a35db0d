"""Dashboard routes for shipping. Included before the orders dashboard, whose
``orders/<id>/<action>/`` would otherwise take ``orders/<id>/ship/``."""

from django.urls import path

from logistics import views

app_name = "logistics"

urlpatterns = [
    path("orders/<int:order_id>/ship/", views.ship_order, name="ship"),
]
