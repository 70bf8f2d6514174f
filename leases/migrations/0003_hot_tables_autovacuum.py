"""PostgreSQL: vacuum and analyze the tables every bind and release rewrites after a fixed number of
changed rows, not a fifth of the table (the default). Binding takes the idle address at the front of
the idle queue's index; the entries of addresses bound moments ago sit there until VACUUM removes
them, and every bind steps over them (docs/benchmarks.md, churn). Nothing to do on SQLite."""

from django.db import migrations

HOT_TABLES = [("pools", "Address"), ("leases", "Lease")]
SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "2000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_analyze_threshold": "1000",
}


def _alter(apps, schema_editor, *, reset: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for app_label, model_name in HOT_TABLES:
        table = schema_editor.quote_name(apps.get_model(app_label, model_name)._meta.db_table)
        if reset:
            schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
        else:
            values = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
            schema_editor.execute(f"ALTER TABLE {table} SET ({values})")


def tune(apps, schema_editor):
    _alter(apps, schema_editor, reset=False)


def untune(apps, schema_editor):
    _alter(apps, schema_editor, reset=True)


class Migration(migrations.Migration):
    dependencies = [
        ("leases", "0002_reconcile_runs"),
        ("pools", "0006_subnet_grants_and_access"),
    ]

    operations = [migrations.RunPython(tune, untune)]
