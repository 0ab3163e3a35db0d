"""The OMS project package: settings, URLs, the Celery app and shared core code."""

from oms.celery import app as celery_app

__all__ = ("celery_app",)
