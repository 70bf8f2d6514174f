"""Settings for IPResMgr. Everything comes from the environment, with safe defaults."""

import ipaddress
import os
import secrets
import socket
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from ipresmgr_site import __version__
from ipresmgr_site.database_url import postgres_database

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# Only the console's sessions depend on it (API tokens are hashed without it). Serving without it is
# refused (ipresmgr_site/startup.py, called by wsgi.py and the image's gunicorn.conf.py); commands
# and tests, which never serve, get a random key of their own, DEBUG a fixed one.
SECRET_KEY = os.environ.get("IPRESMGR_SECRET_KEY", "").strip()
SECRET_KEY_FROM_ENVIRONMENT = bool(SECRET_KEY)
if not SECRET_KEY:
    SECRET_KEY = "insecure-debug-key-do-not-serve" if DEBUG else "not-for-serving-" + secrets.token_urlsafe(48)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Behind TLS (the manifests turn these on; see docs/deploy.md). Machine callers (/v1) and probes
# speak plain HTTP inside the cluster: never redirected.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("IPRESMGR_SECURE_COOKIES")
SECURE_SSL_REDIRECT = env_bool("IPRESMGR_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^v1/", r"^healthz$", r"^readyz$", r"^metrics(/instance|/database)?$"]
SECURE_HSTS_SECONDS = env_int("IPRESMGR_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("IPRESMGR_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("IPRESMGR_HSTS_PRELOAD")
# "X-Forwarded-Proto: https": a request carrying that header came over HTTPS to the proxy. Only
# behind a proxy that always sets (or strips) it.
_proxy_ssl_header = os.environ.get("IPRESMGR_SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header:
    _name, _, _value = _proxy_ssl_header.partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _name.strip().upper().replace("-", "_"), _value.strip())

# Operations: /metrics behind a bearer token when set; the name of this instance in log lines.
IPRESMGR_METRICS_TOKEN = os.environ.get("IPRESMGR_METRICS_TOKEN", "").strip()
IPRESMGR_INSTANCE = os.environ.get("IPRESMGR_INSTANCE", "").strip() or socket.gethostname()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ipresmgr_site.apps.SiteConfig",
    "pools",
    "leases",
    "audit",
    "contract",
    "admission",
]

MIDDLEWARE = [
    "ipresmgr_site.health.OpsEndpointsMiddleware",  # /healthz, /readyz, /metrics: before anything
    "ipresmgr_site.calls.CallObserverMiddleware",  # one log line and the metrics of each /v1 call
    # a call past IPRESMGR_DB_CALL_TIMEOUT_MS: cancelled, Code 50
    "contract.framework.middleware.CallDeadlineMiddleware",
    "contract.framework.middleware.V1JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The console's (static files, sessions, login, messages): not run on /v1 (bearer tokens).
    "contract.framework.middleware.WhiteNoiseNotOnV1",
    "contract.framework.middleware.SessionNotOnV1",
    "django.middleware.common.CommonMiddleware",
    # Django's own, by name, so `check --deploy` sees CSRF protection; on /v1 it costs next to
    # nothing (no cookies, and DRF's views are CSRF-exempt).
    "django.middleware.csrf.CsrfViewMiddleware",
    "contract.framework.middleware.AuthenticationNotOnV1",
    "contract.framework.middleware.MessageNotOnV1",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ipresmgr_site.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "ipresmgr_site.wsgi.application"

# Databases: SQLite by default, PostgreSQL when DATABASE_URL says so.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DB_STATEMENT_TIMEOUT_MS = env_int("IPRESMGR_DB_STATEMENT_TIMEOUT_MS", 5000)
DB_LOCK_TIMEOUT_MS = env_int("IPRESMGR_DB_LOCK_TIMEOUT_MS", 3000)
DB_CONNECT_TIMEOUT_S = env_int("IPRESMGR_DB_CONNECT_TIMEOUT_S", 3)
# PostgreSQL: no request holds a worker thread on the database longer than this, a COMMIT waiting
# for a synchronous standby included (core/call_deadline.py); a /v1 call past it answers
# Code 50, outcome unknown. 0: no bound beyond the statement timeout.
IPRESMGR_DB_CALL_TIMEOUT_MS = env_int("IPRESMGR_DB_CALL_TIMEOUT_MS", 8000)

if DATABASE_URL:
    # libpq's URL grammar, multi-host forms included (ipresmgr_site/database_url.py). No health
    # check (a `SELECT 1`) before each request: a connection found dead by a statement is replaced
    # and the call retried (core.transactions.retrying).
    _db = postgres_database(DATABASE_URL)
    _db.update(CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=False)
    _db["OPTIONS"].setdefault("connect_timeout", DB_CONNECT_TIMEOUT_S)
    # Parameters travel apart from the SQL, and a statement run a few times is prepared once per
    # connection: the hot paths' statements are parsed and planned once, not on every call.
    _db["OPTIONS"].setdefault("server_side_binding", env_bool("IPRESMGR_DB_SERVER_SIDE_BINDING", True))
    # Django turns psycopg's prepared statements off unless asked (for transaction-mode poolers);
    # 0 keeps them off (PgBouncer in transaction mode before 1.21).
    _prepare_after = env_int("IPRESMGR_DB_PREPARE_THRESHOLD", 5)
    _db["OPTIONS"].setdefault("prepare_threshold", _prepare_after or None)
    # Bounded waits: no request hangs on a lock queue or a dead server. `options` of the URL come
    # after ours, so they win.
    _db["OPTIONS"]["options"] = (
        f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS} -c lock_timeout={DB_LOCK_TIMEOUT_MS}"
        " -c idle_in_transaction_session_timeout=30000 " + _db["OPTIONS"].get("options", "")
    ).strip()
    _db.setdefault("TEST", {})
    if os.environ.get("IPRESMGR_TEST_DB_NAME"):
        _db["TEST"]["NAME"] = os.environ["IPRESMGR_TEST_DB_NAME"]
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("IPRESMGR_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            # Writers queue on one lock taken at BEGIN, so no "database is locked" mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"),
        },
    }
DATABASES = {"default": _db}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve from the apps' folders when collectstatic has not run (dev, tests, demo).
WHITENOISE_USE_FINDERS = True

# Contract bodies are small; anything bigger is refused with Code 1 / HTTP 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["pools.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "IPResMgr API",
    "DESCRIPTION": (
        "IP address management for Kubernetes pods on underlay networks.\n\n"
        "The five contract calls, field by field: [docs/contract.md](/docs/contract.md). What the service "
        "does with them (codes, surge, reuse order, release grace, guarantees, who may use which subnet): "
        "[docs/behaviour.md](/docs/behaviour.md). Everything else: [the start page](/)."
    ),
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator badge: the docs pages load nothing from outside the server.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Domain settings.
IPRESMGR_SURGE_PERCENT = env_int("IPRESMGR_SURGE_PERCENT", 25)
IPRESMGR_RELEASE_GRACE_SECONDS = env_int("IPRESMGR_RELEASE_GRACE_SECONDS", 0)
# PostgreSQL binds and releases in one statement when it can (leases.services); off: the general path only.
IPRESMGR_ONE_STATEMENT_PATHS = True
# manage.py prune_audit's default: audit events older than this many days are deleted (0: never).
IPRESMGR_AUDIT_RETENTION_DAYS = env_int("IPRESMGR_AUDIT_RETENTION_DAYS", 90)
IPRESMGR_ALLOW_ANONYMOUS = env_bool("IPRESMGR_ALLOW_ANONYMOUS")
# How long a process trusts a token it has seen (pools.auth): a revocation reaches the other
# processes within this many seconds. 0 looks every token up on every call.
IPRESMGR_TOKEN_CACHE_SECONDS = env_int("IPRESMGR_TOKEN_CACHE_SECONDS", 10)
# Collectors of further gauges on /metrics, by dotted path (the site names apps, never imports them).
IPRESMGR_METRICS_COLLECTORS = ["leases.reconcile.metrics.ReconcileCollector"]
# Which active pools get their own series on /metrics/database: `full` (no idle address left), `all`
# (series grow with the workloads), `none`; at most IPRESMGR_METRICS_POOL_SERIES_MAX pools.
IPRESMGR_METRICS_POOLS = os.environ.get("IPRESMGR_METRICS_POOLS", "full").strip().lower()
if IPRESMGR_METRICS_POOLS not in ("full", "all", "none"):
    raise ImproperlyConfigured(f"IPRESMGR_METRICS_POOLS={IPRESMGR_METRICS_POOLS!r}: full, all or none")
IPRESMGR_METRICS_POOL_SERIES_MAX = env_int("IPRESMGR_METRICS_POOL_SERIES_MAX", 1000)
# One call may reserve at most this many addresses (a bound on one transaction's size).
IPRESMGR_MAX_RESERVE_PER_CALL = env_int("IPRESMGR_MAX_RESERVE_PER_CALL", 100_000)
# Whether a newly registered subnet serves every cluster until one is granted (false: none).
IPRESMGR_SUBNETS_OPEN_BY_DEFAULT = env_bool("IPRESMGR_SUBNETS_OPEN_BY_DEFAULT", True)

# Bounded reads (core/bounded_reads.py): what a read list (the API's, the console's audit list) may cost,
# whatever the size of its table. Counts are exact up to this many rows, then "more than".
IPRESMGR_READ_COUNT_BOUND = env_int("IPRESMGR_READ_COUNT_BOUND", 1000)
# /v1/events takes Offset up to this; deeper pages go by the Cursor of Next (keyset).
IPRESMGR_READ_OFFSET_MAX = env_int("IPRESMGR_READ_OFFSET_MAX", 10_000)
# PostgreSQL: a read's statements are cut off after this long and the caller is asked to narrow the
# query (Code 1), well before the writers' IPRESMGR_DB_STATEMENT_TIMEOUT_MS.
IPRESMGR_READ_STATEMENT_TIMEOUT_MS = env_int("IPRESMGR_READ_STATEMENT_TIMEOUT_MS", 1000)
# PostgreSQL: reads running at once over all instances on the database (advisory locks); more wait
# for a slot. One leaves the other cores to the writers on a small database server. 0: no limit.
IPRESMGR_READ_CONCURRENCY = env_int("IPRESMGR_READ_CONCURRENCY", 1)

# The admission webhook (POST /k8s/admission). It authenticates the apiserver by a cluster token;
# or, when this names a header, by the subject DN of the client certificate that the TLS front (the
# sidecar of docker/kubernetes/webhook/, or an ingress) verified and passed in that header: its CN
# is the cluster ID. Empty (the default): no such header is believed, from anyone.
IPRESMGR_ADMISSION_CLIENT_DN_HEADER = os.environ.get("IPRESMGR_ADMISSION_CLIENT_DN_HEADER", "").strip()
# The peers (CIDRs) whose client DN header is believed: the TLS front. Default: the pod itself.
IPRESMGR_ADMISSION_TRUSTED_PROXIES = [
    ipaddress.ip_network(cidr.strip())
    for cidr in os.environ.get("IPRESMGR_ADMISSION_TRUSTED_PROXIES", "127.0.0.1/32,::1/128").split(",")
    if cidr.strip()
]

# JSON lines on stderr: one per /v1 call (ipresmgr.calls, at IPRESMGR_CALL_LOG_LEVEL: INFO logs
# every call, WARNING only Code 50 and 99), every other record at LOG_LEVEL (ipresmgr_site/logs.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ipresmgr_site.logs.JsonFormatter"}},
    "filters": {"fold_into_call_line": {"()": "ipresmgr_site.logs.FoldIntoCallLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["fold_into_call_line"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"ipresmgr.calls": {"level": os.environ.get("IPRESMGR_CALL_LOG_LEVEL", "INFO")}},
}

# API docs (issue 4): the docs pages and the schema need no token (a browser cannot send one, and
# they hold no data); the enums are named as on the wire and each value is described.
SPECTACULAR_SETTINGS.update(
    {
        "SERVE_AUTHENTICATION": [],
        "ENUM_NAME_OVERRIDES": {
            "Code": "core.choices.Code",
            "K8SApiResourceKind": "core.choices.Kind",
            "ReqType": "core.choices.ReqType",
            "PoolState": "core.choices.PoolState",
            "AdminAction": "core.choices.AdminAction",
            "AdmissionReviewApiVersion": ["admission.k8s.io/v1"],
            "AdmissionReviewKind": ["AdmissionReview"],
            "StatusApiVersion": ["v1"],
            "StatusKind": ["Status"],
        },
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "contract.openapi.enum_postprocessing_hook",
        ],
        "TAGS": [
            {"name": "webhook", "description": "The admission webhook's pool calls (the original contract)."},
            {"name": "ipam", "description": "The CNI IPAM plugin's address calls (the original contract)."},
            {"name": "read", "description": "Read APIs: subnets, pools, addresses, the audit log."},
            {"name": "subnets", "description": "Subnet registration (operator token)."},
            {"name": "kubernetes", "description": "The built-in admission webhook, called by the kube-apiserver."},
        ],
    }
)
