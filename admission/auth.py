"""Who calls /k8s/admission: the cluster the kube-apiserver speaks for. A cluster token
(`Authorization: Bearer`, from the apiserver's webhook kubeconfig); or, only when
IPRESMGR_ADMISSION_CLIENT_DN_HEADER names a header, the client certificate that the TLS front
verified, whose subject DN that front passes in the header (its CN is the cluster ID)."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings

from contract.framework.envelope import as_service_error
from core.choices import Code
from core.domain import Actor, is_cluster_id
from core.errors import ServiceError
from pools.auth import BearerTokenAuthentication
from pools.models import Cluster

OPERATOR_TOKEN_MSG = (
    "an operator token names no cluster; the admission webhook needs a cluster token "
    "(manage.py create_token --cluster-id ID)"
)
ANONYMOUS_MSG = "the admission webhook needs a cluster token (IPRESMGR_ALLOW_ANONYMOUS does not apply to it)"
COMMON_NAME = re.compile(r"(?:^|[,/+])\s*CN=([^,/+]*)", re.IGNORECASE)


def admission_actor(request) -> Actor:
    """The cluster the apiserver speaks for: its cluster token (`Authorization: Bearer`), or, with
    no Authorization header and IPRESMGR_ADMISSION_CLIENT_DN_HEADER set, the CN of the client
    certificate the TLS front verified. Anything else is refused: the webhook acts for one cluster."""
    if not request.META.get("HTTP_AUTHORIZATION"):
        actor = client_certificate_actor(request)
        if actor is not None:
            return actor
    try:
        authenticated = BearerTokenAuthentication().authenticate(request)
    except Exception as exc:  # noqa: BLE001 - DRF's 401s become Code 2, a database error Code 50
        raise as_service_error(exc) from exc
    actor = authenticated[0]
    if actor.cluster_id is None:
        if actor.is_operator:
            raise ServiceError(Code.FORBIDDEN, OPERATOR_TOKEN_MSG)
        raise ServiceError(Code.UNAUTHENTICATED, ANONYMOUS_MSG)
    return actor


def client_certificate_actor(request) -> Actor | None:
    header = settings.IPRESMGR_ADMISSION_CLIENT_DN_HEADER
    if not header:
        return None
    subject = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    if not subject:
        return None
    peer = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted_proxy(peer):
        raise ServiceError(
            Code.UNAUTHENTICATED,
            f"{header} is believed only from IPRESMGR_ADMISSION_TRUSTED_PROXIES; {peer or 'this peer'} is not one",
        )
    found = COMMON_NAME.search(subject)
    cluster_id = found.group(1).strip() if found else ""
    if not is_cluster_id(cluster_id) or not Cluster.objects.filter(cluster_id=cluster_id).exists():
        raise ServiceError(
            Code.UNAUTHENTICATED, f"client certificate {subject[:200]!r}: its CN names no registered cluster"
        )
    return Actor(label=f"cluster {cluster_id} client certificate", cluster_id=cluster_id)


def _is_trusted_proxy(peer: str) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in settings.IPRESMGR_ADMISSION_TRUSTED_PROXIES)
