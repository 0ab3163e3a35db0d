"""Dashboard routes: the after-sales inbox and case pages."""

from django.urls import path

from aftersales import views

app_name = "aftersales"

urlpatterns = [
    path("aftersales/", views.inbox, name="inbox"),
    path("aftersales/batch/", views.batch, name="batch"),
    path("aftersales/cases/<int:case_id>/", views.case_page, name="case"),
    path("aftersales/cases/<int:case_id>/act/", views.case_action, name="act"),
]
