"""Checks the benchmark applies to what its clients saw. Pure functions, so tests can feed them."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Holding:
    """One pod's hold on one address, as a client saw it (perf_counter seconds).

    The server bound the address somewhere in [require_sent, require_answered] and let it go
    somewhere in [release_sent, release_answered]; so the pod surely held it in between
    require_answered and release_sent."""

    pod: str
    ip: str
    require_answered: float
    release_sent: float


def overlapping_holdings(holdings: list[Holding]) -> list[tuple[Holding, Holding]]:
    """Pairs of holdings of the same address by two different pods at the same time."""
    by_ip: dict[str, list[Holding]] = defaultdict(list)
    for holding in holdings:
        by_ip[holding.ip].append(holding)
    clashes = []
    for same_ip in by_ip.values():
        same_ip.sort(key=lambda h: h.require_answered)
        latest = None  # the holding that reaches furthest so far
        for holding in same_ip:
            if latest is not None and holding.require_answered < latest.release_sent and holding.pod != latest.pod:
                clashes.append((latest, holding))
            if latest is None or holding.release_sent > latest.release_sent:
                latest = holding
    return clashes


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list; 0.0 for an empty one."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]
