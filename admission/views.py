"""POST /k8s/admission: the built-in admission webhook. The kube-apiserver sends an
`admission.k8s.io/v1` AdmissionReview for each CREATE, UPDATE and DELETE of a Deployment,
StatefulSet, Job or CronJob (docker/kubernetes/webhook/); a workload annotated
`ipresmgr.io/subnet: <NetRegionalID>/<SubnetID>` gets its pool created, scaled and released through
the same services as /v1, audited with the review's uid as ReqID.

Answers (docs/admission-webhook.md):
- HTTP 200 AdmissionReview: allowed, or denied with the IPResMgr Code and Msg in `status.message`
  and the Code's HTTP status in `status.code` (a pool that cannot be made: 3, 10, 12, 21, ...).
- Any other status is a Kubernetes `Status` object, which the apiserver shows as the call's error
  and answers by the webhook's `failurePolicy`: 400 a malformed review, 401 no or an unknown
  token, 403 a token with no cluster, 413/415 the body, 503 the database is unavailable (Code 50),
  500 a bug."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.views.decorators.csrf import csrf_exempt
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from admission import openapi
from admission.auth import admission_actor
from admission.review import (
    MAX_REVIEW_BYTES,
    SUBNET_ANNOTATION,
    AdmissionCall,
    MalformedReview,
    WorkloadState,
    ipresmgr_message,
    parse_review,
    parse_subnet_annotation,
    review_answer,
    status_answer,
)
from audit.recording import audit_record
from contract.framework.envelope import as_service_error
from core.choices import Code, ReqType
from core.domain import CallContext, Workload
from core.errors import ServiceError
from core.transactions import rolled_back
from pools import selectors, services

log = logging.getLogger("ipresmgr.admission")


# The body --------------------------------------------------------------------------------------


def read_review(request) -> dict:
    """The body as a JSON object. Read here, not through request.body: a review is larger than the
    /v1 bodies DATA_UPLOAD_MAX_MEMORY_SIZE is set for."""
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ServiceError(
            Code.INVALID_REQUEST, f"Content-Type must be application/json, not {content_type}", http_status=415
        )
    raw = request._request
    body = raw._body if hasattr(raw, "_body") else raw.read(MAX_REVIEW_BYTES + 1)
    if len(body) > MAX_REVIEW_BYTES:
        raise ServiceError(Code.INVALID_REQUEST, f"body larger than {MAX_REVIEW_BYTES} bytes", http_status=413)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedReview(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedReview("body must be a JSON object (an AdmissionReview)")
    return payload


# What the review asks of the pool ------------------------------------------------------------


@dataclass(frozen=True)
class PoolAction:
    """One service call for a review: `run(ctx)` calls it; `req_type` names it in the audit log."""

    req_type: ReqType
    run: Callable[[CallContext], object]
    subnet_id: str = ""


def pool_action(call: AdmissionCall, workload: Workload) -> PoolAction | None:
    """The service call the review asks for, or None: nothing to do, allowed untouched.

    An UPDATE sets the pool's target to the new count whenever they differ, not only when the
    count changed: a scale the webhook missed (it was down, and failurePolicy is Ignore for the
    scale subresource) is made good by the workload's next update."""
    new, old = call.new, call.old
    if (new or old).owned_by_cronjob:
        return None  # its pods take addresses from the CronJob's pool
    if call.is_scale:
        # `kubectl scale`, the HPA: the Scale object carries no annotation, so a workload with no
        # active pool is taken as one IPResMgr does not manage.
        if call.operation != "UPDATE":
            return None
        pool = selectors.active_pool(workload)
        return None if pool is None or pool.target == new.replicas else _scale(workload, new, old)
    if call.operation == "DELETE":
        if old.subnet_annotation is None:
            return None
        return PoolAction(ReqType.RELEASE_IP_POOL, lambda ctx: services.pool_release(ctx=ctx, workload=workload))
    if new.subnet_annotation is None:
        if call.operation == "UPDATE" and old.subnet_annotation is not None:
            return _annotation_removal(workload)
        return None
    if call.operation == "CREATE" or new.subnet_annotation != old.subnet_annotation:
        # Added or changed: a create in the (new) subnet; while the pool is active in another: 21.
        return _create(workload, new)
    pool = selectors.active_pool(workload)
    if pool is None:
        return _create(workload, new)  # made before the webhook was installed, or its create failed
    return None if pool.target == new.replicas else _scale(workload, new, old)


def _refused(req_type: ReqType, error: ServiceError, subnet_id: str = "") -> PoolAction:
    def refuse(ctx: CallContext):
        raise error

    return PoolAction(req_type, refuse, subnet_id)


def _create(workload: Workload, state: WorkloadState) -> PoolAction:
    try:
        region, subnet_id = parse_subnet_annotation(state.subnet_annotation)
    except ValueError as exc:
        return _refused(ReqType.CREATE_IP_POOL, ServiceError(Code.INVALID_REQUEST, str(exc)))

    def create(ctx: CallContext):
        # The annotation names no gateway: the subnet's registered one.
        return services.pool_create(
            ctx=ctx, workload=workload, replicas=state.replicas, net_regional_id=region, subnet_id=subnet_id
        )

    return PoolAction(ReqType.CREATE_IP_POOL, create, subnet_id)


def _scale(workload: Workload, new: WorkloadState, old: WorkloadState) -> PoolAction:
    def scale(ctx: CallContext):
        return services.pool_scale(ctx=ctx, workload=workload, new_target=new.replicas, old_target=old.replicas)

    return PoolAction(ReqType.SCALE_IP_POOL, scale)


def _annotation_removal(workload: Workload) -> PoolAction | None:
    """Pods of the workload would find no pool: refused while it has one (a release, refused)."""
    pool = selectors.active_pool(workload)
    if pool is None:
        return None
    error = ServiceError(
        Code.POOL_CONFLICT,
        f"metadata.annotations[{SUBNET_ANNOTATION}]: cannot be removed while workload {workload} has an "
        f"active pool in subnet {pool.subnet.subnet_id}; delete the workload to release it",
    )
    return _refused(ReqType.RELEASE_IP_POOL, error, pool.subnet.subnet_id)


def audit_refusal(ctx: CallContext, workload: Workload, refusal: ServiceError, subnet_id: str) -> None:
    """A denial is audited in its own transaction (the service's was rolled back)."""
    try:
        with transaction.atomic():
            audit_record(ctx, code=refusal.code, msg=refusal.msg, workload=workload, subnet_id=subnet_id)
    except DatabaseError:
        log.warning("could not audit a denied admission (code %s): database error", int(refusal.code))


# The endpoint ----------------------------------------------------------------------------------


@openapi.ADMISSION
class AdmissionView(APIView):
    """Thin: name the cluster, read the review, call at most one pool service, answer."""

    authentication_classes: list = []  # admission_actor() does it: the webhook needs a cluster
    permission_classes: list = []
    parser_classes: list = []  # read_review() reads the body, with its own size limit
    metadata_class = None

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), "application/json"  # JSON whatever Accept says

    def post(self, request, *args, **kwargs):
        actor = admission_actor(request)
        call = parse_review(read_review(request))
        if call.kind is None:
            return review_answer(call.uid)  # not a workload IPResMgr manages
        workload = Workload(cluster_id=actor.cluster_id, namespace=call.namespace, kind=call.kind, name=call.name)
        action = pool_action(call, workload)
        if action is None:
            return review_answer(call.uid)
        ctx = CallContext(actor=actor, req_id=call.uid, req_type=action.req_type)
        try:
            if call.dry_run:
                rolled_back(lambda: action.run(ctx))
            else:
                action.run(ctx)
        except ServiceError as refusal:
            if refusal.code in (Code.UNAVAILABLE, Code.INTERNAL):
                raise
            log.info("admission denied: %s %s: %s", call.operation, workload, ipresmgr_message(refusal))
            if not call.dry_run:
                audit_refusal(ctx, workload, refusal, action.subnet_id)
            return review_answer(call.uid, refusal)
        return review_answer(call.uid)

    def handle_exception(self, exc):
        if isinstance(exc, MalformedReview):
            error = ServiceError(Code.INVALID_REQUEST, str(exc))
        else:
            error = as_service_error(exc)
        if error.code == Code.INTERNAL:
            log.exception("internal error on %s", self.request.path, exc_info=exc)
        elif error.code == Code.UNAVAILABLE:
            log.warning("database unavailable on %s: %s", self.request.path, exc)
        else:
            log.info("admission call refused: %s", ipresmgr_message(error))
        return status_answer(error)


@csrf_exempt  # the apiserver holds a token or a certificate, not a cookie
def k8s_not_found(request, *args, **kwargs):
    """Anything else under /k8s/: a Status, not an HTML page."""
    return status_answer(ServiceError(Code.INVALID_REQUEST, f"no endpoint {request.path}", http_status=404))
