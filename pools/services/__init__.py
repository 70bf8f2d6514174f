"""Writes for clusters, tokens, subnets and pools. Every door (API, console, commands) comes here.

One module per idea; the allocation rules and their locks are in pools.allocation."""

from pools.services.access import subnet_access_set, subnet_grant, subnet_revoke
from pools.services.clusters import cluster_create, token_create, token_revoke
from pools.services.pools import (
    pool_create,
    pool_release,
    pool_release_one,
    pool_resize,
    pool_scale,
    released_pools_purge,
)
from pools.services.quarantine import quarantine_clear
from pools.services.subnets import (
    SubnetDefinition,
    subnet_change_check,
    subnet_create,
    subnet_definition_check,
    subnet_register,
    subnet_update,
)

__all__ = [
    "SubnetDefinition",
    "cluster_create",
    "pool_create",
    "pool_release",
    "pool_release_one",
    "pool_resize",
    "pool_scale",
    "quarantine_clear",
    "released_pools_purge",
    "subnet_access_set",
    "subnet_change_check",
    "subnet_create",
    "subnet_definition_check",
    "subnet_grant",
    "subnet_register",
    "subnet_revoke",
    "subnet_update",
    "token_create",
    "token_revoke",
]
