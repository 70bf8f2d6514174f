"""The audit log's model moves from pools to this app with its table and rows: the table keeps its
name (db_table), so this is a change of Django's state only, and the content type follows (its
permissions and the console's log entries point at it). Paired with pools 0011."""

from django.db import migrations, models


def content_type_to(app_label: str, from_label: str):
    def move(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
        if not content_types.filter(app_label=app_label, model="auditevent").exists():
            content_types.filter(app_label=from_label, model="auditevent").update(app_label=app_label)

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("pools", "0010_auditevent_restore_actions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField()),
                        ('req_type', models.PositiveSmallIntegerField(blank=True, choices=[(0, 'CreateIPPool'), (1, 'ReleaseIPPool'), (2, 'ScaleIPPool'), (3, 'RequireIP'), (4, 'ReleaseIP')], null=True, verbose_name='ReqType')),
                        ('admin_action', models.CharField(blank=True, choices=[('subnet_create', 'Subnet registration'), ('subnet_update', 'Subnet changed'), ('subnet_delete', 'Subnet deleted'), ('subnet_grant', 'Subnet granted to a cluster'), ('subnet_revoke', 'Subnet grant withdrawn'), ('subnet_access', 'Subnet access changed'), ('cluster_create', 'Cluster registered'), ('token_create', 'Token created'), ('token_revoke', 'Token revoked'), ('pool_resize', 'Pool resized'), ('pool_release', 'Pool released'), ('binding_force_release', 'Binding force-released'), ('binding_restore', 'Lost binding restored'), ('pool_recreate', 'Lost pool re-created'), ('address_hold', 'Address held back'), ('address_return', 'Idle address returned to subnet'), ('expired_pools_purge', 'Released pools past grace purged'), ('audit_prune', 'Old audit events pruned'), ('quarantine', 'Quarantine'), ('clear_quarantine', 'ClearQuarantine')], max_length=32)),
                        ('req_id', models.CharField(blank=True, max_length=128, verbose_name='ReqID')),
                        ('k8s_cluster_id', models.CharField(blank=True, max_length=128, verbose_name='K8SClusterID')),
                        ('namespace', models.CharField(blank=True, max_length=63, verbose_name='K8SNamespace')),
                        ('kind', models.PositiveSmallIntegerField(blank=True, choices=[(0, 'Deployment'), (1, 'StatefulSet'), (2, 'Job'), (3, 'CronJob')], null=True, verbose_name='K8SApiResourceKind')),
                        ('name', models.CharField(blank=True, max_length=253, verbose_name='K8SApiResourceName')),
                        ('pod_id', models.CharField(blank=True, max_length=128, verbose_name='K8SPodID')),
                        ('ip', models.CharField(blank=True, max_length=39, verbose_name='IP')),
                        ('subnet_id', models.CharField(blank=True, max_length=128, verbose_name='SubnetID')),
                        ('code', models.PositiveSmallIntegerField(choices=[(0, 'Success'), (1, 'InvalidRequest'), (2, 'Unauthenticated'), (3, 'Forbidden'), (10, 'SubnetNotFound'), (11, 'SubnetMismatch'), (12, 'SubnetExhausted'), (20, 'PoolNotFound'), (21, 'PoolConflict'), (30, 'NoAddressAvailable'), (31, 'AddressConflict'), (50, 'Unavailable'), (99, 'Internal')])),
                        ('msg', models.TextField(blank=True)),
                        ('actor', models.CharField(help_text='cluster token, operator token or admin user', max_length=200)),
                        ('detail', models.JSONField(blank=True, default=dict)),
                    ],
                    options={
                        'db_table': 'pools_auditevent',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['at', 'id'], name='audit_at_id_idx'), models.Index(fields=['k8s_cluster_id', 'at', 'id'], name='audit_cluster_at_idx'), models.Index(fields=['namespace', 'at', 'id'], name='audit_namespace_at_idx'), models.Index(fields=['name', 'at', 'id'], name='audit_name_at_idx'), models.Index(condition=models.Q(('code__gt', 0)), fields=['code', 'at', 'id'], name='audit_refusal_at_idx'), models.Index(condition=models.Q(('admin_action__gt', '')), fields=['admin_action', 'at', 'id'], name='audit_admin_at_idx'), models.Index(fields=['ip', 'at'], name='audit_ip_at_idx'), models.Index(fields=['pod_id', 'at'], name='audit_pod_at_idx'), models.Index(fields=['req_id'], name='audit_req_id_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to("audit", "pools"), content_type_to("pools", "audit")),
    ]
