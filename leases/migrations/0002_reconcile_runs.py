# Stored reports of `manage.py reconcile` (issue 14): one row per run and cluster.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leases', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReconcileRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('k8s_cluster_id', models.CharField(max_length=128, verbose_name='K8SClusterID')),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('applied', models.BooleanField(default=False, verbose_name='--apply')),
                ('status', models.CharField(choices=[('running', 'running'), ('clean', 'nothing to change'), ('leaks_found', 'leaks found (dry run)'), ('applied', 'changes applied'), ('error', 'error')], default='running', max_length=16)),
                ('exit_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('message', models.TextField(blank=True)),
                ('leaked_bindings', models.PositiveIntegerField(default=0, verbose_name='leaked bindings found')),
                ('bindings_freed', models.PositiveIntegerField(default=0)),
                ('orphaned_pools', models.PositiveIntegerField(default=0, verbose_name='orphaned pools found')),
                ('pools_released', models.PositiveIntegerField(default=0)),
                ('drifted_pools', models.PositiveIntegerField(default=0, verbose_name='pools whose target drifted')),
                ('targets_fixed', models.PositiveIntegerField(default=0)),
                ('report', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['-started_at', '-id'],
                'indexes': [models.Index(fields=['k8s_cluster_id', '-started_at'], name='reconcile_cluster_started_idx')],
            },
        ),
    ]
