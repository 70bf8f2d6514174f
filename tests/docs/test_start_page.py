"""The start page (`/`, the console's "View site") says where everything is, and the project's
own docs are served where the OpenAPI description links them."""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.html import escape
from rest_framework.test import APIClient


def test_the_start_page_links_the_docs_the_console_and_health(db):
    response = APIClient().get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    links = set(re.findall(r'href="([^"]+)"', response.content.decode()))
    expected = {"/api/docs/", "/api/redoc/", "/api/schema/", "/admin/", "/healthz", "/readyz"}
    assert expected | {"/docs/contract.md", "/docs/behaviour.md"} <= links
    assert not [link for link in links if "://" in link]  # nothing from outside


def test_the_start_page_links_every_doc_and_every_link_answers(db):
    page = APIClient().get("/").content.decode()
    links = set(re.findall(r'href="([^"]+)"', page))
    for path in (settings.BASE_DIR / "docs").glob("*.md"):
        assert f"/docs/{path.name}" in links, f"the start page does not link docs/{path.name}"
        title = path.read_text().partition("\n")[0].removeprefix("# ")
        assert f'<a href="/docs/{path.name}">{escape(title)}</a>' in page
    for link in links:
        response = APIClient().get(link)
        assert response.status_code in (200, 302), (link, response.status_code)
        if response.status_code == 302:  # the console asks for a login
            assert APIClient().get(response["Location"]).status_code == 200, link


def test_the_docs_are_served_as_they_are_in_the_repository(db):
    names = [path.stem for path in (settings.BASE_DIR / "docs").glob("*.md")]
    assert {"contract", "behaviour", "deploy", "operations"} <= set(names)
    for name in names:
        response = APIClient().get(f"/docs/{name}.md")
        assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == (settings.BASE_DIR / "docs" / f"{name}.md").read_text()
    assert APIClient().get("/docs/benchmarks-secret.md").status_code == 404
    assert APIClient().get("/docs/..%2FREADME.md").status_code == 404


def test_the_openapi_description_links_the_docs(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    description = schema["info"]["description"]
    for target in re.findall(r"\]\(([^)]+)\)", description):
        assert APIClient().get(target).status_code == 200, target
    assert "(/docs/contract.md)" in description and "(/docs/behaviour.md)" in description


def test_the_docs_cover_every_field_and_code():
    from core.choices import Code

    contract = (settings.BASE_DIR / "docs" / "contract.md").read_text()
    for field in (
        "K8SApiResourceReplicas",
        "K8SApiResourceOldReplicas",
        "K8SApiResourceNewReplicas",
        "NetRegionalID",
        "SubnetGatewayAddr",
        "K8SApiResourceID",
        "K8SPodID",
        "MacAddr",
        "PortID",
        "ReqType",
    ):
        assert f"`{field}`" in contract, field
    assert not re.search(r"[\u4e00-\u9fff]", contract)  # in English throughout
    behaviour = (settings.BASE_DIR / "docs" / "behaviour.md").read_text()
    for code in Code:
        assert f"| {int(code)} | {code.label} |" in behaviour, code
