"""The `admission.k8s.io/v1` AdmissionReview both ways: the kube-apiserver's request read into what
the admission webhook acts on (which workload, which operation, its replica count and subnet
annotation before and after), and the answers written back. Nothing here touches the database.

A review the apiserver would never send (not v1, no uid, an object that is not an object) is a
`MalformedReview` (HTTP 400). A well-formed review of something IPResMgr does not manage (a Pod,
a DaemonSet, a status update) parses to a call whose `kind` is None: allowed untouched."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import JsonResponse

from contract.framework.envelope import WWW_AUTHENTICATE
from contract.framework.fields import INT32_MAX
from core.choices import Kind
from core.domain import DNS1123_LABEL, DNS1123_SUBDOMAIN
from core.errors import ServiceError

ADMISSION_API_VERSION = "admission.k8s.io/v1"
ADMISSION_KIND = "AdmissionReview"
SUBNET_ANNOTATION = "ipresmgr.io/subnet"
# A review carries the whole object (twice on an UPDATE); Kubernetes objects go up to ~1.5 MiB.
MAX_REVIEW_BYTES = 8 * 1024 * 1024
UID_MAX = 128  # the audit log's ReqID; the apiserver sends a UUID
OPERATIONS = {"CREATE", "UPDATE", "DELETE", "CONNECT"}

# The object's (group, version, kind) -> the contract's K8SApiResourceKind.
WORKLOAD_KINDS = {
    ("apps", "v1", "Deployment"): Kind.DEPLOYMENT,
    ("apps", "v1", "StatefulSet"): Kind.STATEFULSET,
    ("batch", "v1", "Job"): Kind.JOB,
    ("batch", "v1", "CronJob"): Kind.CRONJOB,
}
# `kubectl scale` and the HorizontalPodAutoscaler change replicas through the scale subresource:
# an UPDATE of resource deployments (or statefulsets), subResource "scale", object an autoscaling/v1 Scale.
SCALE_KIND = ("autoscaling", "v1", "Scale")
SCALABLE_RESOURCES = {("apps", "deployments"): Kind.DEPLOYMENT, ("apps", "statefulsets"): Kind.STATEFULSET}

# Kubernetes' StatusReason for each HTTP status the webhook answers with a Status object.
STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class MalformedReview(Exception):
    """Not an AdmissionReview the apiserver sends; answered HTTP 400 with this message."""


@dataclass(frozen=True)
class WorkloadState:
    """One side (`object` or `oldObject`) of a review of a workload."""

    replicas: int
    subnet_annotation: str | None  # the raw value of ipresmgr.io/subnet, None when absent
    owned_by_cronjob: bool = False


@dataclass(frozen=True)
class AdmissionCall:
    uid: str
    operation: str
    dry_run: bool
    kind: Kind | None  # None: not a workload IPResMgr manages; allowed untouched
    is_scale: bool = False  # the scale subresource: replicas only, no annotations
    namespace: str = ""
    name: str = ""
    new: WorkloadState | None = None  # `object` (CREATE, UPDATE)
    old: WorkloadState | None = None  # `oldObject` (UPDATE, DELETE)


def parse_review(payload: dict) -> AdmissionCall:
    """The call a JSON object describes, or MalformedReview naming what is wrong."""
    if payload.get("apiVersion") != ADMISSION_API_VERSION:
        raise MalformedReview(
            f"apiVersion must be {ADMISSION_API_VERSION} (admissionReviewVersions: [v1]), "
            f"not {_shown(payload.get('apiVersion'))}"
        )
    if payload.get("kind") != ADMISSION_KIND:
        raise MalformedReview(f"kind must be {ADMISSION_KIND}, not {_shown(payload.get('kind'))}")
    request = payload.get("request")
    if not isinstance(request, dict):
        raise MalformedReview("request: must be an object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > UID_MAX or not uid.isprintable():
        raise MalformedReview(f"request.uid: must be a string of 1-{UID_MAX} printable characters")
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise MalformedReview(f"request.operation: must be one of {', '.join(sorted(OPERATIONS))}")
    dry_run = request.get("dryRun", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        raise MalformedReview("request.dryRun: must be true or false")
    gvk = _group_version(request, "kind", "kind")
    group, _version, resource = _group_version(request, "resource", "resource")
    sub_resource = _optional_string(request, "subResource")
    obj = _optional_object(request, "object")
    old_obj = _optional_object(request, "oldObject")

    is_scale = False
    if sub_resource == "" and gvk in WORKLOAD_KINDS:
        kind = WORKLOAD_KINDS[gvk]
    elif sub_resource == "scale" and gvk == SCALE_KIND and (group, resource) in SCALABLE_RESOURCES:
        kind, is_scale = SCALABLE_RESOURCES[(group, resource)], True
    else:
        return AdmissionCall(uid=uid, operation=operation, dry_run=dry_run, kind=None)
    if operation == "CONNECT":
        return AdmissionCall(uid=uid, operation=operation, dry_run=dry_run, kind=None)

    if operation in ("CREATE", "UPDATE") and obj is None:
        raise MalformedReview(f"request.object: a {operation} review must carry the object")
    if operation in ("UPDATE", "DELETE") and old_obj is None:
        raise MalformedReview(f"request.oldObject: an {operation} review must carry the old object")
    sides = {
        "object": _workload_state(obj, kind, is_scale, "request.object") if obj is not None else None,
        "oldObject": _workload_state(old_obj, kind, is_scale, "request.oldObject") if old_obj is not None else None,
    }
    main = obj if obj is not None else old_obj
    metadata = main.get("metadata") or {}
    name = _optional_string(request, "name") or _text(metadata.get("name"))
    namespace = _optional_string(request, "namespace") or _text(metadata.get("namespace"))
    if not (len(name) <= 253 and DNS1123_SUBDOMAIN.fullmatch(name)):
        raise MalformedReview(f"request.name: a workload name must be a DNS-1123 subdomain, not {_shown(name)}")
    if not (len(namespace) <= 63 and DNS1123_LABEL.fullmatch(namespace)):
        raise MalformedReview(f"request.namespace: must be a DNS-1123 label, not {_shown(namespace)}")
    return AdmissionCall(
        uid=uid,
        operation=operation,
        dry_run=dry_run,
        kind=kind,
        is_scale=is_scale,
        namespace=namespace,
        name=name,
        new=sides["object"],
        old=sides["oldObject"],
    )


def parse_subnet_annotation(value: str) -> tuple[str, str]:
    """`<NetRegionalID>/<SubnetID>` -> (NetRegionalID, SubnetID), or ValueError saying why."""
    parts = value.strip().split("/")
    if len(parts) != 2 or not all(part and len(part) <= 128 and part.isprintable() for part in parts):
        raise ValueError(
            f"metadata.annotations[{SUBNET_ANNOTATION}]: must be <NetRegionalID>/<SubnetID>, not {value[:300]!r}"
        )
    return parts[0], parts[1]


# Answers ---------------------------------------------------------------------------------------


def ipresmgr_message(error: ServiceError) -> str:
    return f"IPResMgr Code {int(error.code)} {error.code.label}: {error.msg}"


def review_answer(uid: str, refusal: ServiceError | None = None) -> JsonResponse:
    """The AdmissionReview the apiserver reads: allowed, or denied with the IPResMgr Code and Msg."""
    response: dict = {"uid": uid, "allowed": refusal is None}
    if refusal is not None:
        response["status"] = {"status": "Failure", "code": refusal.http_status, "message": ipresmgr_message(refusal)}
    return JsonResponse({"apiVersion": ADMISSION_API_VERSION, "kind": ADMISSION_KIND, "response": response})


def status_answer(error: ServiceError) -> JsonResponse:
    """A call the webhook could not judge, as a Kubernetes Status (the apiserver shows its message)."""
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": ipresmgr_message(error),
        "reason": STATUS_REASONS.get(error.http_status, "Unknown"),
        "code": error.http_status,
    }
    response = JsonResponse(body, status=error.http_status)
    if error.http_status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


# Reading the pieces --------------------------------------------------------------------------


def _shown(value) -> str:
    return repr(value)[:100] if value is not None else "missing"


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _optional_string(request: dict, key: str) -> str:
    value = request.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedReview(f"request.{key}: must be a string")
    return value


def _optional_object(request: dict, key: str) -> dict | None:
    value = request.get(key)
    if value is not None and not isinstance(value, dict):
        raise MalformedReview(f"request.{key}: must be an object or null")
    return value


def _group_version(request: dict, key: str, last: str) -> tuple[str, str, str]:
    value = request.get(key)
    if not isinstance(value, dict):
        raise MalformedReview(f"request.{key}: must be an object with group, version and {last}")
    parts = (value.get("group", ""), value.get("version"), value.get(last))
    if not all(isinstance(part, str) for part in parts) or not parts[1] or not parts[2]:
        raise MalformedReview(f"request.{key}: must be an object with group, version and {last}")
    return parts


def _workload_state(obj: dict, kind: Kind, is_scale: bool, where: str) -> WorkloadState:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise MalformedReview(f"{where}.metadata: must be an object")
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise MalformedReview(f"{where}.spec: must be an object")
    if is_scale:
        replicas = _count(spec, "replicas", f"{where}.spec.replicas", default=0)
        return WorkloadState(replicas=replicas, subnet_annotation=None)
    if kind in (Kind.DEPLOYMENT, Kind.STATEFULSET):
        replicas = _count(spec, "replicas", f"{where}.spec.replicas")
    elif kind == Kind.JOB:
        replicas = _count(spec, "parallelism", f"{where}.spec.parallelism")
    else:
        template = _sub_object(spec, "jobTemplate", f"{where}.spec.jobTemplate")
        job_spec = _sub_object(template, "spec", f"{where}.spec.jobTemplate.spec")
        replicas = _count(job_spec, "parallelism", f"{where}.spec.jobTemplate.spec.parallelism")
    annotations = metadata.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise MalformedReview(f"{where}.metadata.annotations: must be an object")
    subnet = annotations.get(SUBNET_ANNOTATION)
    if subnet is not None and not isinstance(subnet, str):
        raise MalformedReview(f"{where}.metadata.annotations[{SUBNET_ANNOTATION}]: must be a string")
    return WorkloadState(
        replicas=replicas, subnet_annotation=subnet, owned_by_cronjob=_owned_by_cronjob(metadata, where)
    )


def _sub_object(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedReview(f"{where}: must be an object")
    return value


def _count(spec: dict, key: str, where: str, default: int = 1) -> int:
    """A replica count or parallelism: Kubernetes' default (1) when absent."""
    value = spec.get(key)
    if value is None:
        return default
    if type(value) is not int or not 0 <= value <= INT32_MAX:
        raise MalformedReview(f"{where}: must be an integer from 0 to {INT32_MAX}")
    return value


def _owned_by_cronjob(metadata: dict, where: str) -> bool:
    """A Job its CronJob made: its pods take addresses from the CronJob's pool (the CNI plugin
    follows Job -> CronJob), so the Job itself gets none."""
    owners = metadata.get("ownerReferences") or []
    if not isinstance(owners, list):
        raise MalformedReview(f"{where}.metadata.ownerReferences: must be a list")
    return any(
        isinstance(owner, dict)
        and owner.get("kind") == "CronJob"
        and _text(owner.get("apiVersion")).startswith("batch/")
        and owner.get("controller") is True
        for owner in owners
    )
