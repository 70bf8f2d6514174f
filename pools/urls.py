from django.urls import path

from pools.api import admission, read, webhook

urlpatterns = [
    path("v1/ippool/create", webhook.CreateIPPoolView.as_view(), name="ippool-create"),
    path("v1/ippool/release", webhook.ReleaseIPPoolView.as_view(), name="ippool-release"),
    path("v1/ippool/scale", webhook.ScaleIPPoolView.as_view(), name="ippool-scale"),
    path("v1/subnets", read.SubnetsView.as_view(), name="subnets"),
    path("v1/pools", read.PoolListView.as_view(), name="pools"),
    path("v1/events", read.EventListView.as_view(), name="events"),
    path("v1/quarantined-addresses", read.QuarantinedAddressListView.as_view(), name="quarantined-addresses"),
    path("k8s/admission", admission.AdmissionView.as_view(), name="k8s-admission"),
]
