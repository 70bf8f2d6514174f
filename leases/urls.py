from django.urls import path

from leases import views

urlpatterns = [
    path("v1/ip/require", views.RequireIPView.as_view(), name="ip-require"),
    path("v1/ip/release", views.ReleaseIPView.as_view(), name="ip-release"),
    path("v1/addresses", views.AddressListView.as_view(), name="addresses"),
    path("v1/reconcile/runs", views.ReconcileRunListView.as_view(), name="reconcile-runs"),
]
