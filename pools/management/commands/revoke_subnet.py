from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError
from pools import services
from pools.management.commands.grant_subnet import registered_subnet


class Command(BaseCommand):
    help = (
        "Withdraw a cluster's grant of a subnet: its pools there keep their addresses and go on binding and "
        "releasing them, but may no longer grow. The subnet stays closed to clusters not granted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster-id", required=True)
        parser.add_argument("--subnet-id", required=True)

    def handle(self, *args, cluster_id, subnet_id, **options):
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.SUBNET_REVOKE)
        try:
            changed = services.subnet_revoke(ctx=ctx, subnet=registered_subnet(subnet_id), cluster_id=cluster_id)
        except ServiceError as exc:
            raise CommandError(exc.msg) from None
        self.stdout.write(changed or f"cluster {cluster_id} has no grant of subnet {subnet_id}; nothing to do")
