"""Kubernetes objects in the shapes `kubectl get ... -o json` and the API server give them, and a
small fake API server over real HTTP (127.0.0.1, ports 8900-8999) that serves them at the API's
paths with `limit`/`continue` paging, bearer tokens, and failures on demand.

Used by the reconcile tests and by bench/reconcile.py. Not our code: it stands in for the cluster."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CREATED = "2026-10-01T14:00:00Z"
PORTS = range(8900, 9000)
_names = itertools.count(1)


def _meta(name: str, namespace: str, uid: str | None, owner: dict | None = None, **extra) -> dict:
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": uid or str(uuid.uuid4()),
        "resourceVersion": str(100000 + next(_names)),
        "creationTimestamp": CREATED,
        **extra,
    }
    if owner is not None:
        metadata["ownerReferences"] = [owner_ref(owner)]
    return metadata


def owner_ref(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deployment(name: str, replicas: int | None = 3, *, namespace: str = "default", uid: str | None = None) -> dict:
    spec = {
        "selector": {"matchLabels": {"app": name}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, uid, generation=1, labels={"app": name}),
        "spec": spec,
        "status": {"replicas": replicas or 0, "readyReplicas": replicas or 0, "observedGeneration": 1},
    }


def replicaset(owner: dict, *, template_hash: str = "5d4f9c7b8") -> dict:
    name = f"{owner['metadata']['name']}-{template_hash}"
    namespace = owner["metadata"]["namespace"]
    replicas = owner["spec"].get("replicas", 1)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(name, namespace, None, owner, labels={"pod-template-hash": template_hash}),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"pod-template-hash": template_hash}}},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def statefulset(name: str, replicas: int = 3, *, namespace: str = "default") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(name, namespace, None),
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def job(name: str, parallelism: int | None = 1, *, namespace: str = "default", owner: dict | None = None) -> dict:
    spec = {"completions": 1, "backoffLimit": 6, "template": {"spec": {"restartPolicy": "Never"}}}
    if parallelism is not None:
        spec["parallelism"] = parallelism
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, namespace, None, owner),
        "spec": spec,
        "status": {"active": parallelism or 0, "startTime": CREATED},
    }


def cronjob(name: str, parallelism: int = 1, *, namespace: str = "default") -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(name, namespace, None),
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"parallelism": parallelism, "template": {"spec": {"restartPolicy": "Never"}}}},
        },
        "status": {"lastScheduleTime": CREATED},
    }


def pod(
    uid: str, *, owner: dict | None = None, phase: str = "Running", namespace: str | None = None, ip: str = ""
) -> dict:
    namespace = namespace or (owner["metadata"]["namespace"] if owner else "default")
    base = owner["metadata"]["name"] if owner else "pod"
    status = {"phase": phase, "hostIP": "192.0.2.10", "startTime": CREATED}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if phase == "Running":
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": CREATED}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(f"{base}-{uid[:5]}", namespace, uid, owner, labels={"app": base}),
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
            "nodeName": "node-1",
            "restartPolicy": "Always" if owner is None or owner["kind"] == "ReplicaSet" else "Never",
            "serviceAccountName": "default",
        },
        "status": status,
    }


def kubectl_list(*items: dict) -> dict:
    """What `kubectl get pods,deployments,... -A -o json` prints: one List of every kind (Go's JSON
    encoding sorts the keys, so "items" comes before "kind" and "metadata")."""
    return {"apiVersion": "v1", "items": list(items), "kind": "List", "metadata": {"resourceVersion": ""}}


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document, sort_keys=True))
    return path


# The fake API server -------------------------------------------------------------------------------

PATHS = {
    "/api/v1/pods": ("Pod", "v1"),
    "/apis/apps/v1/deployments": ("Deployment", "apps/v1"),
    "/apis/apps/v1/replicasets": ("ReplicaSet", "apps/v1"),
    "/apis/apps/v1/statefulsets": ("StatefulSet", "apps/v1"),
    "/apis/batch/v1/jobs": ("Job", "batch/v1"),
    "/apis/batch/v1/cronjobs": ("CronJob", "batch/v1"),
}


def failure_status(code: int, reason: str, message: str) -> dict:
    """A Kubernetes `Status` failure body, as the API server answers an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeKubeAPI:
    """Serves `items` (kubectl-shaped objects of any kinds) as the API server's lists.

    `fail[(kind, page)] = http_status` answers that page (0-based) of that kind's list with an error;
    `truncate = {kind}` ends that list with a page that says more remain but gives no continue token.
    `requests` records (path, query) of every request, for the tests to see the paging."""

    def __init__(self, items, *, token: str = "reconcile-test-token", fail=None, truncate=()):
        self.by_kind: dict[str, list[dict]] = {kind: [] for kind, _ in PATHS.values()}
        for item in items:
            bare = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}  # list items carry neither
            self.by_kind[item["kind"]].append(bare)
        self.token = token
        self.fail = dict(fail or {})
        self.truncate = set(truncate)
        self.requests: list[tuple[str, dict]] = []
        self._pages: dict[tuple[str, int, int], bytes] = {}
        self.server: ThreadingHTTPServer | None = None

    # HTTP ------------------------------------------------------------------------------------------

    def start(self) -> FakeKubeAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append((url.path, query))
                status, body = api.answer(url.path, query, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port in 8900-8999")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict, authorization: str) -> tuple[int, bytes]:
        if authorization != f"Bearer {self.token}":
            return 401, json.dumps(failure_status(401, "Unauthorized", "Unauthorized")).encode()
        if path not in PATHS:
            return 404, json.dumps(failure_status(404, "NotFound", f"the server could not find {path}")).encode()
        kind, api_version = PATHS[path]
        items = self.by_kind[kind]
        limit = int(query.get("limit", 0)) or len(items) or 1
        offset = 0
        if "continue" in query:
            try:
                offset = json.loads(base64.b64decode(query["continue"]))["offset"]
            except ValueError:
                return 400, json.dumps(failure_status(400, "BadRequest", "invalid continue token")).encode()
        page = offset // limit
        if (kind, page) in self.fail:
            code = self.fail[(kind, page)]
            reason = {410: "Expired", 500: "InternalError", 403: "Forbidden"}.get(code, "InternalError")
            message = "The provided continue parameter is too old" if code == 410 else "etcdserver: request timed out"
            return code, json.dumps(failure_status(code, reason, message)).encode()
        key = (kind, offset, limit)
        if key not in self._pages:  # the bench asks for big lists more than once
            self._pages[key] = self._page(kind, api_version, items, offset, limit)
        return 200, self._pages[key]

    def _page(self, kind: str, api_version: str, items: list, offset: int, limit: int) -> bytes:
        chunk = items[offset : offset + limit]
        rest = len(items) - offset - len(chunk)
        metadata: dict = {"resourceVersion": "123456"}
        if rest > 0:
            if kind in self.truncate:
                metadata["remainingItemCount"] = rest
            else:
                token = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
                metadata["continue"] = token
                metadata["remainingItemCount"] = rest
        page = {"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata, "items": chunk}
        return json.dumps(page).encode()

    # A kubeconfig that reaches it ------------------------------------------------------------------

    def kubeconfig(
        self, path: Path, *, token: str | None = None, extra_contexts: dict[str, str] | None = None, current="fake"
    ) -> Path:
        """A kubeconfig with a context "fake" for this server; `extra_contexts` maps more context
        names to server URLs (with the same user); `current` is the current context."""
        servers = {"fake": self.url, **(extra_contexts or {})}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": url}} for name, url in servers.items()],
            "users": [{"name": "reconciler", "user": {"token": token or self.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "reconciler"}} for name in servers],
            "current-context": current,
        }
        path.write_text(json.dumps(config))
        return path

    def pages_served(self, kind: str) -> list[dict]:
        path = next(p for p, (k, _) in PATHS.items() if k == kind)
        return [query for p, query in self.requests if p == path]
