from django.urls import include, path

from observability import views as observability

urlpatterns = [
    path("healthz", observability.healthz, name="health"),
    path("readyz", observability.readyz, name="ready"),
    path("metrics", observability.metrics_view, name="metrics"),
    path("", include("console.urls")),
    path("", include("backups.urls")),
    path("", include("audit.urls")),
    path("", include("fleet.urls")),
]

handler404 = "bycloud_ui.views.page_not_found"
handler500 = "bycloud_ui.views.server_error"
