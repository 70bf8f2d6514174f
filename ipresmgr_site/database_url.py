"""DATABASE_URL as Django's DATABASES entry, parsed by psycopg's own conninfo parser, which knows
libpq's whole grammar: both multi-host forms (`postgres://u@h1:5432,h2:5432/db` and
`postgres://u@/db?host=h1,h2&port=5432,5432`), percent-encoding, IPv6 in brackets, every libpq
parameter in the query string, and `key=value` connection strings. libpq itself then tries the
hosts in turn, so the failover logic is libpq's, not ours."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

URL_SCHEMES = ("postgres://", "postgresql://")
# Django's own settings keys; every other parameter goes to psycopg as it is.
DJANGO_KEYS = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST", "port": "PORT"}


class DatabaseUrlError(ValueError):
    pass


def is_postgres(url: str) -> bool:
    return url.startswith(URL_SCHEMES) or ("://" not in url and "=" in url)


def host_count(params: dict) -> int:
    return max(len(str(params.get("host", "")).split(",")), len(str(params.get("hostaddr", "")).split(",")))


def postgres_database(url: str) -> dict:
    """The DATABASES entry for a PostgreSQL URL. With more than one host and no
    target_session_attrs, `read-write` is implied: never a standby by accident."""
    if not is_postgres(url):
        raise DatabaseUrlError(f"DATABASE_URL must start with {' or '.join(URL_SCHEMES)} (or be unset: SQLite)")
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:  # names what does not parse
        raise DatabaseUrlError(f"DATABASE_URL does not parse: {exc}") from None
    if host_count(params) > 1:
        params.setdefault("target_session_attrs", "read-write")
    entry: dict = {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}}
    for key, value in params.items():
        if key in DJANGO_KEYS:
            entry[DJANGO_KEYS[key]] = value
        else:
            entry["OPTIONS"][key] = value
    entry.setdefault("NAME", entry.get("USER") or "postgres")  # libpq's default: the user's name
    for key in ("USER", "PASSWORD", "HOST", "PORT"):
        entry.setdefault(key, "")
    return entry
