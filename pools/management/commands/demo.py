from django.core.management.base import BaseCommand

from core.choices import AdminAction
from core.domain import COMMAND_LINE, CallContext
from pools import services
from pools.models import Cluster

DEMO_CLUSTER = "demo-cluster"

# docs/calling.md word for word; README's call is its start (tests/docs/test_readme.py checks both, and replays the calls).
CALLING_IT = r"""W='"K8SClusterID":"demo-cluster","K8SNamespace":"default","K8SApiResourceKind":0,"K8SApiResourceName":"web"'
call() { curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:8000$1"; echo; }

call /v1/ippool/create "{\"ReqID\":\"r1\",$W,\"K8SApiResourceReplicas\":3,\"NetRegionalID\":\"region-1\",\"SubnetID\":\"subnet-demo\",\"SubnetGatewayAddr\":\"10.0.3.1\"}"
call /v1/ip/require    "{\"ReqID\":\"r2\",$W,\"K8SApiResourceID\":\"deploy-uid-1\",\"K8SPodID\":\"pod-uid-1\"}"
call /v1/ip/release    "{\"ReqID\":\"r3\",$W,\"K8SApiResourceID\":\"deploy-uid-1\",\"K8SPodID\":\"pod-uid-1\",\"IP\":\"\"}"
call /v1/ippool/scale  "{\"ReqID\":\"r4\",$W,\"K8SApiResourceOldReplicas\":3,\"K8SApiResourceNewReplicas\":5}"
"""
RELEASE_POOL = r"""call /v1/ippool/release "{\"ReqID\":\"r5\",$W}"
"""


class Command(BaseCommand):
    help = "Set up demo data (a cluster, two subnets, tokens) and print how to call the service."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        def ctx(action):
            return CallContext(actor=COMMAND_LINE, admin_action=action)

        cluster = Cluster.objects.filter(cluster_id=DEMO_CLUSTER).first()
        if cluster is None:
            cluster, cluster_key = services.cluster_create(ctx=ctx(AdminAction.CLUSTER_CREATE), cluster_id=DEMO_CLUSTER)
        else:
            _, cluster_key = services.token_create(ctx=ctx(AdminAction.TOKEN_CREATE), cluster=cluster)
        _, operator_key = services.token_create(ctx=ctx(AdminAction.TOKEN_CREATE), cluster=None, description="demo")
        services.subnet_create(
            ctx=ctx(AdminAction.SUBNET_CREATE),
            net_regional_id="region-1",
            subnet_id="subnet-demo",
            cidr="10.0.3.0/24",
            gateway="10.0.3.1",
            exclusions=["10.0.3.2-10.0.3.9"],
        )
        services.subnet_create(
            ctx=ctx(AdminAction.SUBNET_CREATE),
            net_regional_id="region-1",
            subnet_id="subnet-demo-v6",
            cidr="fd00:3::/64",
            gateway="fd00:3::1",
        )
        base = base_url.rstrip("/")
        self.stdout.write(
            f"""
Demo data ready: cluster {DEMO_CLUSTER}, subnets subnet-demo (10.0.3.0/24) and subnet-demo-v6 (fd00:3::/64)
in NetRegionalID region-1, both open to every cluster (no grants yet).

Cluster token:  {cluster_key}
Operator token: {operator_key}

Try it in another shell (docs/calling.md, in order):
TOKEN={cluster_key}
{CALLING_IT.replace("http://127.0.0.1:8000", base).rstrip()}
Then the same calls in Swagger UI: {base}/api/docs/ (Authorize with the token; the examples are these).
When the workload goes away, the webhook releases its pool:
{RELEASE_POOL.rstrip()}

Start page: {base}/   Console: {base}/admin/ (python manage.py createsuperuser first)
"""
        )
