"""ipresmgr-ipam's probe end to end (see conftest.py): an intruder holding the address IPResMgr
hands the next pod, on the bridge or the macvlan master, is found by the chained entry's probe; the
address is quarantined and the pod gets another; with the probe off it is trusted."""

from __future__ import annotations

import ipaddress

from tests.cni import k8s_objects, namespaces, standins
from tests.cni.pod_state import (
    DEPLOYMENT,
    STATEFULSET,
    container_mac,
    held_by,
    interface,
    only_ip,
)


def quarantine_listing(world, subnet) -> str:
    return world.service.manage("list_quarantine", "--subnet-id", subnet[0]).stdout


def next_address(world, namespace: str, name: str) -> str:
    """The address IPResMgr hands the workload's next pod: its pool's one idle address."""
    (idle,) = world.service.addresses(K8SNamespace=namespace, K8SApiResourceName=name, State="idle")
    return idle["IP"]


def test_intruder_on_the_bridge_is_quarantined(world):
    """Another host on the bridge already holds the address the next pod would get: the chained
    entry's ARP probe hears it, the ADD fails naming the address and the intruder's MAC, IPResMgr
    quarantines the address; the runtime's retry gets another one, probed and announced by
    gratuitous ARP; later pods never get it; an operator clears it."""
    dep = k8s_objects.deployment("shop", "guarded", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "7c8d9e0f1a")
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "guarded", 1, standins.SUBNET_V4)
    taken = next_address(world, "shop", "guarded")
    intruder = world.new_intruder(f"{taken}/24")
    pod, _ = world.new_pod("shop", "guarded-7c8d9e0f1a-k2l3m", rs)
    net = world.bridge_net()

    error = net.add(pod).error()
    assert error["code"] == 104, error
    assert f"{taken} is in use on the wire by {intruder.mac}" in error["msg"], error
    assert "quarantined" in error["details"], error
    listing = quarantine_listing(world, standins.SUBNET_V4)
    assert taken in listing and intruder.mac in listing and pod.uid in listing, listing
    assert held_by(world, pod) == []
    assert all(a["State"] != "bound" for a in world.service.addresses(IP=taken))

    # The runtime cleans up after the failed ADD and retries: another address, probed from
    # 0.0.0.0 and then announced (gratuitous ARP), both seen on the bridge.
    assert net.delete(pod).ok() is None
    wire = namespaces.Wire(world.node, world.bridge)
    result = net.add(pod).ok()
    frames = wire.frames()
    ip = only_ip(result).split("/")[0]
    assert ip != taken
    (held,) = held_by(world, pod)
    mac = held["MacAddr"]
    assert interface(pod)["address"] == mac == container_mac(result, pod)
    arp = [f for f in frames if f["kind"] == "arp" and f["sender_mac"] == mac]
    probes = [i for i, f in enumerate(arp) if f["sender_ip"] == "0.0.0.0" and f["target_ip"] == ip]
    announcements = [i for i, f in enumerate(arp) if f["sender_ip"] == f["target_ip"] == ip]
    assert probes and announcements, frames
    # Probe, then announce. (The kernel itself announces once when the chained entry changes the
    # MAC, before the probe: cni/README.md, "Probe, then announce".)
    assert max(announcements) > max(probes), arp
    net.check(pod).ok()

    # Later pods never get it: a new pool in the subnet reserves around it.
    other = k8s_objects.deployment("shop", "crowd", 6, "iprcni-region/iprcni-v4")
    world.kube.add(other)
    world.service.create_pool("shop", DEPLOYMENT, "crowd", 6, standins.SUBNET_V4)
    crowd = [a["IP"] for a in world.service.addresses(K8SNamespace="shop", K8SApiResourceName="crowd")]
    assert len(crowd) == 6 and taken not in crowd, crowd

    # The operator has the intruder removed and clears the quarantine.
    intruder.delete()
    world.intruders.remove(intruder)
    cleared = world.service.manage(
        "clear_quarantine", "--subnet-id", standins.SUBNET_V4[0], "--ip", taken, "--reason", "e2e"
    )
    assert "cleared" in cleared.stdout
    assert taken not in quarantine_listing(world, standins.SUBNET_V4)
    assert net.delete(pod).ok() is None


def test_ipv6_duplicate_address_on_macvlan_is_quarantined(world):
    """IPv6 over macvlan: another host beside the pod on the same master holds the address; the
    chained entry's duplicate address detection (a neighbour solicitation from ::) hears its
    advertisement, and the address is quarantined as for IPv4. The retry's address is announced
    by an unsolicited neighbour advertisement."""
    sts = k8s_objects.statefulset("data", "cache", 1, "iprcni-region/iprcni-v6")
    world.kube.add(sts)
    world.service.create_pool("data", STATEFULSET, "cache", 1, standins.SUBNET_V6)
    taken = next_address(world, "data", "cache")
    intruder = world.new_intruder(f"{taken}/64", macvlan=True)
    pod, _ = world.new_pod("data", "cache-0", sts)
    net = world.macvlan_net()

    error = net.add(pod).error()
    assert error["code"] == 104, error
    assert f"{taken} is in use on the wire by {intruder.mac}" in error["msg"], error
    listing = quarantine_listing(world, standins.SUBNET_V6)
    assert taken in listing and intruder.mac in listing, listing

    assert net.delete(pod).ok() is None
    # The watch sees every frame on the master's segment, not only groups the intruder joined.
    intruder.netns.ip("link", "set", intruder.ifname, "promisc", "on")
    wire = namespaces.Wire(intruder.netns, intruder.ifname)
    result = net.add(pod).ok()
    frames = wire.frames()
    ip = str(ipaddress.ip_interface(only_ip(result)).ip)
    assert ip != taken
    (held,) = held_by(world, pod)
    assert any(
        f["kind"] == "ns" and f["source_ip"] == "::" and f["target_ip"] == ip and f["src"] == held["MacAddr"]
        for f in frames
    ), frames
    assert any(f["kind"] == "na" and f["target_ip"] == ip and f["src"] == held["MacAddr"] for f in frames), frames
    assert net.delete(pod).ok() is None
    world.service.manage("clear_quarantine", "--subnet-id", standins.SUBNET_V6[0], "--ip", taken)


def test_probe_off(world):
    """conflictProbeMillis 0: no probe and no announcement, even with an intruder on the address."""
    dep = k8s_objects.deployment("shop", "trusting", 1, "iprcni-region/iprcni-v4")
    rs = k8s_objects.replicaset(dep, "2b3c4d5e6f")
    world.kube.add(dep, rs)
    world.service.create_pool("shop", DEPLOYMENT, "trusting", 1, standins.SUBNET_V4)
    taken = next_address(world, "shop", "trusting")
    world.new_intruder(f"{taken}/24")
    pod, _ = world.new_pod("shop", "trusting-2b3c4d5e6f-n4p5q", rs)
    net = world.bridge_net(conflictProbeMillis=0)
    assert only_ip(net.add(pod).ok()).split("/")[0] == taken  # what turning it off means
    assert taken not in quarantine_listing(world, standins.SUBNET_V4)
    assert net.delete(pod).ok() is None
