"""Clusters and their bearer tokens. A token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import secrets

from django.utils import timezone

from audit.recording import audit_record
from core.choices import Code
from core.domain import CLUSTER_ID_RULE, CallContext, is_cluster_id
from core.errors import ServiceError
from core.transactions import service_transaction
from pools.auth import token_cache
from pools.models import ApiToken, Cluster

TOKEN_PREFIX = "ipr_"


def _issue_token(*, cluster: Cluster | None, description: str) -> tuple[ApiToken, str]:
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=ApiToken.hash_key(key),
        prefix=key[:12],
        cluster=cluster,
        is_operator=cluster is None,
        description=description,
    )
    return token, key


@service_transaction
def cluster_create(*, ctx: CallContext, cluster_id: str, description: str = "") -> tuple[Cluster, str]:
    """Register a cluster and issue its first token. Returns the token's secret, shown once."""
    if not is_cluster_id(cluster_id):
        raise ServiceError(Code.INVALID_REQUEST, f"K8SClusterID: {CLUSTER_ID_RULE}")
    if Cluster.objects.filter(cluster_id=cluster_id).exists():
        raise ServiceError(Code.INVALID_REQUEST, f"K8SClusterID: cluster {cluster_id!r} is already registered")
    cluster = Cluster.objects.create(cluster_id=cluster_id, description=description)
    token, key = _issue_token(cluster=cluster, description="first token")
    audit_record(ctx, msg=f"cluster {cluster_id} registered; token {token.prefix}… issued")
    return cluster, key


@service_transaction
def token_create(*, ctx: CallContext, cluster: Cluster | None, description: str = "") -> tuple[ApiToken, str]:
    """Issue a token for `cluster`, or an operator token when `cluster` is None."""
    token, key = _issue_token(cluster=cluster, description=description)
    audit_record(ctx, msg=f"{token.scope} token {token.prefix}… issued")
    return token, key


@service_transaction
def token_revoke(*, ctx: CallContext, token: ApiToken) -> ApiToken:
    """Revoke a token. This process forgets it at once; other processes' token caches within
    IPRESMGR_TOKEN_CACHE_SECONDS (pools.auth)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(ctx, msg=f"{token.scope} token {token.prefix}… revoked")
    token_cache.forget(token.key_hash)
    return token
