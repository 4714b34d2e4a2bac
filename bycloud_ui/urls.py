from django.urls import include, path

from bycloud_ui import views

urlpatterns = [
    path("healthz", views.health, name="health"),
    path("", include("console.urls")),
    path("", include("backups.urls")),
    path("", include("audit.urls")),
]

handler404 = "bycloud_ui.views.page_not_found"
handler500 = "bycloud_ui.views.server_error"
