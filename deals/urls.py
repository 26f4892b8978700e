from django.urls import path

from deals import views

urlpatterns = [
    path("", views.home, name="home"),
]
