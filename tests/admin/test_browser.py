"""The console end to end in a real browser (headless Chromium from Debian, driven by Playwright).

One journey at 1366 x 768: log in, register a subnet granted to a cluster with a quota, create pools
through the API, look at the dashboard, the subnets, the pools and a pool's addresses, find an
address by IP, force-release it, confirm, see the event in the audit log, then the start page and
the API docs. Every page is checked for headers wrapped a letter a line and for its key columns on
screen, and no request may leave the server. A screenshot of each page goes to artifacts/browser/.
Skips when Chromium or Playwright is missing, unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from core.choices import AdminAction
from pools import services
from pools.models import Subnet
from tests.support.api import command_ctx, holder

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
PORTS = range(8200, 8300)  # the console's live servers bind here, on 127.0.0.1 only
VIEWPORT = {"width": 1366, "height": 768}  # the smallest laptop screen operators use
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
                viewport=VIEWPORT,
            )
            context.set_default_timeout(20_000)
            page = context.pages[0] if context.pages else context.new_page()
            try:
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


HEADERS_JS = r"""
() => Array.from(document.querySelectorAll("thead th")).filter(th => th.offsetParent !== null).map(th => {
    const box = th.getBoundingClientRect();
    const text = document.createRange();
    text.selectNodeContents(th);
    const style = getComputedStyle(th);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
    const frame = th.closest(".results, .module, #content") || document.body;
    return {
        text: th.innerText.replace(/^\s*\d+\s+/, "").trim().toLowerCase(),  // less a sort-priority digit
        lines: text.getBoundingClientRect().height / line,
        right: box.right,
        visibleRight: Math.min(window.innerWidth, frame.getBoundingClientRect().right),
    };
})
"""


def _check_layout(page, key_columns: tuple[str, ...] = ()) -> None:
    """No horizontal scrolling, no header wrapped onto more than two lines (a letter a line is how a
    squeezed header shows), and each key column's header on screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], page.url
    headers = page.evaluate(HEADERS_JS)
    stacked = [h["text"] for h in headers if h["text"] and h["lines"] > 2.2]
    assert stacked == [], f"{page.url}: headers wrapped {stacked}"
    for column in key_columns:
        found = [h for h in headers if h["text"] == column]
        assert found, f"{page.url}: no column {column!r} in {[h['text'] for h in headers]}"
        assert all(h["right"] <= h["visibleRight"] + 1 for h in found), f"{page.url}: {column!r} is off screen"


def _api(base: str, path: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as refusal:  # a refusal is the envelope too
        return json.loads(refusal.read())


def test_operator_grants_a_subnet_finds_an_address_force_releases_it_and_sees_it_audited(console_server, browser_page):
    page = browser_page
    base = console_server
    get_user_model().objects.create_superuser("oncall", "oncall@example.com", "correct-horse-battery")
    _, token = services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c1")
    services.cluster_create(ctx=command_ctx(AdminAction.CLUSTER_CREATE), cluster_id="c2")
    outside: list[str] = []
    own = (base + "/", "blob:" + base + "/", "data:")
    page.on("request", lambda request: None if request.url.startswith(own) else outside.append(request.url))

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

    # Register a subnet with an excluded range, granted to cluster c1 with a quota of 100 addresses.
    page.goto(base + "/admin/pools/subnet/add/")
    page.fill("#id_net_regional_id", "region-1")
    page.fill("#id_subnet_id", "subnet-web")
    page.fill("#id_cidr", "10.0.3.0/24")
    page.fill("#id_gateway", "10.0.3.1")
    page.fill("#id_exclusions-0-first_ip", "10.0.3.2")
    page.fill("#id_exclusions-0-last_ip", "10.0.3.9")
    page.select_option("#id_grants-0-cluster", label="c1")
    page.fill("#id_grants-0-quota", "100")
    shot("03-subnet-form")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    assert "subnet-web" in page.inner_text("#result_list") and "1 granted" in page.inner_text("#result_list")
    shot("04-subnet-list")
    _check_layout(page, ("subnetid", "access", "capacity", "reserved", "free", "utilization"))
    subnet = Subnet.objects.get(subnet_id="subnet-web")
    assert subnet.exclusions.count() == 1
    assert list(subnet.grants.values_list("cluster__cluster_id", "quota")) == [("c1", 100)]
    assert AuditEvent.objects.get(admin_action=AdminAction.SUBNET_GRANT).actor == "admin:oncall"
    services.subnet_create(
        ctx=command_ctx(), net_regional_id="region-1", subnet_id="subnet-v6", cidr="fd00:3::/64", gateway="fd00:3::1"
    )

    # The webhook creates pools and the CNI plugin binds an address, through the API.
    workload = {"K8SClusterID": "c1", "K8SNamespace": "shop", "K8SApiResourceKind": 0, "K8SApiResourceName": "web"}
    create = {"NetRegionalID": "region-1", "SubnetID": "subnet-web", "SubnetGatewayAddr": "10.0.3.1"}
    created = _api(
        base, "/v1/ippool/create", token, {"ReqID": "browser-create", **workload, "K8SApiResourceReplicas": 2, **create}
    )
    assert created["Code"] == 0, created
    long_name = "checkout-" + "very-long-" * 20 + "service"
    long_workload = {**workload, "K8SApiResourceName": long_name}
    v6 = {"NetRegionalID": "region-1", "SubnetID": "subnet-v6", "SubnetGatewayAddr": "fd00:3::1"}
    assert _api(base, "/v1/ippool/create", token, {**long_workload, "K8SApiResourceReplicas": 3, **v6})["Code"] == 0
    assert (
        _api(base, "/v1/ip/require", token, {**long_workload, "K8SApiResourceID": "rs", "K8SPodID": "p" * 120})["Code"]
        == 0
    )
    lease = _api(
        base,
        "/v1/ip/require",
        token,
        {"ReqID": "browser-require", **workload, "K8SApiResourceID": "rs-1", "K8SPodID": "pod-7f3a"},
    )
    assert lease["Code"] == 0, lease
    ip = lease["IP"]
    assert ip == "10.0.3.10"  # the exclusion was honoured
    # A refused call with a huge name must not stretch the audit log.
    refused = {**workload, "K8SApiResourceName": "x" * 2000, "K8SApiResourceReplicas": 1, **create}
    assert _api(base, "/v1/ippool/create", token, refused)["Code"] == 1

    # The dashboard, the pools and one pool's addresses, at 1366 px.
    page.goto(base + "/admin/")
    assert "2^64 - 2" in page.inner_text("#ipresmgr-dashboard")
    _check_layout(page, ("subnet", "cidr", "capacity", "reserved", "bound", "free", "utilization"))
    shot("05-dashboard-with-pools")
    page.goto(base + "/admin/pools/pool/")
    _check_layout(page, ("workload", "subnet", "target", "reserved", "bound", "idle", "surge in use"))
    shot("06-pool-list")
    page.click(f"#result_list a:has-text('{workload['K8SClusterID']}/shop/Deployment/web')")
    page.wait_for_selector("#pool-addresses")
    addresses = page.inner_text("#pool-addresses")
    assert "Addresses of this pool (2)" in addresses and ip in addresses and "in use" in addresses
    _check_layout(page, ("ip", "state", "macaddr", "portid"))
    shot("07-pool-page")

    # Find the address by its IP.
    page.goto(base + "/admin/pools/address/")
    _check_layout(page, ("ip", "pool", "k8spodid", "macaddr", "portid"))
    page.fill("#searchbar", ip)
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "pod-7f3a" in rows.first.inner_text()
    shot("08-address-found")

    # Force-release it: the confirmation page names the pod that loses it.
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "force_release")
    page.click("button[name=index]")
    page.wait_for_selector("#force-release-list")
    assert "pod-7f3a" in page.inner_text("#force-release-list")
    shot("09-force-release-confirm")
    assert holder(ip) == "pod-7f3a"
    page.click("input[value='Yes, release']")
    page.wait_for_selector("ul.messagelist")
    assert "pod pod-7f3a no longer holds it" in page.inner_text("ul.messagelist")
    shot("10-force-released")
    assert holder(ip) is None

    # The audit log shows who did it; the whole log fits the screen.
    page.goto(base + "/admin/audit/auditevent/")
    _check_layout(page, ("at (utc)", "reqtype / admin action", "code", "workload", "ip", "actor", "msg"))
    shot("11-audit-log-all")
    page.fill("#searchbar", ip)
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    log = page.inner_text("#result_list")
    assert "Binding force-released" in log and "admin:oncall" in log and "pod-7f3a" in log
    shot("12-audit-log")
    assert AuditEvent.objects.filter(admin_action=AdminAction.BINDING_FORCE_RELEASE, actor="admin:oncall").exists()

    # "View site" leads to the start page, which leads to the API docs.
    page.goto(base + "/admin/")
    page.click("text=View site")
    page.wait_for_selector("#links")
    shot("13-start-page")
    page.click("text=API docs (Swagger UI)")
    page.wait_for_selector(".swagger-ui .opblock")
    shot("14-swagger")
    page.goto(base + "/api/redoc/")
    page.wait_for_selector('h2:has-text("Create a workload\'s IP pool")')
    page.wait_for_load_state("networkidle")
    shot("15-redoc")

    assert outside == [], f"requests left the server: {outside}"
