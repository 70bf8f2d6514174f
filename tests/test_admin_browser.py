"""The console end to end in a real browser (headless Chromium from Debian, driven by Playwright).

One journey: log in, register a subnet, create a pool through the API, find an address by IP,
force-release it, confirm, and see the event in the audit log. A screenshot of each page goes to
artifacts/browser/. Skips when Chromium or Playwright is missing, unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from pools import services
from pools.choices import AdminAction
from pools.models import AuditEvent, Subnet
from tests.conftest import command_ctx, holder

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
PORTS = range(8200, 8300)  # the console's live servers bind here, on 127.0.0.1 only
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip():
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed"
    if problem is None and not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return sync_playwright


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8200-8299")


@pytest.fixture
def console_server(transactional_db):
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer(f"127.0.0.1:{_free_port()}")
    yield server.url
    server.stop()
    _end_server_sessions()


def _end_server_sessions() -> None:
    """The server answers each browser connection in a daemon thread that keeps its database
    session until the socket closes; end those sessions of the test database so it can be dropped."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def browser_page(monkeypatch):
    sync_playwright = _browser_or_skip()
    # Playwright's sync API keeps an event loop on this thread; the ORM calls of the test are
    # still plain synchronous calls, so Django's guard against async contexts does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="ipresmgr-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1600, "height": 900},
            )
            context.set_default_timeout(20_000)
            page = context.pages[0] if context.pages else context.new_page()
            try:
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _api(base: str, path: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_operator_finds_an_address_force_releases_it_and_sees_it_audited(console_server, browser_page):
    page = browser_page
    base = console_server
    get_user_model().objects.create_superuser("oncall", "oncall@example.com", "correct-horse-battery")
    _, token = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c1")

    def shot(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    # Log in.
    page.goto(base + "/admin/")
    shot("01-login")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#ipresmgr-dashboard")
    shot("02-dashboard")

    # Register a subnet with an excluded range.
    page.goto(base + "/admin/pools/subnet/add/")
    page.fill("#id_net_regional_id", "region-1")
    page.fill("#id_subnet_id", "subnet-web")
    page.fill("#id_cidr", "10.0.3.0/24")
    page.fill("#id_gateway", "10.0.3.1")
    page.fill("#id_exclusions-0-first_ip", "10.0.3.2")
    page.fill("#id_exclusions-0-last_ip", "10.0.3.9")
    shot("03-subnet-form")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    assert "subnet-web" in page.inner_text("#result_list")
    shot("04-subnet-list")
    assert Subnet.objects.get(subnet_id="subnet-web").exclusions.count() == 1

    # The webhook creates a pool and the CNI plugin binds an address, through the API.
    workload = {"K8SClusterID": "c1", "K8SNamespace": "shop", "K8SApiResourceKind": 0, "K8SApiResourceName": "web"}
    created = _api(
        base,
        "/v1/ippool/create",
        token,
        {
            "ReqID": "browser-create",
            **workload,
            "K8SApiResourceReplicas": 2,
            "NetRegionalID": "region-1",
            "SubnetID": "subnet-web",
            "SubnetGatewayAddr": "10.0.3.1",
        },
    )
    assert created["Code"] == 0, created
    lease = _api(
        base,
        "/v1/ip/require",
        token,
        {"ReqID": "browser-require", **workload, "K8SApiResourceID": "rs-1", "K8SPodID": "pod-7f3a"},
    )
    assert lease["Code"] == 0, lease
    ip = lease["IP"]
    assert ip == "10.0.3.10"  # the exclusion was honoured

    # Find the address by its IP.
    page.goto(base + "/admin/pools/address/")
    page.fill("#searchbar", ip)
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "pod-7f3a" in rows.first.inner_text()
    shot("05-address-found")

    # Force-release it: the confirmation page names the pod that loses it.
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "force_release")
    page.click("button[name=index]")
    page.wait_for_selector("#force-release-list")
    assert "pod-7f3a" in page.inner_text("#force-release-list")
    shot("06-force-release-confirm")
    assert holder(ip) == "pod-7f3a"
    page.click("input[value='Yes, release']")
    page.wait_for_selector("ul.messagelist")
    assert "pod pod-7f3a no longer holds it" in page.inner_text("ul.messagelist")
    shot("07-force-released")
    assert holder(ip) is None

    # The audit log shows who did it.
    page.goto(base + "/admin/pools/auditevent/")
    page.fill("#searchbar", ip)
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    log = page.inner_text("#result_list")
    assert "Binding force-released" in log and "admin:oncall" in log and "pod-7f3a" in log
    shot("08-audit-log")
    assert AuditEvent.objects.filter(admin_action=AdminAction.BINDING_FORCE_RELEASE, actor="admin:oncall").exists()
