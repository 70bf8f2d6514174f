"""A URLconf for tests only: the real endpoints plus one that crashes, to see the envelope hold."""

from django.urls import path

from contract.framework.views import ContractView
from contract.ips_serializers import RequireIPRequest
from core.choices import ReqType
from ipresmgr_site.urls import urlpatterns as real_urlpatterns


class CrashingView(ContractView):
    request_serializer = RequireIPRequest
    req_type = ReqType.REQUIRE_IP

    def perform(self, ctx, data):
        raise RuntimeError("boom")


urlpatterns = [path("v1/test/crash", CrashingView.as_view()), *real_urlpatterns]
