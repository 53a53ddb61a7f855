"""How the admin reaches a browser in production: static files under hashed names cached for
good, the admin's HTML gzipped, the API and CSV streams left as they are."""

import gzip
import re
import urllib.request

import pytest

from ajo.tests.test_production import gunicorn_server, manage, migrated_env_for
from groups.tests.factories import StaffFactory


def fetch(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_static_files_have_hashed_names_and_are_cached_for_a_year():
    env = migrated_env_for("delivery")
    result = manage("collectstatic", "--noinput", "-v0", env=env)
    assert result.returncode == 0, result.stderr
    with gunicorn_server(env=env, ready_path="/healthz") as server:
        _, _, page = fetch(server.url + "/admin/login/")
        html = page.decode()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html)
        assert any(re.search(r"/ajo/admin\.[0-9a-f]{12}\.css$", a) for a in assets), assets
        assert any(re.search(r"/unfold/js/htmx/htmx\.[0-9a-f]{12}\.js$", a) for a in assets)
        for asset in assets:
            status, headers, _ = fetch(server.url + asset, **{"Accept-Encoding": "gzip, br"})
            assert status == 200
            max_age = int(re.search(r"max-age=(\d+)", headers["Cache-Control"]).group(1))
            assert max_age >= 365 * 24 * 3600 and "immutable" in headers["Cache-Control"]
            assert headers.get("Content-Encoding") in ("gzip", "br"), asset
        # Chart.js is the dashboard's alone.
        assert not any("chart" in a for a in assets)


@pytest.mark.django_db
def test_admin_html_is_gzipped_the_api_and_csv_are_not(client):
    client.force_login(StaffFactory(is_superuser=True))
    page = client.get("/admin/contributions/contribution/", HTTP_ACCEPT_ENCODING="gzip")
    assert page["Content-Encoding"] == "gzip"
    assert b"ajo-results" in gzip.decompress(page.content)
    export = client.get("/admin/contributions/contribution/export.csv", HTTP_ACCEPT_ENCODING="gzip")
    assert export.streaming and not export.has_header("Content-Encoding")
    api = client.get("/api/groups/", HTTP_ACCEPT_ENCODING="gzip")
    assert not api.has_header("Content-Encoding")
