"""What must hold before the service serves a single request.

Management commands and tests never serve, so they run without IPRESMGR_SECRET_KEY (settings give
them a random key of their own). Serving is refused: the WSGI module (gunicorn, any WSGI server,
runserver) and the image's gunicorn.conf.py call `refuse_to_serve_if_insecure()` first."""

from __future__ import annotations

import os
import sys

# gunicorn halts (no endless respawn of a worker that cannot start) when a worker exits with its
# APP_LOAD_ERROR status, 4; anything else exiting with 4 is just "failed".
EXIT_REFUSED = 4


def insecure_start_reason(environ: os._Environ | dict | None = None) -> str | None:
    """Why serving must be refused, in one line; None when it may go ahead."""
    environ = os.environ if environ is None else environ
    debug = environ.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    if not debug and not environ.get("IPRESMGR_SECRET_KEY", "").strip():
        return (
            "IPResMgr refuses to start: DEBUG is off and IPRESMGR_SECRET_KEY is not set "
            "(set it to a long random string, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    return None


def refuse_to_serve_if_insecure() -> None:
    """Print the reason on one line and exit, before any request is served."""
    reason = insecure_start_reason()
    if reason:
        print(reason, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_REFUSED)
