from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError
from pools import services


class Command(BaseCommand):
    help = (
        "Clear the quarantine of an address once nothing else answers for it on the wire: it is free in its "
        "subnet again. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subnet-id", required=True)
        parser.add_argument("--ip", required=True)
        parser.add_argument("--reason", default="", help="recorded in the audit log")

    def handle(self, *args, subnet_id, ip, reason, **options):
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.CLEAR_QUARANTINE)
        try:
            cleared = services.quarantine_clear(ctx=ctx, subnet_id=subnet_id, ip=ip, reason=reason)
        except ServiceError as exc:
            raise CommandError(exc.msg) from None
        self.stdout.write(f"quarantine of {cleared.ip} in {subnet_id} cleared; the address is free again")
