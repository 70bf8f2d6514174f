from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from core.errors import ServiceError
from pools import services


class Command(BaseCommand):
    help = "Register a cluster and print its first token alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--cluster-id", required=True)
        parser.add_argument("--description", default="")

    def handle(self, *args, cluster_id, description, **options):
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.CLUSTER_CREATE)
        try:
            cluster, key = services.cluster_create(ctx=ctx, cluster_id=cluster_id, description=description)
        except ServiceError as exc:
            raise CommandError(exc.msg) from None
        self.stdout.write(f"Registered cluster {cluster.cluster_id}. Its token (shown once):")
        self.stdout.write(key)
