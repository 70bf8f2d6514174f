"""ipresmgr-ipam end to end, as a container runtime drives it (see conftest.py and its helpers):
the main plugin (bridge or macvlan) creates the pod's interface in the pod's namespace and runs
ipresmgr-ipam as its IPAM, which resolves the pod's workload from the Kubernetes API and requires
the address from IPResMgr; the main plugin puts the address and routes on it; ipresmgr-ipam
chained after the main plugin sets IPResMgr's MAC, probes the address on the wire, announces it
and corrects the MAC in the result. Then CHECK, DEL with IPResMgr down, DEL, DEL again;
the same through libcni itself. The quarantine is test_cni_quarantine.py's."""

from __future__ import annotations

import ipaddress

from tests.cni import k8s_objects, standins
from tests.cni.pod_state import (
    DEPLOYMENT,
    STATEFULSET,
    addresses_of,
    container_mac,
    default_route,
    held_by,
    interface,
    only_ip,
)


def test_bridge_ipv4_add_check_del(world):
    """A Deployment's pod over the bridge plugin: IPv4, cniVersion 1.0.0, a YAML kubeconfig."""
    dep = k8s_objects.deployment("shop", "web", 2, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep)
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "web", 2, standins.SUBNET_V4)
    pod, pod_object = world.new_pod("shop", "web-7d4b9c8f6d-x2k9q", rs)
    net = world.bridge_net()

    # ADD: the address with the subnet's prefix, the gateway, a default route, the MAC.
    result = net.add(pod).ok()
    assert result["cniVersion"] == "1.0.0"
    address = only_ip(result)
    ip = address.split("/")[0]
    assert ipaddress.ip_interface(address).network == ipaddress.ip_network("192.0.2.0/24")
    assert result["ips"][0]["gateway"] == "192.0.2.1"
    (held,) = held_by(world, pod)
    assert held["IP"] == ip and held["State"] == "bound"
    assert held["K8SApiResourceName"] == "web" and held["K8SApiResourceKind"] == DEPLOYMENT
    assert held["K8SApiResourceID"] == dep["metadata"]["uid"]  # the workload UID from the owner chain
    link = interface(pod)
    assert addresses_of(link, "inet") == [address]
    assert link["address"] == held["MacAddr"] == container_mac(result, pod)
    route = default_route(pod, "-4")
    assert route["gateway"] == "192.0.2.1" and route["dev"] == "eth0"

    # ADD again (the runtime retries; the main plugin runs IPAM with the same input): the same
    # address, from the state file, without asking the Kubernetes API again.
    api_calls = len(world.kube.requests())
    again = world.cni.call("ADD", net.entry(net.conflist["plugins"][0], None), pod, plugin="ipresmgr-ipam").ok()
    assert only_ip(again) == address and again["ips"][0]["gateway"] == "192.0.2.1"
    assert again["routes"] == [{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}]
    assert len(world.kube.requests()) == api_calls
    assert [a["IP"] for a in held_by(world, pod)] == [ip]

    # CHECK through the whole list, with the cached result as prevResult, as the runtime does.
    net.check(pod).ok()

    # The pod is deleted from the API before its sandbox is torn down: DEL must not need it.
    world.kube.delete(pod_object)
    api_calls = len(world.kube.requests())

    # DEL while IPResMgr is down fails, says so, and keeps the address (the runtime retries).
    down_net = world.bridge_net(timeoutSeconds=3, requestTimeoutSeconds=1)
    down_net.result = net.result
    world.service.stop()
    try:
        down = down_net.delete(pod).error()
    finally:
        world.service.start()
    assert down["code"] == 11, down
    assert "IPResMgr unreachable" in down["msg"], down
    assert [a["State"] for a in held_by(world, pod)] == ["bound"]

    # DEL: released, the service shows the address idle; DEL again succeeds too.
    assert net.delete(pod).ok() is None
    (released,) = world.service.addresses(IP=ip)
    assert released["State"] == "idle" and released["K8SPodID"] is None
    assert net.delete(pod).ok() is None
    assert held_by(world, pod) == []
    assert len(world.kube.requests()) == api_calls  # no DEL asked the Kubernetes API
    assert pod.netns.ip("link", "show", "dev", "eth0", check=False).returncode != 0  # the bridge removed it


def test_macvlan_ipv6_statefulset(world):
    """A StatefulSet's pod over macvlan: IPv6, cniVersion 0.4.0, API URL + token file credentials.
    CHECK fails once the address is taken from the pod; DEL without a state file asks IPResMgr
    what the pod holds."""
    sts = k8s_objects.statefulset("data", "db", 1, "iprcni-region/iprcni-v6")
    world.kube.add(sts)
    world.service.create_pool("data", STATEFULSET, "db", 1, standins.SUBNET_V6)
    pod, pod_object = world.new_pod("data", "db-0", sts)
    net = world.macvlan_net()

    result = net.add(pod).ok()
    assert result["cniVersion"] == "0.4.0"
    (ip_entry,) = result["ips"]
    assert ip_entry["version"] == "6" and ip_entry["gateway"] == "2001:db8::1"
    address = ip_entry["address"]
    assert ipaddress.ip_interface(address).network == ipaddress.ip_network("2001:db8::/64")
    ip = str(ipaddress.ip_interface(address).ip)
    (held,) = held_by(world, pod)
    assert held["IP"] == ip and held["K8SApiResourceKind"] == STATEFULSET
    link = interface(pod)
    assert addresses_of(link, "inet6") == [address]
    assert link["address"] == held["MacAddr"] == container_mac(result, pod)
    route = default_route(pod, "-6")
    assert route["gateway"] == "2001:db8::1" and route["dev"] == "eth0"
    net.check(pod).ok()

    # Someone releases the address behind the pod's back: CHECK says the pod no longer holds it.
    world.service.post(
        "/v1/ip/release",
        {
            "ReqID": "iprcni-behind-the-back",
            "K8SClusterID": standins.CLUSTER,
            "K8SNamespace": "data",
            "K8SApiResourceKind": STATEFULSET,
            "K8SApiResourceName": "db",
            "K8SApiResourceID": sts["metadata"]["uid"],
            "K8SPodID": pod.uid,
            "IP": ip,
        },
    )
    failed = net.check(pod).error()
    assert failed["code"] == 102 and "no longer holds" in failed["msg"], failed

    # The IPAM ADD again (as after the runtime re-creates the sandbox): the same, only, address.
    again = world.cni.call("ADD", net.entry(net.conflist["plugins"][0], None), pod, plugin="ipresmgr-ipam").ok()
    assert again["ips"][0]["address"] == address
    net.check(pod).ok()

    # The node's state directory is lost (say, a tmpfs after a reboot) and the pod is gone from
    # the API: DEL finds the pod's address by its UID (K8S_POD_UID) in IPResMgr and releases it.
    for state_file in (world.state_dir / "iprcni-v6").glob(f"{pod.container_id}.*"):
        state_file.unlink()
    world.kube.delete(pod_object)
    assert net.delete(pod).ok() is None
    (released,) = world.service.addresses(IP=ip)
    assert released["State"] == "idle"
    assert net.delete(pod).ok() is None


def test_single_plugin_config(world):
    """Without a list (one plugin, cniVersion 0.3.1) there is no chained entry: the address and
    routes as IPAM answered, the interface keeps the MAC its main plugin gave it, and the bridge
    plugin's own result and CHECK agree with it. The IPAM half never sets the MAC: the old
    `setMAC` is refused (code 7) naming the chained entry."""
    dep = k8s_objects.deployment("shop", "api", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "6b8c9d7f5e")
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "api", 1, standins.SUBNET_V4)
    pod, _ = world.new_pod("shop", "api-6b8c9d7f5e-h4j5k", rs)
    conf = world.bridge_conf()

    refused = world.cni.call("ADD", {**conf, "ipam": {**conf["ipam"], "setMAC": True}}, pod).error()
    assert refused["code"] == 7 and "after the main plugin" in refused["msg"], refused
    assert world.cni.call("DEL", conf, pod).ok() is None

    result = world.cni.call("ADD", conf, pod).ok()
    assert result["cniVersion"] == "0.3.1"
    assert result["ips"][0]["version"] == "4"
    (held,) = held_by(world, pod)
    link = interface(pod)
    assert addresses_of(link, "inet") == [result["ips"][0]["address"]]
    assert link["address"] != held["MacAddr"] and link["address"] == container_mac(result, pod)
    world.cni.call("CHECK", {**conf, "cniVersion": "0.4.0", "prevResult": result}, pod, plugin="ipresmgr-ipam").ok()
    assert world.cni.call("DEL", conf, pod).ok() is None
    assert held_by(world, pod) == []


def test_refusals(world):
    """Bare pods and DaemonSet pods are refused with code 101; a workload without a pool with
    IPResMgr's Code 20 as 220; a pod deleted meanwhile with 3. Each error is CNI error JSON
    passed through by the main plugin, and the runtime's DEL afterwards succeeds."""
    net = world.bridge_net()

    bare, _ = world.new_pod("shop", "debug")
    error = net.add(bare).error()
    assert error["code"] == 101 and "bare pod" in error["msg"], error
    assert net.delete(bare).ok() is None

    ds = k8s_objects.daemonset("kube-system", "node-agent")
    world.kube.add(ds)
    agent, _ = world.new_pod("kube-system", "node-agent-4xk2p", ds)
    error = net.add(agent).error()
    assert error["code"] == 101 and "DaemonSet" in error["msg"], error
    assert net.delete(agent).ok() is None

    dep = k8s_objects.deployment("shop", "no-pool", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "5f6d7c8b9a")
    world.kube.add(dep, rs)
    orphan, _ = world.new_pod("shop", "no-pool-5f6d7c8b9a-q8w7e", rs)
    error = net.add(orphan).error()
    assert error["code"] == 220, error
    assert "IPResMgr Code 20" in error["details"], error
    assert net.delete(orphan).ok() is None

    gone, gone_object = world.new_pod("shop", "no-pool-5f6d7c8b9a-gone1", rs)
    world.kube.delete(gone_object)
    error = net.add(gone).error()
    assert error["code"] == 3, error
    assert net.delete(gone).ok() is None


def test_database_outage_is_try_again_later(world):
    """IPResMgr up but its database unreachable: it answers Code 50, the plugin retries until its
    timeout and then answers code 11 with IPResMgr's Code and Msg."""
    dep = k8s_objects.deployment("shop", "outage", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "4c5d6e7f8a")
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "outage", 1, standins.SUBNET_V4)
    pod, _ = world.new_pod("shop", "outage-4c5d6e7f8a-z9x8c", rs)
    net = world.bridge_net(timeoutSeconds=3, requestTimeoutSeconds=2)

    world.service.stop()
    # A socket directory where no PostgreSQL listens: every call fails to connect, at once.
    world.service.start(database_url=f"postgres://postgres@{str(world.workdir).replace('/', '%2F')}/{standins.DB_NAME}")
    try:
        error = net.add(pod).error()
    finally:
        world.service.stop()
        world.service.start()
    assert error["code"] == 11, error
    assert "IPResMgr Code 50" in error["details"] and "attempts" in error["details"], error
    assert net.delete(pod).ok() is None  # the runtime's cleanup after the failed ADD
    assert held_by(world, pod) == []


def test_version(world):
    pod, _ = world.new_pod("shop", "version-probe")
    answer = world.cni.call("VERSION", {"cniVersion": "1.0.0"}, pod, plugin="ipresmgr-ipam").ok()
    assert answer == {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]}


def test_through_libcni(world):
    """The bridge conflist driven through libcni itself (cni/cmd/ipresmgr-cnirun on the vendored
    library, as containerd drives plugins): ADD, CHECK from libcni's cached result, DEL, DEL again."""
    dep = k8s_objects.deployment("shop", "via-libcni", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "3d4e5f6a7b")
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "via-libcni", 1, standins.SUBNET_V4)
    pod, pod_object = world.new_pod("shop", "via-libcni-3d4e5f6a7b-r6s7t", rs)
    conflist = world.bridge_net().conflist

    result = world.runtime.call("add", conflist, pod).ok()
    assert result["cniVersion"] == "1.0.0"
    (held,) = held_by(world, pod)
    assert only_ip(result) == f"{held['IP']}/24"
    assert interface(pod)["address"] == held["MacAddr"] == container_mac(result, pod)
    world.runtime.call("check", conflist, pod).ok()
    world.kube.delete(pod_object)
    world.runtime.call("del", conflist, pod).ok()
    assert held_by(world, pod) == []
    world.runtime.call("del", conflist, pod).ok()
