"""Dashboard routes: order messages, customer-service notes, a buyer's history."""

from django.urls import path  # noqa: F401

app_name = "conversation"

urlpatterns: list = []
