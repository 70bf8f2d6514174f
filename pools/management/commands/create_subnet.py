from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError
from pools import services


class Command(BaseCommand):
    help = "Register a subnet (IPv4 or IPv6) under a network region."

    def add_arguments(self, parser):
        parser.add_argument("--net-regional-id", required=True)
        parser.add_argument("--subnet-id", required=True)
        parser.add_argument("--cidr", required=True)
        parser.add_argument("--gateway", required=True)
        parser.add_argument(
            "--exclude", action="append", default=[], metavar="A|A-B", help="an address or range never handed out"
        )

    def handle(self, *args, net_regional_id, subnet_id, cidr, gateway, exclude, **options):
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.SUBNET_CREATE)
        try:
            subnet, created = services.subnet_create(
                ctx=ctx,
                net_regional_id=net_regional_id,
                subnet_id=subnet_id,
                cidr=cidr,
                gateway=gateway,
                exclusions=exclude,
            )
        except ServiceError as exc:
            raise CommandError(exc.msg) from None
        verb = "Registered" if created else "Already registered:"
        self.stdout.write(f"{verb} subnet {subnet.subnet_id} {subnet.cidr} gateway {subnet.gateway}")
