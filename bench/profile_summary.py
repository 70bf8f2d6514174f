"""Where a py-spy profile (--format raw, collapsed stacks, on-CPU samples) says the server's CPU goes,
per layer of a /v1 call.

python bench/profile_summary.py artifacts/profile.txt [--cpu-us-per-call N]

Each sample goes to the layer of its innermost frame that belongs to one: a JSON encoder called
from our envelope counts as the envelope, a psycopg socket call as the database round trip.
With --cpu-us-per-call (bench/run.py's server CPU per call of the same run) the shares are also
given in µs per call."""

from __future__ import annotations

import argparse
from collections import Counter

# (layer, markers): a frame belongs to the first layer one of whose markers it contains.
LAYERS = [
    ("database round trip (psycopg, Django's backend: send, wait, fetch, commit)", ["psycopg", "django/db/backends/"]),
    ("Django ORM (building SQL, making objects)", ["django/db/models/", "django/db/transaction"]),
    ("our services and SQL text (leases/, pools/ services, audit)", ["leases/services/", "audit/recording.py",
                                                                    "pools/allocation.py", "core/transactions.py",
                                                                    "leases/tables.py", "core/domain.py",
                                                                    # the layout before the reshape (issue 20)
                                                                    "leases/services.py", "pools/audit.py",
                                                                    "pools/services/", "pools/transactions.py",
                                                                    "pools/domain.py"]),
    ("DRF serializer validation (our fields included)", ["rest_framework/serializers.py", "rest_framework/fields.py",
                                                          "contract/framework/fields.py", "contract/ips_serializers.py",
                                                          "pools/api/fields.py", "pools/api/serializers.py",
                                                          "leases/serializers.py",
                                                          "rest_framework/validators.py"]),
    ("authentication (token header, cache)", ["pools/auth.py", "_authenticate (rest_framework"]),
    ("DRF request, negotiation, parsing, rendering", ["rest_framework/"]),
    ("our envelope and views (contract/framework, contract/ips.py)", ["contract/", "pools/api/", "leases/views.py"]),
    ("call log and metrics", ["ipresmgr_site/calls.py", "ipresmgr_site/metrics.py", "ipresmgr_site/logs.py",
                              "prometheus_client", "logging/"]),
    ("Django middleware, handler and URL routing", ["django/middleware", "django/contrib/", "whitenoise",
                                                    "django/core/handlers", "django/urls", "ipresmgr_site/health.py",
                                                    "django/http/"]),
    ("gunicorn HTTP handling (accept, parse, write)", ["gunicorn/"]),
]  # fmt: skip
OTHER = "other (interpreter, threads, imports)"


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, markers in LAYERS:
            if any(marker in frame for marker in markers):
                return label
    return OTHER


def summary(path: str) -> tuple[int, Counter, Counter]:
    layers: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            leaves[frames[-1]] += n
            layers[layer_of(frames)] += n
    return total, layers, leaves


def table(path: str, cpu_us_per_call: float | None = None) -> str:
    total, layers, leaves = summary(path)
    lines = [f"{total} on-CPU samples", "", "| layer | share of server CPU | µs per call |", "|---|---:|---:|"]
    for label, n in layers.most_common():
        share = n / max(1, total)
        us = f"{share * cpu_us_per_call:.0f}" if cpu_us_per_call else ""
        lines.append(f"| {label} | {100 * share:.1f} % | {us} |")
    lines += ["", "top frames by own samples:"]
    lines += [f"{100 * n / max(1, total):5.1f}%  {frame[:150]}" for frame, n in leaves.most_common(15)]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--cpu-us-per-call", type=float)
    args = parser.parse_args()
    print(table(args.path, args.cpu_us_per_call))
