# After leases 0001 copied the bindings into leases.Lease, the columns go.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('pools', '0003_address_binding_guards_move_to_leases'),
        ('leases', '0001_initial'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='address',
            name='bound_at',
        ),
        migrations.RemoveField(
            model_name='address',
            name='k8s_resource_id',
        ),
        migrations.RemoveField(
            model_name='address',
            name='pod_id',
        ),
    ]
