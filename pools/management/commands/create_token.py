from django.core.management.base import BaseCommand, CommandError

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from pools import services
from pools.models import Cluster


class Command(BaseCommand):
    help = "Issue an operator token (--operator) or a token for a registered cluster; printed last."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--operator", action="store_true")
        scope.add_argument("--cluster-id")
        parser.add_argument("--description", default="")

    def handle(self, *args, operator, cluster_id, description, **options):
        cluster = None
        if not operator:
            cluster = Cluster.objects.filter(cluster_id=cluster_id).first()
            if cluster is None:
                raise CommandError(f"cluster {cluster_id!r} is not registered; run create_cluster first")
        ctx = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.TOKEN_CREATE)
        token, key = services.token_create(ctx=ctx, cluster=cluster, description=description)
        self.stdout.write(f"New {token.scope} token (shown once):")
        self.stdout.write(key)
