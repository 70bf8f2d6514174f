"""A URLconf for tests only: the real endpoints plus one whose view sets `ipresmgr_log_fields`, the
hook a /v1 view uses to give its call line's fields itself."""

from django.http import JsonResponse
from django.urls import path

from ipresmgr_site.urls import urlpatterns as real_urlpatterns


def view_with_fields(request):
    request.ipresmgr_log_fields = {
        "ReqID": "given-1",
        "Code": 0,
        "cluster": "c-given",
        "namespace": "ns-given",
        "kind": 1,
        "workload": "sts-given",
        "pod": "pod-given",
        "ip": "10.9.9.9",
    }
    return JsonResponse({"ReqID": "from-answer", "Code": 3, "Msg": "the view's own fields win"})


urlpatterns = [path("v1/test/fields", view_with_fields), *real_urlpatterns]
