"""API routes for after-sales (scope aftersales:write for changes)."""

from django.urls import path

from aftersales.api import views

urlpatterns = [
    path("cases/", views.CaseListApi.as_view(), name="api-cases"),
    path("cases/ingest/", views.CaseIngestApi.as_view(), name="api-cases-ingest"),
    path(
        "cases/batch/<str:action>/",
        views.CaseBatchApi.as_view(),
        name="api-cases-batch",
    ),
    path("cases/<int:case_id>/", views.CaseDetailApi.as_view(), name="api-case"),
    # One route per seller action, so each is documented with its own example.
    *[
        path(
            f"cases/<int:case_id>/{action}/",
            view.as_view(),
            name=f"api-case-{action}",
        )
        for action, view in views.ACTION_VIEWS.items()
    ],
    # Any other name: the platform's own actions are refused by the machine (409).
    path(
        "cases/<int:case_id>/<str:action>/",
        views.CaseOtherActionApi.as_view(),
        name="api-case-action",
    ),
]
