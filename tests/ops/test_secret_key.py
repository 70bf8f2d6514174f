"""Serving with DEBUG off and no IPRESMGR_SECRET_KEY is refused with one line; commands and tests,
which never serve, run without it; `check --deploy` says it is missing."""

from __future__ import annotations

import subprocess
import sys

from ipresmgr_site.startup import EXIT_REFUSED
from tests.support.live import GUNICORN_CONF, LIVE_PORTS
from tests.support.servers import REPO, app_env, free_port, release_port

REFUSAL = "IPResMgr refuses to start: DEBUG is off and IPRESMGR_SECRET_KEY is not set"


def without_key(**extra: str) -> dict:
    return app_env(**{"IPRESMGR_SECRET_KEY": None, "DEBUG": None, "DATABASE_URL": None, **extra})


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_wsgi_application_refuses_to_load_with_one_line():
    result = run([sys.executable, "-c", "import ipresmgr_site.wsgi"], without_key())
    assert result.returncode == EXIT_REFUSED
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(REFUSAL)


def test_gunicorn_with_the_image_config_refuses_before_any_worker_starts(tmp_path):
    port = free_port(LIVE_PORTS)
    try:
        args = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}"]
        result = run([*args, "ipresmgr_site.wsgi"], without_key())
    finally:
        release_port(port)
    assert result.returncode == 1
    assert f"Error: {REFUSAL}" in result.stderr
    assert "Booting worker" not in result.stderr


def test_plain_gunicorn_stops_instead_of_restarting_a_refused_worker(tmp_path):
    port = free_port(LIVE_PORTS)
    try:
        args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        result = run([*args, "ipresmgr_site.wsgi"], without_key())  # exits by itself, or the timeout fails it
    finally:
        release_port(port)
    # gunicorn halts on the workers' exit status ("App failed to load."; with two workers, gunicorn
    # 27 prints a traceback of its own as the second one is reaped) instead of booting new ones.
    assert result.returncode != 0
    assert REFUSAL in result.stderr
    assert "App failed to load" in result.stderr
    assert result.stderr.count("Booting worker") <= 2


def test_debug_may_serve_without_a_key():
    result = run([sys.executable, "-c", "import ipresmgr_site.wsgi"], without_key(DEBUG="1"))
    assert result.returncode == 0, result.stderr


def test_commands_run_without_a_key_and_check_deploy_names_it():
    result = run([sys.executable, "manage.py", "check"], without_key())
    assert result.returncode == 0, result.stderr
    result = run([sys.executable, "manage.py", "check", "--deploy"], without_key())
    assert "ipresmgr.W001" in result.stderr + result.stdout
    assert "IPRESMGR_SECRET_KEY is not set" in result.stderr + result.stdout
