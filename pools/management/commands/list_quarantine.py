from django.core.management.base import BaseCommand, CommandError

from core.choices import Kind
from pools import selectors
from pools.models import Subnet


class Command(BaseCommand):
    help = (
        "List quarantined addresses (another host answered for them on the wire): subnet, IP, the MAC that "
        "answered, the pod and workload they were taken from, when. Clear one with clear_quarantine."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subnet-id", help="only this subnet's")

    def handle(self, *args, subnet_id, **options):
        if subnet_id is not None and not Subnet.objects.filter(subnet_id=subnet_id).exists():
            raise CommandError(f"subnet {subnet_id!r} is not registered")
        rows = list(selectors.quarantined_addresses(subnet_id=subnet_id))
        if not rows:
            self.stdout.write("no quarantined addresses")
            return
        self.stdout.write("SubnetID\tIP\tConflictMacAddr\tK8SPodID\tWorkload\tQuarantinedAt")
        for q in rows:
            workload = f"{q.k8s_cluster_id}/{q.namespace}/{Kind(q.kind).label}/{q.name}"
            self.stdout.write(
                "\t".join(
                    [
                        q.subnet.subnet_id,
                        q.ip,
                        q.conflict_mac or "-",
                        q.pod_id or "-",
                        workload,
                        q.quarantined_at.isoformat(timespec="seconds"),
                    ]
                )
            )
