"""Dashboard routes: the after-sales inbox and case pages."""

from django.urls import path  # noqa: F401

app_name = "aftersales"

urlpatterns: list = []
