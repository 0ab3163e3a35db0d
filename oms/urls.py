"""URL routes: the admin, a health check, and (as features land) the dashboard and API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from orders.signin import SignInForm


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown API paths answer in the API's error shape, not with an HTML page."""
    return JsonResponse(
        {
            "error": {
                "code": "not_found",
                "message": "No such API endpoint.",
                "details": {},
            }
        },
        status=404,
    )


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


# Django's error pages, except under /api/ where they answer in the API's error shape.
handler400 = "oms.core.api.outer.bad_request"
handler403 = "oms.core.api.outer.permission_denied"
handler404 = "oms.core.api.outer.page_not_found"
handler500 = "oms.core.api.outer.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", healthz, name="healthz"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/v1/docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/v1/", include("logistics.api.urls")),  # before orders: orders/batch/ship/
    path("api/v1/", include("aftersales.api.urls")),
    path("api/v1/", include("aftersales.api.messaging_urls")),
    path("api/v1/", include("orders.api.urls")),
    path("api/v1/", include("integrations.api.urls")),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("logistics.urls")),  # before orders: orders/<id>/ship/
    path("", include("aftersales.urls")),
    path("", include("aftersales.conversation_urls")),
    path("", include("orders.urls")),
]
