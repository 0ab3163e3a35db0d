"""Dashboard routes: order messages, customer-service notes, a buyer's history."""

from django.urls import path

from aftersales import conversation_views as views

app_name = "conversation"

urlpatterns = [
    path(
        "orders/<int:order_id>/conversation/message/",
        views.send_message,
        name="send",
    ),
    path("orders/<int:order_id>/conversation/note/", views.add_note, name="note"),
    path("orders/<int:order_id>/buyer/", views.buyer, name="buyer"),
]
