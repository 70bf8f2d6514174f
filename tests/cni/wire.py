"""Watches an interface for ARP and neighbour discovery frames and prints one JSON line per
frame, until killed or for the seconds given: `python -m tests.cni.wire IFNAME SECONDS`, run
inside a namespace (`ip netns exec`). The end-to-end test reads it to see the plugin's probes
and announcements on the bridge. A raw AF_PACKET socket, as the plugin's own probe uses."""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import time

ETH_P_ALL = 0x0003


def mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def decode(frame: bytes) -> dict | None:
    if len(frame) < 14:
        return None
    ether_type = int.from_bytes(frame[12:14], "big")
    src = mac(frame[6:12])
    if ether_type == 0x0806 and len(frame) >= 42:
        body = frame[14:]
        op = int.from_bytes(body[6:8], "big")
        return {
            "kind": "arp",
            "op": {1: "request", 2: "reply"}.get(op, str(op)),
            "src": src,
            "sender_mac": mac(body[8:14]),
            "sender_ip": str(ipaddress.IPv4Address(body[14:18])),
            "target_ip": str(ipaddress.IPv4Address(body[24:28])),
        }
    if ether_type == 0x86DD and len(frame) >= 14 + 40 + 24:
        packet = frame[14:]
        icmp = packet[40:]
        if packet[6] != 58 or icmp[0] not in (135, 136):
            return None
        return {
            "kind": {135: "ns", 136: "na"}[icmp[0]],
            "src": src,
            "source_ip": str(ipaddress.IPv6Address(packet[8:24])),
            "target_ip": str(ipaddress.IPv6Address(icmp[8:24])),
        }
    return None


def main(ifname: str, seconds: float) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    sock.settimeout(0.2)
    print(json.dumps({"kind": "ready"}), flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame = sock.recv(65535)
        except TimeoutError:
            continue
        decoded = decode(frame)
        if decoded is not None:
            print(json.dumps(decoded), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
