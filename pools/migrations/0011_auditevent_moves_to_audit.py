"""The audit log's model leaves pools for the audit app (audit 0001): Django's state only, the table
stays where it is."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("pools", "0010_auditevent_restore_actions"),
        ("audit", "0001_auditevent_moves_from_pools"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
    ]
