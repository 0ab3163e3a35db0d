"""API routes for after-sales (scope aftersales:write for changes)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
