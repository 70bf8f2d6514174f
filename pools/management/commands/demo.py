from django.core.management.base import BaseCommand

from pools import services
from pools.choices import AdminAction
from pools.domain import COMMAND_LINE, CallContext
from pools.models import Cluster

DEMO_CLUSTER = "demo-cluster"


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
        workload = (
            f'"K8SClusterID":"{DEMO_CLUSTER}","K8SNamespace":"default",'
            '"K8SApiResourceKind":0,"K8SApiResourceName":"web"'
        )
        post = f"curl -s -H 'Authorization: Bearer {cluster_key}' -H 'Content-Type: application/json'"
        self.stdout.write(
            f"""
Demo data ready: cluster {DEMO_CLUSTER}, subnets subnet-demo (10.0.3.0/24) and subnet-demo-v6 (fd00:3::/64)
in NetRegionalID region-1.

Cluster token:  {cluster_key}
Operator token: {operator_key}

Try it (the service listens on {base_url}):
{post} -d '{{"ReqID":"r1",{workload},"K8SApiResourceReplicas":3,"NetRegionalID":"region-1","SubnetID":"subnet-demo","SubnetGatewayAddr":"10.0.3.1"}}' {base_url}/v1/ippool/create
{post} -d '{{"ReqID":"r2",{workload},"K8SApiResourceID":"deploy-uid-1","K8SPodID":"pod-uid-1"}}' {base_url}/v1/ip/require
{post} -d '{{"ReqID":"r3",{workload},"K8SApiResourceID":"deploy-uid-1","K8SPodID":"pod-uid-1","IP":""}}' {base_url}/v1/ip/release
{post} -d '{{"ReqID":"r4",{workload},"K8SApiResourceOldReplicas":3,"K8SApiResourceNewReplicas":5}}' {base_url}/v1/ippool/scale
{post} -d '{{"ReqID":"r5",{workload}}}' {base_url}/v1/ippool/release
API docs: {base_url}/api/docs/   Admin: {base_url}/admin/ (python manage.py createsuperuser first)
"""
        )
