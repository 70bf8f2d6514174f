"""Console: the index page shows subnet utilization and pools full or over target; the admin's
static files are served by the app itself (whitenoise) and collectstatic works."""

from pathlib import Path

from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from tests.support.api import make_subnet


def test_index_shows_subnet_utilization_and_pools_needing_attention(admin_client, v1):
    make_subnet(subnet_id="tiny", cidr="10.0.9.0/29", gateway="10.0.9.1")  # 5 usable
    v1.create_pool(4, name="crowded", subnet_id="tiny", gateway="10.0.9.1")  # 80 percent
    v1.create_pool(2, name="calm")
    v1.create_pool(1, name="full")
    v1.require("p-full", name="full")
    v1.create_pool(1, name="surging")
    v1.require("s1", name="surging")
    v1.require("s2", name="surging")  # a surge address: over target

    page = admin_client.get(reverse("admin:index")).content.decode()
    dashboard = page.split('id="ipresmgr-dashboard"')[1]
    assert dashboard.index("tiny") < dashboard.index("subnet-a")  # the fullest first
    assert "80%" in dashboard
    attention = page.split('id="ipresmgr-pools-attention"')[1].split("</table>")[0]
    assert "c1/default/Deployment/full" in attention and "full: every address bound" in attention
    assert "c1/default/Deployment/surging" in attention and "over target" in attention
    assert "calm" not in attention and "crowded" not in attention


def test_index_with_nothing_registered(admin_client, db):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "No subnet registered yet." in page


def test_admin_css_is_served_by_the_app(client, db):
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert "text/css" in response["Content-Type"]
    assert b"body" in b"".join(response.streaming_content)


def test_collectstatic_gathers_the_admin_files(tmp_path):
    with override_settings(STATIC_ROOT=tmp_path):
        call_command("collectstatic", "--no-input", verbosity=0)
    assert (Path(tmp_path) / "admin" / "css" / "base.css").is_file()
    assert (Path(tmp_path) / "admin" / "css" / "base.css.gz").is_file()
