"""Indexes for bounded reads of the audit log (issue 12): one per filter the read API and the
console offer, each ending with the sort keys (at, id); (at, id) replaces the index on `at` alone.

The audit table may hold tens of millions of rows when this runs. On PostgreSQL each index is built
with CREATE INDEX CONCURRENTLY (and the old one dropped with DROP INDEX CONCURRENTLY), which lets
calls go on writing audit events meanwhile; that cannot run inside a transaction, hence
`atomic = False`, and may take minutes, hence no statement timeout for it. Django's
AddIndexConcurrently is PostgreSQL-only, so these operations fall back to plain CREATE / DROP INDEX
elsewhere: SQLite (one process) has no concurrent build, and its AlterField would copy the whole
table to drop an index, where DROP INDEX is enough."""

from contextlib import contextmanager

from django.db import migrations, models


@contextmanager
def without_statement_timeout(schema_editor):
    """A concurrent build of a big index outlasts the service's statement timeout, which the
    migration's connection has too."""
    if schema_editor.connection.vendor != "postgresql":
        yield
        return
    schema_editor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        schema_editor.execute("RESET statement_timeout")


def drop_invalid_index(schema_editor, name: str) -> None:
    """A concurrent build that failed (a timeout, a cancel) leaves an invalid index of that name;
    drop it, so that running the migration again builds it anew."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid "
            "WHERE pg_class.relname = %s AND NOT pg_index.indisvalid",
            [name],
        )
        if cursor.fetchone():
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")


class AddIndexConcurrentlyWherePossible(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor != "postgresql":
            schema_editor.add_index(model, self.index)
            return
        with without_statement_timeout(schema_editor):
            drop_invalid_index(schema_editor, self.index.name)
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        concurrently = schema_editor.connection.vendor == "postgresql"
        schema_editor.remove_index(model, self.index, **({"concurrently": True} if concurrently else {}))


class DropFieldIndex(migrations.AlterField):
    """The field loses `db_index`: drop that index (found by its one column), nothing else."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        table, column = model._meta.db_table, model._meta.get_field(self.name).column
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        concurrently = " CONCURRENTLY" if connection.vendor == "postgresql" else ""
        for name, constraint in constraints.items():
            if (
                constraint["index"]
                and not constraint["unique"]
                and not constraint["primary_key"]
                and constraint["columns"] == [column]
            ):
                schema_editor.execute(f"DROP INDEX{concurrently} {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("pools", "0007_auditevent_audit_prune_action"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(fields=["at", "id"], name="audit_at_id_idx"),
        ),
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(fields=["k8s_cluster_id", "at", "id"], name="audit_cluster_at_idx"),
        ),
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(fields=["namespace", "at", "id"], name="audit_namespace_at_idx"),
        ),
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(fields=["name", "at", "id"], name="audit_name_at_idx"),
        ),
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(condition=models.Q(code__gt=0), fields=["code", "at", "id"], name="audit_refusal_at_idx"),
        ),
        AddIndexConcurrentlyWherePossible(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(admin_action__gt=""), fields=["admin_action", "at", "id"], name="audit_admin_at_idx"
            ),
        ),
        # Last, once (at, id) serves what it served.
        DropFieldIndex(model_name="auditevent", name="at", field=models.DateTimeField()),
    ]
