"""Kubernetes objects in the API server's real JSON shape (as `kubectl get -o json` shows them,
trimmed of fields the plugin does not read but keeping the ones a real answer has)."""

from __future__ import annotations

import uuid

SUBNET_ANNOTATION = "ipresmgr.io/subnet"


def _meta(namespace: str, name: str, uid: str, owner: dict | None = None, **extra) -> dict:
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "resourceVersion": str(4000 + len(name)),
        "generation": 1,
        "creationTimestamp": "2026-11-20T10:00:00Z",
        **extra,
    }
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return meta


def owner_ref(obj: dict) -> dict:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deployment(namespace: str, name: str, replicas: int, subnet: str) -> dict:
    labels = {"app": name}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _meta(
            namespace,
            name,
            str(uuid.uuid4()),
            labels=labels,
            annotations={SUBNET_ANNOTATION: subnet, "deployment.kubernetes.io/revision": "1"},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        },
        "status": {"observedGeneration": 1, "replicas": replicas},
    }


def replicaset(dep: dict, template_hash: str = "7d4b9c8f6d") -> dict:
    namespace, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    labels = {"app": name, "pod-template-hash": template_hash}
    return {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(
            namespace,
            f"{name}-{template_hash}",
            str(uuid.uuid4()),
            owner_ref(dep),
            labels=labels,
            annotations={"deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"])},
        ),
        "spec": {"replicas": dep["spec"]["replicas"], "selector": {"matchLabels": labels}},
        "status": {"replicas": dep["spec"]["replicas"], "observedGeneration": 1},
    }


def statefulset(namespace: str, name: str, replicas: int, subnet: str) -> dict:
    labels = {"app": name}
    return {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(namespace, name, str(uuid.uuid4()), labels=labels, annotations={SUBNET_ANNOTATION: subnet}),
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels}},
        "status": {"replicas": replicas},
    }


def daemonset(namespace: str, name: str) -> dict:
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(namespace, name, str(uuid.uuid4()), labels={"app": name}),
        "spec": {"selector": {"matchLabels": {"app": name}}},
        "status": {"desiredNumberScheduled": 1},
    }


def pod(namespace: str, name: str, owner: dict | None = None, node: str = "iprcni-node") -> dict:
    labels = dict(owner["metadata"].get("labels", {})) if owner else {}
    extra = {"labels": labels}
    if owner is not None and owner["kind"] == "ReplicaSet":
        extra["generateName"] = owner["metadata"]["name"] + "-"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta(namespace, name, str(uuid.uuid4()), owner_ref(owner) if owner else None, **extra),
        "spec": {
            "nodeName": node,
            "containers": [{"name": "main", "image": "nginx:1.27", "resources": {}}],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
        },
        "status": {"phase": "Pending", "hostIP": "198.51.100.5", "qosClass": "BestEffort"},
    }
