"""Reading a cluster: its live pods and its workloads, through the official `kubernetes` client
(every list paged with `limit`/`continue`) or from the output of
`kubectl get pods,deployments,replicasets,statefulsets,jobs,cronjobs -A -o json` (streamed, so a
100,000-pod List is never held whole).

Only what the comparison needs is kept: the UIDs of live pods, each workload's desired replica
count, how many live pods each workload has, and the addresses (status.podIPs) of live pods with
the workload each belongs to (to find bindings a database failover lost). Anything that leaves
doubt about the read being complete is a ReadError, and the caller then changes nothing."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone

from core.choices import Kind

POD = "Pod"
REPLICA_SET = "ReplicaSet"
WORKLOAD_KINDS = {
    "Deployment": Kind.DEPLOYMENT,
    "StatefulSet": Kind.STATEFULSET,
    "Job": Kind.JOB,
    "CronJob": Kind.CRONJOB,
}
KIND_NAMES = {kind: name for name, kind in WORKLOAD_KINDS.items()}
LISTED_KINDS = (POD, "Deployment", REPLICA_SET, "StatefulSet", "Job", "CronJob")
# A pod in one of these phases has stopped for good: kubelet has torn its network down, and
# Kubernetes itself reuses its IP. Its object may stay for a long time (a finished Job's pods).
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
# Where each kind keeps its desired replica count (SPEC: CronJob and Job use their parallelism).
REPLICAS_FIELD = {
    "Deployment": ("spec", "replicas"),
    "StatefulSet": ("spec", "replicas"),
    "Job": ("spec", "parallelism"),
    "CronJob": ("spec", "jobTemplate", "spec", "parallelism"),
}

WorkloadKey = tuple[int, str, str]  # (Kind, namespace, name), as a pool names its workload


@dataclass(frozen=True, slots=True)  # one per live pod with an address: kept small
class PodAddresses:
    """A live pod's addresses as the cluster shows them, and the workload the pod belongs to (the
    top of its controller chain, as the CNI plugin resolves it: ReplicaSet -> Deployment,
    Job -> CronJob), None when the chain leads to no listed workload."""

    uid: str
    namespace: str
    name: str
    ips: tuple[str, ...]
    workload: WorkloadKey | None
    created_text: str  # metadata.creationTimestamp, parsed only for a finding

    @property
    def text(self) -> str:
        return f"pod {self.namespace}/{self.name} ({self.uid})"

    @property
    def created(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.created_text.replace("Z", "+00:00")) if self.created_text else None
        except ValueError:
            return None


class ReadError(Exception):
    """The cluster could not be read completely and surely: nothing may be changed."""


def workload_text(key: WorkloadKey) -> str:
    kind, namespace, name = key
    return f"{KIND_NAMES[kind]} {namespace}/{name}"


def replicas_field(kind: int) -> str:
    return ".".join(REPLICAS_FIELD[KIND_NAMES[kind]])


@dataclass
class ClusterSnapshot:
    """What was read. `read_at` bounds the read in time: the lists began no earlier (API), or the
    file was written no earlier (JSON); bindings younger than it minus the grace are left alone."""

    source: str
    read_at: datetime
    live_pod_uids: set[str]
    finished_pods: dict[str, str]  # uid -> status.phase
    replicas: dict[WorkloadKey, int]
    listed: Counter = field(default_factory=Counter)  # objects read, by kind
    live_pods_by_workload: Counter = field(default_factory=Counter)
    pod_addresses: list[PodAddresses] = field(default_factory=list)  # live pods that show an address

    @property
    def live_pods(self) -> int:
        return len(self.live_pod_uids)

    @property
    def workloads(self) -> int:
        return len(self.replicas)

    def lists_kind(self, kind: int) -> bool:
        """Whether any object of this workload kind was read. An empty list is not trusted to mean
        "there are none": a kubectl command that left the kind out reads the same."""
        return self.listed[KIND_NAMES[kind]] > 0


class SnapshotBuilder:
    """Takes one object at a time and keeps only what the comparison needs."""

    def __init__(self):
        self.live_pod_uids: set[str] = set()
        self.finished_pods: dict[str, str] = {}
        self.replicas: dict[WorkloadKey, int] = {}
        self.listed: Counter = Counter()
        # uid -> (the workload it is, if one; the uid of its controller, if any): ReplicaSets and
        # Jobs lead from a pod to its Deployment or CronJob.
        self._owners: dict[str, tuple[WorkloadKey | None, str | None]] = {}
        self._live_pods_by_owner: Counter = Counter()
        # Live pods that show an address: (uid, namespace, name, ips, controller uid, created).
        self._pods_with_ips: list[tuple[str, str, str, tuple[str, ...], str | None, str]] = []

    def add(self, kind: str, item) -> None:
        if kind not in LISTED_KINDS:
            return
        if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
            raise ReadError(f"a {kind} without metadata")
        metadata = item["metadata"]
        uid = _text(metadata, "uid", kind)
        owner = _controller_uid(metadata)
        self.listed[kind] += 1
        if kind == POD:
            if uid in self.live_pod_uids or uid in self.finished_pods:
                # Not one consistent read of the cluster (two listings pasted together?): which of
                # the two is the pod's address is unknowable, so nothing is compared.
                raise ReadError(f"pod {uid} is listed twice")
            phase = (item.get("status") or {}).get("phase") or "Pending"
            if phase in FINISHED_PHASES:
                self.finished_pods[uid] = phase
            else:
                self.live_pod_uids.add(uid)
                if owner:
                    self._live_pods_by_owner[owner] += 1
                ips = _pod_ips(item)
                if ips:
                    namespace = _text(metadata, "namespace", kind)
                    name = metadata.get("name") if isinstance(metadata.get("name"), str) else uid
                    created = metadata.get("creationTimestamp") or ""
                    self._pods_with_ips.append((uid, namespace, name, ips, owner, created))
            return
        key = None
        if kind in WORKLOAD_KINDS:
            key = (int(WORKLOAD_KINDS[kind]), _text(metadata, "namespace", kind), _text(metadata, "name", kind))
            self.replicas[key] = _desired_replicas(kind, item, key)
        self._owners[uid] = (key, owner)

    def snapshot(self, *, source: str, read_at: datetime) -> ClusterSnapshot:
        by_workload: Counter = Counter()
        for owner, pods in self._live_pods_by_owner.items():
            # pod -> ReplicaSet -> Deployment, pod -> Job -> CronJob: a few steps at most.
            uid, steps = owner, 0
            while uid is not None and steps < 4:
                key, uid = self._owners.get(uid, (None, None))
                if key is not None:
                    by_workload[key] += pods
                steps += 1
        pod_addresses = [
            PodAddresses(
                uid=uid,
                namespace=namespace,
                name=name,
                ips=ips,
                workload=self._workload_of(owner),
                created_text=created if isinstance(created, str) else "",
            )
            for uid, namespace, name, ips, owner, created in self._pods_with_ips
        ]
        return ClusterSnapshot(
            source=source,
            read_at=read_at,
            live_pod_uids=self.live_pod_uids,
            finished_pods=self.finished_pods,
            replicas=self.replicas,
            listed=self.listed,
            live_pods_by_workload=by_workload,
            pod_addresses=pod_addresses,
        )

    def _workload_of(self, owner: str | None) -> WorkloadKey | None:
        """The topmost workload up the controller chain (a CronJob's Job leads to the CronJob)."""
        found, uid, steps = None, owner, 0
        while uid is not None and steps < 4:
            key, uid = self._owners.get(uid, (None, None))
            if key is not None:
                found = key
            steps += 1
        return found


def _pod_ips(item: dict) -> tuple[str, ...]:
    """Every address of status.podIPs (status.podIP when the list is missing). Host-network pods
    show their node's address, shared by many pods and never handed out by IPResMgr: skipped. So
    are pods being deleted: their CNI DEL may release the address any moment."""
    spec = item.get("spec") or {}
    metadata = item.get("metadata") or {}
    if (isinstance(spec, dict) and spec.get("hostNetwork")) or metadata.get("deletionTimestamp"):
        return ()
    status = item.get("status") or {}
    if not isinstance(status, dict):
        return ()
    entries = status.get("podIPs")
    ips = [e.get("ip") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return tuple(dict.fromkeys(ip for ip in ips if isinstance(ip, str) and ip))


def _text(metadata: dict, key: str, kind: str) -> str:
    value = metadata.get(key)
    if not isinstance(value, str) or not value:
        name = metadata.get("name") if isinstance(metadata.get("name"), str) else "?"
        raise ReadError(f"a {kind} ({name}) without metadata.{key}")
    return value


def _controller_uid(metadata: dict) -> str | None:
    for ref in metadata.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") and isinstance(ref.get("uid"), str):
            return ref["uid"]
    return None


def _desired_replicas(kind: str, item: dict, key: WorkloadKey) -> int:
    value = item
    for step in REPLICAS_FIELD[kind]:
        value = value.get(step) if isinstance(value, dict) else None
    if value is None:
        return 1  # Kubernetes' default for all four
    if type(value) is not int or value < 0:
        raise ReadError(f"{workload_text(key)}: {'.'.join(REPLICAS_FIELD[kind])} is not a count: {value!r}")
    return value


# From the Kubernetes API -------------------------------------------------------------------------

# Workloads first, pods last; every list is a consistent snapshot of its kind (limit/continue).
LIST_CALLS = (
    ("Deployment", "AppsV1Api", "list_deployment_for_all_namespaces"),
    (REPLICA_SET, "AppsV1Api", "list_replica_set_for_all_namespaces"),
    ("StatefulSet", "AppsV1Api", "list_stateful_set_for_all_namespaces"),
    ("Job", "BatchV1Api", "list_job_for_all_namespaces"),
    ("CronJob", "BatchV1Api", "list_cron_job_for_all_namespaces"),
    (POD, "CoreV1Api", "list_pod_for_all_namespaces"),
)
REQUEST_TIMEOUT = (10, 120)  # seconds: connect, read (one page)


def kubeconfig_client(path: str | None, context: str | None):
    """An API client from a kubeconfig file (None: $KUBECONFIG, else ~/.kube/config)."""
    from kubernetes import config  # a heavy import, needed only here

    # $KUBECONFIG read now, not when the client was imported (its default is fixed at import).
    path = path or os.environ.get("KUBECONFIG") or None
    try:
        return config.new_client_from_config(config_file=path, context=context, persist_config=False)
    except (config.ConfigException, OSError, ValueError, TypeError) as exc:
        raise ReadError(f"kubeconfig {path or '~/.kube/config'}: {exc}") from None


def in_cluster_client():
    """An API client with the pod's service account (KUBERNETES_SERVICE_HOST, the mounted token)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as exc:
        raise ReadError(f"in-cluster configuration: {exc}") from None
    return client.ApiClient(configuration)


def read_from_api(api_client, *, source: str, page_size: int = 500) -> ClusterSnapshot:
    """List pods and workloads of all namespaces, `page_size` objects per request."""
    from kubernetes import client

    read_at = timezone.now()
    builder = SnapshotBuilder()
    try:
        for kind, api_class, method in LIST_CALLS:
            call = getattr(getattr(client, api_class)(api_client), method)
            for items in _pages(kind, call, page_size):
                for item in items:
                    builder.add(kind, item)
    finally:
        api_client.close()
    return builder.snapshot(source=source, read_at=read_at)


def _pages(kind: str, call, page_size: int):
    """The items of each page of one list, following `continue` to the end."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    token = None
    seen: set[str] = set()
    while True:
        try:
            response = call(limit=page_size, _continue=token, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            try:
                body = json.loads(response.data)
            finally:
                response.release_conn()
        except ApiException as exc:
            hint = " (the continue token expired: run again)" if exc.status == 410 else ""
            raise ReadError(f"listing {kind}s failed: HTTP {exc.status} {exc.reason}{hint}") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ReadError(f"listing {kind}s failed: {type(exc).__name__}: {exc}") from None
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ReadError(f"listing {kind}s: the answer holds no list of items")
        yield items
        metadata = body.get("metadata") or {}
        token = metadata.get("continue") or None
        if token is None:
            if _remaining(metadata):
                raise ReadError(f"listing {kind}s: the last page says more remain, with no continue token")
            return
        if token in seen:
            raise ReadError(f"listing {kind}s: the server repeated a continue token")
        seen.add(token)


def _remaining(metadata: dict) -> int:
    value = metadata.get("remainingItemCount")
    return value if type(value) is int else 0


# From kubectl's JSON -------------------------------------------------------------------------------

# Top-level keys of a List worth noting while its items stream past.
_LIST_KEYS = ("kind", "metadata.continue", "metadata.remainingItemCount")


def read_from_json(path: str) -> ClusterSnapshot:
    """Read a `kubectl get ... -o json` List from a file, or from stdin when `path` is "-".

    The cluster was read no later than the file was written, so its modification time is the read
    time (stdin: now). Copy a file with its time (`cp -p`), or pipe kubectl's output."""
    import ijson

    if path == "-":
        source, stream, read_at = "kubectl JSON on stdin", sys.stdin.buffer, timezone.now()
    else:
        source = f"kubectl JSON {path}"
        try:
            stream = open(path, "rb")  # closed below, after the stream is read
            written = datetime.fromtimestamp(os.fstat(stream.fileno()).st_mtime, tz=UTC)
        except OSError as exc:
            raise ReadError(f"{source}: {exc.strerror or exc}") from None
        read_at = min(written, timezone.now())
    builder = SnapshotBuilder()
    seen: dict = {}

    def noting_list_keys(events):
        for prefix, event, value in events:
            if prefix in _LIST_KEYS:
                seen[prefix] = value
            elif prefix == "items" and event == "start_array":
                seen["items"] = True
            yield prefix, event, value

    try:
        for item in ijson.items(noting_list_keys(ijson.parse(stream, use_float=True)), "items.item"):
            kind = item.get("kind") if isinstance(item, dict) else None
            if not isinstance(kind, str):
                raise ReadError(f"{source}: an item without a kind (is this kubectl get ... -o json output?)")
            builder.add(kind, item)
    except ijson.JSONError as exc:
        raise ReadError(f"{source} is not complete JSON ({exc}): truncated?") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if not str(seen.get("kind", "")).endswith("List") or "items" not in seen:
        raise ReadError(f"{source} is not a List (kubectl get pods,deployments,... -A -o json makes one)")
    if seen.get("metadata.continue") or _remaining({"remainingItemCount": seen.get("metadata.remainingItemCount")}):
        raise ReadError(f"{source} is one page of a longer list (metadata.continue is set): truncated")
    return builder.snapshot(source=source, read_at=read_at)
