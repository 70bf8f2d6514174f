"""The /v1 contract: the five POST calls (ippools.py: create, scale, release a pool; ips.py: require
and release an IP), subnet registration and the read lists (reads.py, ips.py, reconcile_runs.py),
their serializers and OpenAPI examples, all on one small framework (framework/). It owns no
models: it calls the services."""
