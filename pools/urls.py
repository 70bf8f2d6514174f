from django.urls import path

from pools import read_views, views

urlpatterns = [
    path("v1/ippool/create", views.CreateIPPoolView.as_view(), name="ippool-create"),
    path("v1/ippool/release", views.ReleaseIPPoolView.as_view(), name="ippool-release"),
    path("v1/ippool/scale", views.ScaleIPPoolView.as_view(), name="ippool-scale"),
    path("v1/subnets", read_views.SubnetsView.as_view(), name="subnets"),
    path("v1/pools", read_views.PoolListView.as_view(), name="pools"),
    path("v1/addresses", read_views.AddressListView.as_view(), name="addresses"),
    path("v1/events", read_views.EventListView.as_view(), name="events"),
]
