"""What the OpenAPI document says about POST /k8s/admission: the AdmissionReview it reads (the
parts IPResMgr uses; Kubernetes' own API reference has the rest), the answers, and examples that
tests/contract/test_openapi_examples.py replays against the demo data, like every other endpoint's."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from admission.auth import OPERATOR_TOKEN_MSG
from admission.review import (
    ADMISSION_API_VERSION,
    ADMISSION_KIND,
    MAX_REVIEW_BYTES,
    OPERATIONS,
    STATUS_REASONS,
    SUBNET_ANNOTATION,
    ipresmgr_message,
)
from contract.framework.envelope import UNAVAILABLE_MSG, as_service_error
from core.choices import Code
from core.errors import ServiceError
from pools.auth import NO_TOKEN_MSG

EXAMPLE_UID = "705ab4f5-6393-11e8-b7cc-42010a800002"


class GroupVersionKind(serializers.Serializer):
    group = serializers.CharField(allow_blank=True, help_text='"" for the core group')
    version = serializers.CharField()
    kind = serializers.CharField()


class GroupVersionResource(serializers.Serializer):
    group = serializers.CharField(allow_blank=True)
    version = serializers.CharField()
    resource = serializers.CharField()


class AdmissionRequest(serializers.Serializer):
    uid = serializers.CharField(max_length=128, help_text="Echoed as response.uid; the audit log's ReqID.")
    kind = GroupVersionKind(help_text="The object's kind: apps/v1 Deployment, StatefulSet; batch/v1 Job, CronJob.")
    resource = GroupVersionResource()
    subResource = serializers.CharField(required=False, allow_blank=True, help_text='"scale": replicas only')
    name = serializers.CharField(required=False, allow_blank=True)
    namespace = serializers.CharField(required=False, allow_blank=True)
    operation = serializers.ChoiceField(choices=sorted(OPERATIONS))
    userInfo = serializers.JSONField(required=False, help_text="Who made the change; not used.")
    object = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text=f"The workload after the change (CREATE, UPDATE); its `metadata.annotations[{SUBNET_ANNOTATION}]` "
        "names the subnet as `<NetRegionalID>/<SubnetID>`.",
    )
    oldObject = serializers.JSONField(required=False, allow_null=True, help_text="Before (UPDATE, DELETE).")
    dryRun = serializers.BooleanField(required=False, help_text="true: answer as for real, change nothing.")


class AdmissionReviewRequest(serializers.Serializer):
    apiVersion = serializers.ChoiceField(choices=[ADMISSION_API_VERSION])
    kind = serializers.ChoiceField(choices=[ADMISSION_KIND])
    request = AdmissionRequest()


class DenialStatus(serializers.Serializer):
    status = serializers.ChoiceField(choices=["Failure"])
    code = serializers.IntegerField(help_text="The HTTP status of the IPResMgr Code (409 for Code 12, ...).")
    message = serializers.CharField(help_text="IPResMgr Code <n> <name>: <Msg>")


class AdmissionResponse(serializers.Serializer):
    uid = serializers.CharField()
    allowed = serializers.BooleanField()
    status = DenialStatus(required=False, help_text="Only when denied.")


class AdmissionReviewResponse(serializers.Serializer):
    apiVersion = serializers.ChoiceField(choices=[ADMISSION_API_VERSION])
    kind = serializers.ChoiceField(choices=[ADMISSION_KIND])
    response = AdmissionResponse()


KubernetesStatus = inline_serializer(
    "KubernetesStatus",
    {
        "apiVersion": serializers.ChoiceField(choices=["v1"]),
        "kind": serializers.ChoiceField(choices=["Status"]),
        "metadata": serializers.DictField(),
        "status": serializers.ChoiceField(choices=["Failure"]),
        "message": serializers.CharField(help_text="IPResMgr Code <n> <name>: <Msg>"),
        "reason": serializers.CharField(help_text="Kubernetes' StatusReason for the HTTP status."),
        "code": serializers.IntegerField(),
    },
)


# Examples ----------------------------------------------------------------------------------------

CREATE_WEB = {
    "apiVersion": ADMISSION_API_VERSION,
    "kind": ADMISSION_KIND,
    "request": {
        "uid": EXAMPLE_UID,
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "requestResource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": "web",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
        "object": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "uid": "4b8e3f3c-2f6a-4f0e-9a49-1f7de5c2b001",
                "annotations": {SUBNET_ANNOTATION: "region-1/subnet-demo"},
            },
            "spec": {"replicas": 3},
        },
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    },
}
EXHAUSTED_MSG = "subnet subnet-demo (10.0.3.0/24) has too few free addresses; 500 needed; nothing reserved"
NOT_FOUND_MSG = "SubnetID: 'subnet-x' is not registered under NetRegionalID 'region-1'"
WRONG_VERSION_MSG = (
    f"apiVersion must be {ADMISSION_API_VERSION} (admissionReviewVersions: [v1]), not 'admission.k8s.io/v1beta1'"
)
TOO_LARGE_MSG = f"body larger than {MAX_REVIEW_BYTES} bytes"
NOT_JSON_MSG = "Content-Type must be application/json, not text/plain"


def _review_example(summary: str, error: ServiceError | None = None) -> OpenApiExample:
    response: dict = {"uid": EXAMPLE_UID, "allowed": error is None}
    if error is not None:
        response["status"] = {"status": "Failure", "code": error.http_status, "message": ipresmgr_message(error)}
    return OpenApiExample(
        summary,
        value={"apiVersion": ADMISSION_API_VERSION, "kind": ADMISSION_KIND, "response": response},
        response_only=True,
        status_codes=["200"],
    )


def _status_example(code: Code, msg: str, status: int | None = None) -> OpenApiExample:
    error = ServiceError(code, msg, http_status=status)
    return OpenApiExample(
        f"Code {int(code)} {code.label}",
        value={
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": ipresmgr_message(error),
            "reason": STATUS_REASONS[error.http_status],
            "code": error.http_status,
        },
        response_only=True,
        status_codes=[str(error.http_status)],
    )


def _status_response(text: str) -> OpenApiResponse:
    return OpenApiResponse(KubernetesStatus, description=text)


ADMISSION = extend_schema(
    summary="Admission webhook: a workload's pool follows the workload",
    description=(
        "The kube-apiserver's `ValidatingWebhookConfiguration` (docker/kubernetes/webhook/) sends an "
        "`admission.k8s.io/v1` AdmissionReview for every CREATE, UPDATE and DELETE of a Deployment, "
        "StatefulSet, Job or CronJob. A workload annotated "
        f"`{SUBNET_ANNOTATION}: <NetRegionalID>/<SubnetID>` gets its pool created (CREATE), scaled (a "
        "change of `spec.replicas`, a Job's `spec.parallelism`, a CronJob's "
        "`spec.jobTemplate.spec.parallelism`, or the scale subresource) and released (DELETE), in the "
        "cluster of the calling token, audited with the review's uid as ReqID. Anything else is allowed "
        "untouched; `dryRun` changes nothing. Needs a cluster token (an operator token names no cluster).\n\n"
        "HTTP 200 answers an AdmissionReview (allowed, or denied with the IPResMgr Code and Msg); any other "
        "status a Kubernetes Status, which the apiserver answers by the webhook's `failurePolicy`."
    ),
    request={"application/json": AdmissionReviewRequest},
    responses={
        200: OpenApiResponse(
            AdmissionReviewResponse,
            description="Allowed, or denied: the pool cannot be made (Code 3, 10, 12, 21; 1 for a bad annotation).",
        ),
        400: _status_response("Code 1 InvalidRequest: not an admission.k8s.io/v1 AdmissionReview."),
        401: _status_response("Code 2 Unauthenticated: no token, or an unknown or revoked token."),
        403: _status_response("Code 3 Forbidden: an operator token (it names no cluster)."),
        413: _status_response("Code 1 InvalidRequest: the body is larger than the webhook reads."),
        415: _status_response("Code 1 InvalidRequest: Content-Type is not application/json."),
        500: _status_response("Code 99 Internal: a bug."),
        503: _status_response("Code 50 Unavailable: the database is unreachable or timed out."),
    },
    examples=[
        OpenApiExample("CREATE of an annotated Deployment", value=CREATE_WEB, request_only=True),
        _review_example("Allowed: the pool is ready"),
        _review_example("Denied: Code 12 SubnetExhausted", ServiceError(Code.SUBNET_EXHAUSTED, EXHAUSTED_MSG)),
        _review_example("Denied: Code 10 SubnetNotFound", ServiceError(Code.SUBNET_NOT_FOUND, NOT_FOUND_MSG)),
        _status_example(Code.INVALID_REQUEST, WRONG_VERSION_MSG),
        _status_example(Code.INVALID_REQUEST, TOO_LARGE_MSG, 413),
        _status_example(Code.INVALID_REQUEST, NOT_JSON_MSG, 415),
        _status_example(Code.UNAUTHENTICATED, NO_TOKEN_MSG),
        _status_example(Code.FORBIDDEN, OPERATOR_TOKEN_MSG),
        _status_example(Code.UNAVAILABLE, UNAVAILABLE_MSG),
        _status_example(Code.INTERNAL, as_service_error(RuntimeError()).msg),
    ],
    auth=[{"BearerToken": []}],  # admission_auth reads the token itself, so declare it here
    tags=["kubernetes"],
)
