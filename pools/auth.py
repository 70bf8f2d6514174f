"""Bearer tokens: a cluster token acts on its own K8SClusterID, an operator token on all."""

from __future__ import annotations

from django.conf import settings
from rest_framework import authentication, exceptions

from pools.domain import ANONYMOUS, Actor
from pools.models import ApiToken

NO_TOKEN_MSG = "no token: send Authorization: Bearer <token>"


def actor_for_token(token: ApiToken) -> Actor:
    if token.is_operator:
        return Actor(label=f"operator token {token.prefix}", is_operator=True)
    cluster_id = token.cluster.cluster_id
    return Actor(label=f"cluster {cluster_id} token {token.prefix}", cluster_id=cluster_id)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Sets request.user to an Actor. No header: anonymous when IPRESMGR_ALLOW_ANONYMOUS, else 401.
    A header with an unknown or revoked token is always 401."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            if settings.IPRESMGR_ALLOW_ANONYMOUS:
                return ANONYMOUS, None
            raise exceptions.NotAuthenticated(NO_TOKEN_MSG)
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <token>'")
        token = ApiToken.objects.live().select_related("cluster").filter(key_hash=ApiToken.hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("unknown or revoked token")
        return actor_for_token(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="ipresmgr"'
