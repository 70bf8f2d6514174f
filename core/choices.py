"""Names for the integers of the wire contract. No bare integers elsewhere."""

from django.db import models


class Kind(models.IntegerChoices):
    """K8SApiResourceKindType."""

    DEPLOYMENT = 0, "Deployment"
    STATEFULSET = 1, "StatefulSet"
    JOB = 2, "Job"
    CRONJOB = 3, "CronJob"


class ReqType(models.IntegerChoices):
    """WB2IPResMgrRequestType, extended with the IPAM calls for the audit log."""

    CREATE_IP_POOL = 0, "CreateIPPool"
    RELEASE_IP_POOL = 1, "ReleaseIPPool"
    SCALE_IP_POOL = 2, "ScaleIPPool"
    REQUIRE_IP = 3, "RequireIP"
    RELEASE_IP = 4, "ReleaseIP"


class Code(models.IntegerChoices):
    """IPResMgrErrorCode."""

    SUCCESS = 0, "Success"
    INVALID_REQUEST = 1, "InvalidRequest"
    UNAUTHENTICATED = 2, "Unauthenticated"
    FORBIDDEN = 3, "Forbidden"
    SUBNET_NOT_FOUND = 10, "SubnetNotFound"
    SUBNET_MISMATCH = 11, "SubnetMismatch"
    SUBNET_EXHAUSTED = 12, "SubnetExhausted"
    POOL_NOT_FOUND = 20, "PoolNotFound"
    POOL_CONFLICT = 21, "PoolConflict"
    NO_ADDRESS_AVAILABLE = 30, "NoAddressAvailable"
    ADDRESS_CONFLICT = 31, "AddressConflict"
    UNAVAILABLE = 50, "Unavailable"
    INTERNAL = 99, "Internal"


HTTP_STATUS_BY_CODE = {
    Code.SUCCESS: 200,
    Code.INVALID_REQUEST: 400,
    Code.UNAUTHENTICATED: 401,
    Code.FORBIDDEN: 403,
    Code.SUBNET_NOT_FOUND: 404,
    Code.SUBNET_MISMATCH: 409,
    Code.SUBNET_EXHAUSTED: 409,
    Code.POOL_NOT_FOUND: 404,
    Code.POOL_CONFLICT: 409,
    Code.NO_ADDRESS_AVAILABLE: 409,
    Code.ADDRESS_CONFLICT: 409,
    Code.UNAVAILABLE: 503,
    Code.INTERNAL: 500,
}


class PoolState(models.TextChoices):
    ACTIVE = "active", "Active"
    RELEASED = "released", "Released"


class AdminAction(models.TextChoices):
    """What an operator did outside the five contract calls; recorded in the audit log."""

    # Also the action of a refused registration (POST /v1/subnets): the event's Code tells which.
    SUBNET_CREATE = "subnet_create", "Subnet registration"
    SUBNET_UPDATE = "subnet_update", "Subnet changed"
    SUBNET_DELETE = "subnet_delete", "Subnet deleted"
    SUBNET_GRANT = "subnet_grant", "Subnet granted to a cluster"
    SUBNET_REVOKE = "subnet_revoke", "Subnet grant withdrawn"
    SUBNET_ACCESS = "subnet_access", "Subnet access changed"
    CLUSTER_CREATE = "cluster_create", "Cluster registered"
    TOKEN_CREATE = "token_create", "Token created"
    TOKEN_REVOKE = "token_revoke", "Token revoked"
    POOL_RESIZE = "pool_resize", "Pool resized"
    POOL_RELEASE = "pool_release", "Pool released"
    BINDING_FORCE_RELEASE = "binding_force_release", "Binding force-released"
    BINDING_RESTORE = "binding_restore", "Lost binding restored"
    POOL_RECREATE = "pool_recreate", "Lost pool re-created"
    ADDRESS_HOLD = "address_hold", "Address held back"
    ADDRESS_RETURN = "address_return", "Idle address returned to subnet"
    EXPIRED_POOLS_PURGE = "expired_pools_purge", "Released pools past grace purged"
    AUDIT_PRUNE = "audit_prune", "Old audit events pruned"
    QUARANTINE = "quarantine", "Quarantine"
    CLEAR_QUARANTINE = "clear_quarantine", "ClearQuarantine"
