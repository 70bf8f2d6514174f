from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError
from pools import services
from pools.models import Subnet


def registered_subnet(subnet_id: str) -> Subnet:
    subnet = Subnet.objects.filter(subnet_id=subnet_id).first()
    if subnet is None:
        raise CommandError(f"subnet {subnet_id!r} is not registered; run create_subnet first")
    return subnet


class Command(BaseCommand):
    help = (
        "Let a cluster grow pools in a subnet, with an optional quota of reserved addresses. Once a subnet "
        "grants any cluster, only granted clusters may grow pools in it. Run again to change the quota "
        "(without --quota: no quota)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster-id", required=True)
        parser.add_argument("--subnet-id", required=True)
        parser.add_argument("--quota", type=int, default=None, help="addresses the cluster may reserve in the subnet")

    def handle(self, *args, cluster_id, subnet_id, quota, **options):
        if quota is not None and quota < 0:
            raise CommandError("--quota must not be negative")
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.SUBNET_GRANT)
        try:
            changed = services.subnet_grant(
                ctx=ctx, subnet=registered_subnet(subnet_id), cluster_id=cluster_id, quota=quota
            )
        except ServiceError as exc:
            raise CommandError(exc.msg) from None
        self.stdout.write(
            changed or f"cluster {cluster_id} already has this grant of subnet {subnet_id}; nothing to do"
        )
