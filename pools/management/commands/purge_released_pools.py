from django.core.management.base import BaseCommand

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from pools import services


class Command(BaseCommand):
    help = "Return to their subnets the idle addresses of released pools whose grace has run out."

    def handle(self, *args, **options):
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.EXPIRED_POOLS_PURGE)
        purged = services.released_pools_purge(ctx=ctx)
        self.stdout.write(f"{purged} addresses returned")
