import argparse
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from contract.reconcile_runs import ReconcileRunOut
from core.domain import CLUSTER_ID_RULE, is_cluster_id
from leases.reconcile import cluster
from leases.reconcile.run import EXIT_CONFLICTS, EXIT_ERROR, Options, Outcome, UnknownCluster, finding_report, reconcile

COLUMNS = (("WHAT", "What"), ("POD", "K8SPodID"), ("IP", "IP"), ("POOL", "Pool"), ("SINCE", "Since"))
WIDE_COLUMNS = (("WHY", "Why"), ("ACTION", "Action"))


def count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage from 0 to 100")
    return value


class Command(BaseCommand):
    help = (
        "Find addresses and pools the cluster no longer uses (bindings of pods that are gone, pools of "
        "deleted workloads, targets that differ from the replica count) and what the database lost (bindings "
        "and pools of live pods, after a failover), by reading its Kubernetes API; with --apply, free or "
        "restore them. Address conflicts (two live pods on one address) are reported only. A dry run unless "
        "--apply. Exit 0: nothing found (or all applied); 1: findings to act on; 2: an error (nothing "
        "changed); 3: address conflicts (wins over 1)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        """A bad argument is exit 2 from call_command too, as from the shell (argparse's code)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        shell_error = parser.error

        def error(message):
            if parser.called_from_command_line:
                shell_error(message)
            raise CommandError(f"Error: {message}", returncode=EXIT_ERROR)

        parser.error = error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--cluster-id", required=True, help="the K8SClusterID to reconcile")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--kubeconfig", metavar="FILE", help="default: $KUBECONFIG, else ~/.kube/config")
        source.add_argument("--in-cluster", action="store_true", help="the pod's service account")
        source.add_argument(
            "--from-json",
            metavar="FILE",
            help="output of `kubectl get pods,deployments,replicasets,statefulsets,jobs,cronjobs -A -o json` "
            "('-': stdin); the cluster counts as read when the file was written",
        )
        parser.add_argument("--context", help="the kubeconfig context (default: its current context)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="make the changes (default: a dry run)")
        mode.add_argument("--dry-run", action="store_true", help="the default; for scripts that name the mode")
        parser.add_argument(
            "--grace-seconds",
            type=count,
            default=300,
            help="never touch a binding bound, or a pool created or changed, less than this long before "
            "the cluster was read (default 300)",
        )
        parser.add_argument(
            "--fix-targets",
            action="store_true",
            help="with --apply, also set each drifted pool's target to its workload's replica count",
        )
        parser.add_argument(
            "--recreate-pools",
            action="store_true",
            help="with --apply, also re-create each lost pool (a workload whose live pods hold free addresses of "
            "a managed subnet and which has no active pool) with its pods' addresses bound",
        )
        parser.add_argument(
            "--max-leaked-percent",
            type=percent,
            default=50,
            help="refuse (exit 2, nothing changed) when more than this share of the bindings older than the "
            "grace look leaked: a sign of the wrong cluster (default 50)",
        )
        parser.add_argument("--page-size", type=count, default=500, help="objects per API request (default 500)")
        parser.add_argument("--keep-runs", type=count, default=100, help="stored runs kept per cluster (default 100)")
        parser.add_argument("--output", choices=["table", "json"], default="table")

    def handle(self, *args, **opts):
        cluster_id = opts["cluster_id"]
        if not is_cluster_id(cluster_id):
            raise CommandError(f"--cluster-id: {CLUSTER_ID_RULE}", returncode=EXIT_ERROR)
        if opts["context"] and (opts["in_cluster"] or opts["from_json"]):
            raise CommandError("--context goes with a kubeconfig only", returncode=EXIT_ERROR)
        options = Options(
            cluster_id=cluster_id,
            apply=opts["apply"],
            grace_seconds=opts["grace_seconds"],
            fix_targets=opts["fix_targets"],
            recreate_pools=opts["recreate_pools"],
            max_leaked_percent=opts["max_leaked_percent"],
            keep_runs=max(1, opts["keep_runs"]),
        )
        try:
            outcome = reconcile(options, self.reader(opts))
        except UnknownCluster as exc:
            raise CommandError(str(exc), returncode=EXIT_ERROR) from None
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {exc}", returncode=EXIT_ERROR) from None
        if opts["output"] == "json":
            self.stdout.write(json.dumps(as_json(outcome), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(as_table(outcome))
        run = outcome.run
        if run.exit_code == EXIT_ERROR:
            raise CommandError(run.message, returncode=EXIT_ERROR)
        if run.exit_code == EXIT_CONFLICTS:
            raise CommandError(
                "address conflicts: two live pods on one address (see the report above); nothing changed for them",
                returncode=EXIT_CONFLICTS,
            )
        if run.exit_code:
            raise CommandError("findings to act on: see the report above", returncode=run.exit_code)

    @staticmethod
    def reader(opts):
        page_size = max(1, opts["page_size"])
        if opts["from_json"]:
            return lambda: cluster.read_from_json(opts["from_json"])
        if opts["in_cluster"]:
            return lambda: cluster.read_from_api(
                cluster.in_cluster_client(), source="in-cluster service account", page_size=page_size
            )
        source = f"kubeconfig {opts['kubeconfig'] or '$KUBECONFIG or ~/.kube/config'}"
        if opts["context"]:
            source += f" (context {opts['context']})"
        return lambda: cluster.read_from_api(
            cluster.kubeconfig_client(opts["kubeconfig"], opts["context"]), source=source, page_size=page_size
        )


def as_json(outcome: Outcome) -> dict:
    """The run as GET /v1/reconcile/runs shows it, with every finding (the stored run keeps the first)."""
    data = dict(ReconcileRunOut(outcome.run).data)
    if outcome.plan is not None:
        data["Findings"] = [finding_report(f) for f in outcome.findings]
    return data


def as_table(outcome: Outcome) -> str:
    run, plan = outcome.run, outcome.plan
    mode = "apply" if run.applied else "dry run"
    lines = [f"reconcile {run.k8s_cluster_id} ({mode}), run {run.pk}: {run.get_status_display()}"]
    if plan is not None:
        snapshot = plan.snapshot
        listed = ", ".join(f"{kind}: {n}" for kind, n in sorted(snapshot.listed.items())) or "nothing"
        lines.append(f"read from {snapshot.source}: {listed} ({snapshot.live_pods} live pods)")
        lines.append(
            f"{plan.bindings_checked} bindings checked; grace {plan.grace_seconds} s "
            f"(nothing bound, created or changed after {plan.cutoff:%Y-%m-%d %H:%M:%S}Z is touched)"
        )
        lines.extend(f"warning: {warning}" for warning in plan.warnings)
        rows = [finding_report(f) for f in outcome.findings]
        if rows:
            lines.append("")
            lines.extend(_table(rows))
    lines.append("")
    lines.append(run.message)
    return "\n".join(lines)


def _table(rows: list[dict]) -> list[str]:
    columns = COLUMNS + WIDE_COLUMNS
    cells = [[header for header, _ in columns]]
    for row in rows:
        shown = {**row, "Since": row["Since"][:19].replace("T", " ")}
        if len(row["IPs"]) > 1:  # a lost pool's addresses
            shown["IP"] = ",".join(row["IPs"])
        cells.append([shown[key] or "-" for _, key in columns])
    # Every column but the last is padded to its widest cell.
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(line, widths, strict=False)), line[-1]]) for line in cells]
