"""The start page (`/`, the console's "View site") says where everything is, and the project's
own docs are served where the OpenAPI description links them."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework.test import APIClient


def test_the_start_page_links_the_docs_the_console_and_health(db):
    response = APIClient().get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    links = set(re.findall(r'href="([^"]+)"', response.content.decode()))
    expected = {"/api/docs/", "/api/redoc/", "/api/schema/", "/admin/", "/healthz", "/readyz"}
    assert expected | {"/docs/contract.md", "/docs/behaviour.md"} <= links
    assert not [link for link in links if "://" in link]  # nothing from outside


def test_the_docs_are_served_as_they_are_in_the_repository(db):
    for name in ("contract", "behaviour"):
        response = APIClient().get(f"/docs/{name}.md")
        assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == (settings.BASE_DIR / "docs" / f"{name}.md").read_text()
    assert APIClient().get("/docs/benchmarks-secret.md").status_code == 404


def test_the_openapi_description_links_the_docs(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    description = schema["info"]["description"]
    for target in re.findall(r"\]\(([^)]+)\)", description):
        assert APIClient().get(target).status_code == 200, target
    assert "(/docs/contract.md)" in description and "(/docs/behaviour.md)" in description


def test_the_docs_cover_every_field_and_code():
    from pools.choices import Code

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
