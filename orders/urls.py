from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="list"),
    path("orders/batch/", views.batch, name="batch"),
    path("orders/jobs/<int:job_id>/", views.job_detail, name="job"),
    path("orders/jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("orders/<int:order_id>/", views.order_detail, name="detail"),
    path("orders/<int:order_id>/<str:action>/", views.order_action, name="action"),
    path("organisation/", views.switch_organisation, name="switch-organisation"),
]
