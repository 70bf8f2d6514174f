"""Reclaiming leaked addresses: reconcile a cluster's bindings and pools with its Kubernetes API.

cluster.py reads the cluster (the `kubernetes` client, paged; or kubectl's JSON, streamed),
compare.py finds what leaked, apply.py changes it under the pools' locks, run.py runs it all and
stores the report (leases.models.ReconcileRun), metrics.py turns stored runs into gauges."""
