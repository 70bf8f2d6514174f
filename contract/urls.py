"""The /v1 paths, each served by the file of contract/ named after what it serves."""

from django.urls import path

from contract import ippools, ips, reads, reconcile_runs

urlpatterns = [
    # First: every pod start and stop resolves one of these two, the rest are rare.
    path("v1/ip/require", ips.RequireIPView.as_view(), name="ip-require"),
    path("v1/ip/release", ips.ReleaseIPView.as_view(), name="ip-release"),
    path("v1/ippool/create", ippools.CreateIPPoolView.as_view(), name="ippool-create"),
    path("v1/ippool/release", ippools.ReleaseIPPoolView.as_view(), name="ippool-release"),
    path("v1/ippool/scale", ippools.ScaleIPPoolView.as_view(), name="ippool-scale"),
    path("v1/subnets", reads.SubnetsView.as_view(), name="subnets"),
    path("v1/pools", reads.PoolListView.as_view(), name="pools"),
    path("v1/events", reads.EventListView.as_view(), name="events"),
    path("v1/quarantined-addresses", reads.QuarantinedAddressListView.as_view(), name="quarantined-addresses"),
    path("v1/addresses", ips.AddressListView.as_view(), name="addresses"),
    path("v1/reconcile/runs", reconcile_runs.ReconcileRunListView.as_view(), name="reconcile-runs"),
]
