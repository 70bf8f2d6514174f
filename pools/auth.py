"""Bearer tokens: a cluster token acts on its own K8SClusterID, an operator token on all.

A token that was valid moments ago is taken from a small in-process cache rather than looked up on
every call (IPRESMGR_TOKEN_CACHE_SECONDS, default 10; 0 turns it off). The price: a revoked token
keeps working in the other processes for at most that long (the revoking process forgets it at
once). Unknown tokens are never cached: a new token works at once."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from rest_framework import authentication, exceptions

from core.domain import ANONYMOUS, Actor
from core.transactions import retrying
from pools.models import ApiToken

NO_TOKEN_MSG = "no token: send Authorization: Bearer <token>"


def actor_for_token(token: ApiToken) -> Actor:
    if token.is_operator:
        return Actor(label=f"operator token {token.prefix}", is_operator=True)
    cluster_id = token.cluster.cluster_id
    return Actor(label=f"cluster {cluster_id} token {token.prefix}", cluster_id=cluster_id)


class TokenCache:
    """Key hash -> (Actor, monotonic expiry). Bounded: when full, it starts over."""

    MAX_ENTRIES = 4096

    def __init__(self):
        self._entries: dict[str, tuple[Actor, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Actor | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key_hash: str, actor: Actor) -> None:
        seconds = settings.IPRESMGR_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key_hash] = (actor, time.monotonic() + seconds)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._entries.pop(key_hash, None)


token_cache = TokenCache()


@retrying
def _live_token(key_hash: str) -> ApiToken | None:
    return ApiToken.objects.live().select_related("cluster").filter(key_hash=key_hash).first()


def actor_for_key(key: str) -> Actor | None:
    """Who a bearer token's secret stands for; None when it is unknown or revoked."""
    key_hash = ApiToken.hash_key(key)
    actor = token_cache.get(key_hash)
    if actor is None:
        token = _live_token(key_hash)
        if token is None:
            return None
        actor = actor_for_token(token)
        token_cache.put(key_hash, actor)
    return actor


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
        actor = actor_for_key(key)
        if actor is None:
            raise exceptions.AuthenticationFailed("unknown or revoked token")
        return actor, None

    def authenticate_header(self, request):
        return 'Bearer realm="ipresmgr"'
