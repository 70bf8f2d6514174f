from django.urls import path

from pools import views

urlpatterns = [
    path("v1/ippool/create", views.CreateIPPoolView.as_view(), name="ippool-create"),
    path("v1/ippool/release", views.ReleaseIPPoolView.as_view(), name="ippool-release"),
    path("v1/ippool/scale", views.ScaleIPPoolView.as_view(), name="ippool-scale"),
]
