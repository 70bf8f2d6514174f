from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from admission.views import k8s_not_found
from contract.framework.views import v1_not_found
from ipresmgr_site import pages

urlpatterns = [
    path("", include("contract.urls")),  # first: the CNI calls are most of the traffic
    path("", pages.home, name="home"),
    path("docs/<slug:name>.md", pages.doc, name="doc"),
    path("", include("admission.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # The audit log's console pages were under pools until it became its own app: old links still work.
    re_path(
        r"^admin/pools/auditevent/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/audit/auditevent/%(rest)s", query_string=True, permanent=True),
    ),
    path("admin/", admin.site.urls),
    # Must stay last: any other /v1/ path answers the JSON envelope, not an HTML 404.
    re_path(r"^v1/", v1_not_found),
    re_path(r"^k8s/", k8s_not_found),  # likewise: a Kubernetes Status, not HTML
]
