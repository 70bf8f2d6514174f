"""Address arithmetic: sortable keys, usable ranges, exclusions, MACs. No database here."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every address is stored with a fixed-width hex key, so that text order is numeric order on
# both databases and an IPv6 /64 needs no 128-bit integer column.
KEY_WIDTH = 32


def ip_key(ip: IPAddress | int) -> str:
    return format(int(ip), f"0{KEY_WIDTH}x")


def parse_ip(text: str) -> IPAddress:
    """Parse IPv4 or IPv6 text; raises ValueError. Scoped IPv6 (fe80::1%eth0) is refused."""
    if not isinstance(text, str) or "%" in text:
        raise ValueError("not an IP address")
    return ipaddress.ip_address(text.strip())


def parse_network(text: str) -> IPNetwork:
    """Parse a CIDR with host bits zero (10.0.0.0/24, not 10.0.0.1/24); raises ValueError."""
    return ipaddress.ip_network(text.strip(), strict=True)


def parse_range(text: str) -> tuple[IPAddress, IPAddress]:
    """`A` or `A-B` (inclusive); raises ValueError."""
    first_text, _, last_text = text.partition("-")
    first = parse_ip(first_text)
    last = parse_ip(last_text) if last_text else first
    if first.version != last.version or int(last) < int(first):
        raise ValueError(f"bad range {text!r}: the end must not be before the start")
    return first, last


def usable_bounds(network: IPNetwork) -> tuple[int, int]:
    """First and last address a pod may get, before exclusions and the gateway."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4 and network.prefixlen <= 30:
        return first + 1, last - 1  # network and broadcast
    if network.version == 6 and network.prefixlen <= 126:
        return first + 1, last  # subnet-router anycast address
    return first, last


@dataclass(frozen=True)
class BlockedRanges:
    """Sorted, merged, inclusive integer ranges that are never handed out."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def build(cls, pairs: Iterable[tuple[int, int]]) -> BlockedRanges:
        merged: list[list[int]] = []
        for first, last in sorted(pairs):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        return cls(tuple((a, b) for a, b in merged))

    def count_within(self, low: int, high: int) -> int:
        return sum(max(0, min(b, high) - max(a, low) + 1) for a, b in self.ranges)

    def free_runs(self, low: int, high: int) -> Iterator[tuple[int, int]]:
        """The runs of [low, high] that no blocked range covers, in order."""
        cursor = low
        for a, b in self.ranges:
            if b < cursor:
                continue
            if a > high:
                break
            if a > cursor:
                yield cursor, a - 1
            cursor = max(cursor, b + 1)
            if cursor > high:
                return
        if cursor <= high:
            yield cursor, high


def new_mac() -> str:
    """A random locally administered unicast MAC, lower-case and colon-separated."""
    octets = bytearray(secrets.token_bytes(6))
    octets[0] = (octets[0] & 0b1111_1100) | 0b0000_0010
    return ":".join(f"{o:02x}" for o in octets)
