"""What the CNI end-to-end tests read of a pod: its interface, addresses and default route in its
namespace, what IPResMgr says it holds, and the pieces of a CNI result."""

from __future__ import annotations

from tests.cni import plugin_driver

DEPLOYMENT, STATEFULSET = 0, 1  # K8SApiResourceKind of the pools the tests create


def interface(pod: plugin_driver.Pod, ifname: str = "eth0") -> dict:
    (link,) = pod.netns.ip_json("addr", "show", "dev", ifname)
    return link


def addresses_of(link: dict, family: str) -> list[str]:
    found = link["addr_info"]
    return [f"{a['local']}/{a['prefixlen']}" for a in found if a["family"] == family and a["scope"] == "global"]


def default_route(pod: plugin_driver.Pod, family: str) -> dict:
    routes = pod.netns.ip_json(family, "route", "show", "default")
    assert len(routes) == 1, routes
    return routes[0]


def held_by(world, pod: plugin_driver.Pod) -> list[dict]:
    return world.service.addresses(K8SPodID=pod.uid)


def only_ip(result: dict) -> str:
    (ip,) = result["ips"]
    return ip["address"]


def container_mac(result: dict, pod: plugin_driver.Pod) -> str:
    (iface,) = [i for i in result["interfaces"] if i.get("sandbox") == pod.netns.path]
    return iface["mac"]
