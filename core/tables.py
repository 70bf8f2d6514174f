"""The one way hand-written SQL names tables: from the models, quoted for the connection's database.
Formatted into statements as identifiers, never as values."""

from __future__ import annotations

from django.db import connection


def quote_tables(**models) -> dict[str, str]:
    """{key: the model's table, quoted}: `quote_tables(pool=Pool)["pool"]` is `"pools_pool"`."""
    quote = connection.ops.quote_name
    return {key: quote(model._meta.db_table) for key, model in models.items()}
