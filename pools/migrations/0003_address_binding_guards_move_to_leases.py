# The binding of an address to a pod moves to leases.Lease: its guards go first (leases 0001 puts
# them on the new table), and the idle queue is keyed on idle_since alone.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pools', '0002_address_ordering_without_join'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='address',
            name='one_address_per_pod_per_pool',
        ),
        migrations.RemoveConstraint(
            model_name='address',
            name='address_bound_xor_idle',
        ),
        migrations.RemoveIndex(
            model_name='address',
            name='address_idle_queue',
        ),
        migrations.RemoveIndex(
            model_name='address',
            name='address_pod_idx',
        ),
        migrations.AddIndex(
            model_name='address',
            index=models.Index(condition=models.Q(('idle_since__isnull', False)), fields=['pool', 'idle_since', 'id'], name='address_idle_queue'),
        ),
    ]
