"""DATABASE_URL: libpq's URL grammar, both multi-host forms, read-write implied with several hosts,
and every option of the settings still applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db.utils import ConnectionHandler

from ipresmgr_site.database_url import DatabaseUrlError, postgres_database
from tests.support.servers import REPO


def test_single_host_url_names_host_port_user_and_database():
    entry = postgres_database("postgres://alice:s%40cret@db.example:6432/ipam")
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["HOST"], entry["PORT"], entry["USER"], entry["PASSWORD"], entry["NAME"]) == (
        "db.example",
        "6432",
        "alice",
        "s@cret",
        "ipam",
    )
    assert "target_session_attrs" not in entry["OPTIONS"]


def test_hosts_in_the_authority_imply_read_write():
    entry = postgres_database("postgres://u@h1:5432,h2:5433/db")
    assert (entry["HOST"], entry["PORT"]) == ("h1,h2", "5432,5433")
    assert entry["OPTIONS"]["target_session_attrs"] == "read-write"


def test_hosts_in_the_query_string_imply_read_write():
    entry = postgres_database("postgresql://u@/db?host=h1,h2&port=5432,5432")
    assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("h1,h2", "5432,5432", "db")
    assert entry["OPTIONS"]["target_session_attrs"] == "read-write"


def test_a_given_target_session_attrs_is_kept():
    entry = postgres_database("postgres://u@h1,h2/db?target_session_attrs=primary&sslmode=require")
    assert entry["OPTIONS"] == {"target_session_attrs": "primary", "sslmode": "require"}


def test_ipv6_host_and_encoded_names():
    entry = postgres_database("postgres://u@[2001:db8::5]:5432/my%20db")
    assert (entry["HOST"], entry["NAME"]) == ("2001:db8::5", "my db")


def test_other_schemes_and_garbage_are_refused():
    with pytest.raises(DatabaseUrlError, match="must start with"):
        postgres_database("mysql://u@h/db")
    with pytest.raises(DatabaseUrlError, match="does not parse"):
        postgres_database("postgres://u@h/db?no_such_libpq_option=1")


def settings_of(url: str, **env: str) -> dict:
    """The DATABASES entry the settings module builds from `url` (in a fresh interpreter)."""
    script = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ipresmgr_site.settings", "DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_keep_every_option_with_a_multi_host_url():
    entry = settings_of(
        "postgres://u@h1:5432,h2:5432/db?options=-c%20work_mem%3D8MB",
        IPRESMGR_DB_STATEMENT_TIMEOUT_MS="4000",
        IPRESMGR_DB_PREPARE_THRESHOLD="7",
        IPRESMGR_TEST_DB_NAME="test_custom",
    )
    options = entry["OPTIONS"]
    assert options["target_session_attrs"] == "read-write"
    assert options["options"].startswith("-c statement_timeout=4000 -c lock_timeout=3000")
    assert options["options"].endswith("-c work_mem=8MB")  # the URL's own, after ours
    assert options["prepare_threshold"] == 7
    assert options["connect_timeout"] == 3
    assert entry["CONN_MAX_AGE"] == 600
    assert entry["TEST"]["NAME"] == "test_custom"


@pytest.mark.postgres_only
def test_multi_host_url_skips_a_dead_host_and_reaches_the_primary(django_db_blocker):
    """Both forms through Django's own backend: the first host refuses, libpq tries the next."""
    real = postgres_database(os.environ["DATABASE_URL"])
    host, port = real["HOST"] or "127.0.0.1", real["PORT"] or "5432"
    dead = "127.0.0.1:1"  # nothing listens on port 1
    for url in (
        f"postgres://{real['USER']}@{dead},{host}:{port}/postgres",
        f"postgres://{real['USER']}@/postgres?host=127.0.0.1,{host}&port=1,{port}",
    ):
        entry = postgres_database(url)
        entry["OPTIONS"]["connect_timeout"] = 3
        handler = ConnectionHandler({"default": entry})
        wrapper = handler["default"]
        try:
            with django_db_blocker.unblock(), wrapper.cursor() as cursor:
                cursor.execute("SELECT current_setting('transaction_read_only'), inet_server_port()")
                read_only, server_port = cursor.fetchone()
        finally:
            wrapper.close()
        assert read_only == "off"
        assert server_port == int(port)
