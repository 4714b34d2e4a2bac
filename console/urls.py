from django.urls import path

from console import views

urlpatterns = [
    path("signin", views.signin, name="signin"),
    path("signout", views.signout, name="signout"),
    path("region", views.region_switch, name="region-switch"),
]
