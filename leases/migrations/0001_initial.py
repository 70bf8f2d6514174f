# Leases: which pod holds an address, moved out of pools.Address with the bindings it holds.

import django.db.models.deletion
from django.db import migrations, models

COPY_BINDINGS = """
INSERT INTO leases_lease (address_id, pool_id, pod_id, k8s_resource_id, bound_at)
SELECT id, pool_id, pod_id, k8s_resource_id, bound_at FROM pools_address WHERE pod_id IS NOT NULL
"""
COPY_BINDINGS_BACK = """
UPDATE pools_address SET
    pod_id = (SELECT l.pod_id FROM leases_lease l WHERE l.address_id = pools_address.id),
    k8s_resource_id = (SELECT l.k8s_resource_id FROM leases_lease l WHERE l.address_id = pools_address.id),
    bound_at = (SELECT l.bound_at FROM leases_lease l WHERE l.address_id = pools_address.id)
WHERE id IN (SELECT address_id FROM leases_lease)
"""


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('pools', '0003_address_binding_guards_move_to_leases'),
    ]

    operations = [
        migrations.CreateModel(
            name='Lease',
            fields=[
                ('address', models.OneToOneField(on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='lease', serialize=False, to='pools.address', verbose_name='IP')),
                ('pod_id', models.CharField(max_length=128, verbose_name='K8SPodID')),
                ('k8s_resource_id', models.CharField(blank=True, max_length=128, verbose_name='K8SApiResourceID')),
                ('bound_at', models.DateTimeField()),
                ('pool', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='leases', to='pools.pool')),
            ],
            options={
                'indexes': [models.Index(fields=['pod_id'], name='lease_pod_idx')],
                'constraints': [models.UniqueConstraint(fields=('pool', 'pod_id'), name='one_address_per_pod_per_pool')],
            },
        ),
        migrations.RunSQL(COPY_BINDINGS, COPY_BINDINGS_BACK),
    ]
