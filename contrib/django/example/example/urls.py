from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("private/", views.private),
    path("me.json", views.me),
]
