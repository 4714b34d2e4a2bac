from django.urls import path

from audit import views

urlpatterns = [
    path("activity", views.activity, name="activity"),
]
