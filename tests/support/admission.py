"""AdmissionReviews as the kube-apiserver sends them (admission.k8s.io/v1, real field names and
shapes, including the parts IPResMgr ignores), and a caller that POSTs them to /k8s/admission."""

from __future__ import annotations

import copy
import json
import uuid

from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.choices import Code
from pools.models import Pool
from tests.support.api import CLUSTER, REGION, SUBNET

ANNOTATION = "ipresmgr.io/subnet"
SUBNET_VALUE = f"{REGION}/{SUBNET}"
UNSET = object()

# kind -> (group, version, resource)
KINDS = {
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Pod": ("", "v1", "pods"),
}
# The contract's K8SApiResourceKind of each workload kind.
KIND_NUMBER = {"Deployment": 0, "StatefulSet": 1, "Job": 2, "CronJob": 3}
OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


def pod_template(name: str) -> dict:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [{"name": "app", "image": "registry.example.com/app:1.0", "ports": [{"containerPort": 80}]}],
            "restartPolicy": "Always",
        },
    }


def workload_object(
    kind: str,
    *,
    name: str = "web",
    namespace: str = "default",
    replicas=3,
    subnet: str | None = SUBNET_VALUE,
    owner: dict | None = None,
    pad: int = 0,
) -> dict:
    """A workload as the apiserver hands it to a validating webhook (defaulted, with a uid).
    `replicas=UNSET` leaves the count out (Kubernetes' default, 1, applies)."""
    group, version, _ = KINDS[kind]
    annotations = {"deployment.kubernetes.io/revision": "1"} if kind == "Deployment" else {}
    if subnet is not None:
        annotations[ANNOTATION] = subnet
    if pad:
        annotations["example.com/padding"] = "x" * pad
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{namespace}.{name}")),
        "resourceVersion": "12345",
        "generation": 1,
        "creationTimestamp": "2026-11-01T10:00:00Z",
        "labels": {"app": name},
        "annotations": annotations,
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": f"{group}/{version}" if group else version,
                "time": "2026-11-01T10:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:annotations": {}}},
            }
        ],
    }
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    count = {} if replicas is UNSET else None
    if kind in ("Deployment", "StatefulSet"):
        spec = {"selector": {"matchLabels": {"app": name}}, "template": pod_template(name)}
        if kind == "Deployment":
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        else:
            spec["serviceName"] = name
            spec["podManagementPolicy"] = "OrderedReady"
        if count is None:
            spec["replicas"] = replicas
    elif kind == "Job":
        spec = {"completions": 10, "backoffLimit": 6, "template": pod_template(name)}
        spec["template"]["spec"]["restartPolicy"] = "Never"
        if count is None:
            spec["parallelism"] = replicas
    elif kind == "CronJob":
        job_spec = {"completions": 10, "template": pod_template(name)}
        job_spec["template"]["spec"]["restartPolicy"] = "OnFailure"
        if count is None:
            job_spec["parallelism"] = replicas
        spec = {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": job_spec}}
    else:  # DaemonSet, Pod: IPResMgr does not manage them
        spec = {"template": pod_template(name)} if kind == "DaemonSet" else pod_template(name)["spec"]
    return {
        "apiVersion": f"{group}/{version}" if group else version,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
        "status": {},
    }


def review(
    operation: str,
    kind: str = "Deployment",
    *,
    obj: dict | None = None,
    old: dict | None = None,
    uid: str | None = None,
    dry_run: bool = False,
    sub_resource: str = "",
) -> dict:
    """An AdmissionReview request. `obj`/`old` default to the workload before/after as the
    operation implies (CREATE: object only; DELETE: oldObject only)."""
    group, version, resource = KINDS[kind]
    source = obj if obj is not None else old
    metadata = source["metadata"]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    if sub_resource == "scale":
        gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            **({"subResource": sub_resource} if sub_resource else {}),
            "requestKind": gvk,
            "requestResource": gvr,
            **({"requestSubResource": sub_resource} if sub_resource else {}),
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "operation": operation,
            "userInfo": {
                "username": "system:serviceaccount:kube-system:deployment-controller",
                "uid": "6f1c1c1e-0b1a-4e59-9d3b-1d1c2a3b4c5d",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
            },
            "object": obj,
            "oldObject": old,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": OPTIONS.get(operation, "CreateOptions")},
        },
    }


def create(kind: str = "Deployment", **kwargs) -> dict:
    uid, dry_run = kwargs.pop("uid", None), kwargs.pop("dry_run", False)
    return review("CREATE", kind, obj=workload_object(kind, **kwargs), uid=uid, dry_run=dry_run)


def update(kind: str = "Deployment", *, before: dict, after: dict, uid=None, dry_run=False) -> dict:
    """An UPDATE from workload_object(kind, **before) to workload_object(kind, **after)."""
    old = workload_object(kind, **before)
    new = workload_object(kind, **after)
    new["metadata"]["generation"] = 2
    return review("UPDATE", kind, obj=new, old=old, uid=uid, dry_run=dry_run)


def delete(kind: str = "Deployment", uid=None, dry_run=False, **kwargs) -> dict:
    return review("DELETE", kind, old=workload_object(kind, **kwargs), uid=uid, dry_run=dry_run)


def scale(kind: str = "Deployment", *, old_replicas: int, new_replicas: int, name="web", namespace="default"):
    """`kubectl scale` / the HPA: an UPDATE of the scale subresource, objects autoscaling/v1 Scale."""

    def scale_object(replicas):
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "resourceVersion": "7"},
            "spec": {"replicas": replicas},
            "status": {"replicas": old_replicas, "selector": f"app={name}"},
        }

    return review("UPDATE", kind, obj=scale_object(new_replicas), old=scale_object(old_replicas), sub_resource="scale")


class Apiserver:
    """POSTs reviews to /k8s/admission with a token, as the apiserver's webhook client does."""

    def __init__(self, token: str | None):
        self.client = APIClient()
        self.token = token

    def send(self, body, *, token=UNSET, raw: bytes | None = None, content_type="application/json", **extra):
        token = self.token if token is UNSET else token
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        headers.update(extra)
        data = raw if raw is not None else json.dumps(body).encode()
        return self.client.generic("POST", "/k8s/admission", data, content_type=content_type, **headers)

    def admit(self, body, **kwargs) -> dict:
        """The AdmissionReview answer (HTTP 200), checked for the echo every answer must carry."""
        response = self.send(body, **kwargs)
        assert response.status_code == 200, response.content
        answer = response.json()
        assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == body["request"]["uid"]
        return answer["response"]


def with_changes(body: dict, **request_changes) -> dict:
    changed = copy.deepcopy(body)
    changed["request"].update(request_changes)
    return changed


WORKLOAD_KINDS = list(KIND_NUMBER)


def pool_of(kind="Deployment", name="web", cluster=CLUSTER) -> Pool | None:
    return Pool.objects.filter(k8s_cluster_id=cluster, kind=KIND_NUMBER[kind], name=name).first()


def webhook_events():
    """Audit events of the pool calls (not the fixtures' registrations), oldest first."""
    return list(AuditEvent.objects.filter(req_type__isnull=False).order_by("at", "id"))


def assert_denied(answer: dict, code: Code, status: int) -> str:
    assert answer["allowed"] is False
    assert answer["status"]["code"] == status
    message = answer["status"]["message"]
    assert message.startswith(f"IPResMgr Code {int(code)} {code.label}: "), message
    return message


def assert_status(response, status: int, code: Code, text: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert (body["apiVersion"], body["kind"], body["status"], body["code"]) == ("v1", "Status", "Failure", status)
    assert body["message"].startswith(f"IPResMgr Code {int(code)} {code.label}: ")
    assert text in body["message"], body["message"]


MALFORMED = {
    "not JSON": (b"<AdmissionReview/>", "body is not valid JSON"),
    "a JSON list": (b"[]", "body must be a JSON object"),
    "v1beta1": ({"apiVersion": "admission.k8s.io/v1beta1"}, "apiVersion must be admission.k8s.io/v1"),
    "another kind": ({"kind": "ConversionReview"}, "kind must be AdmissionReview, not 'ConversionReview'"),
    "no request": ({"request": None}, "request: must be an object"),
}


BAD_REQUESTS = {
    "no uid": ({"uid": None}, "request.uid: must be a string"),
    "empty uid": ({"uid": ""}, "request.uid: must be a string"),
    "unknown operation": ({"operation": "PATCH"}, "request.operation: must be one of"),
    "operation an object": ({"operation": {}}, "request.operation: must be one of"),  # Schemathesis found a 500
    "resource a list": ({"resource": ["apps"]}, "request.resource: must be an object"),
    "subResource a number": ({"subResource": 1}, "request.subResource: must be a string"),
    "object a list": ({"object": []}, "request.object: must be an object or null"),
    "kind not an object": ({"kind": "Deployment"}, "request.kind: must be an object"),
    "dryRun a string": ({"dryRun": "yes"}, "request.dryRun: must be true or false"),
    "CREATE without object": ({"object": None}, "request.object: a CREATE review must carry the object"),
    "bad namespace": ({"namespace": "Not_A_Label"}, "request.namespace: must be a DNS-1123 label"),
}
