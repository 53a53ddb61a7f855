"""Content-Security-Policy: strict everywhere, and the admin and Swagger UI still work under it.

The browser tests open the pages in Debian's Chromium and fail on any CSP violation the page
reports (securitypolicyviolation events and console errors), then check the page rendered.
"""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from ajo.tests.browser import ARGS, CHROMIUM, require_chromium
from groups.tests.factories import GroupFactory, StaffFactory

PASSWORD = "correct horse battery"  # StaffFactory's

# Collects violations from the moment the document starts, before any script of the page.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile);
});
"""


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.django_db
def test_strict_policy_on_ordinary_responses(client):
    policy = _directives(client.get("/healthz")["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_admin_and_docs_get_only_their_extra_sources(client, settings):
    admin = _directives(client.get("/admin/login/")["Content-Security-Policy"])
    assert admin["script-src"] == ["'self'", "'unsafe-eval'"]
    assert "'unsafe-inline'" not in admin["script-src"]
    docs = _directives(client.get("/api/docs/")["Content-Security-Policy"])
    assert docs["script-src"] == ["'self'"]
    assert docs["style-src"] == ["'self'", "'unsafe-inline'"]


def test_admin_url_moves_the_admin():
    code = (
        "from django.test import Client; c = Client(); "
        "print(c.get('/ops-console/login/').status_code, c.get('/admin/login/').status_code)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=django_settings.BASE_DIR,
        env={
            **{k: v for k, v in __import__("os").environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "ADMIN_URL": "/ops-console/",
            "SECRET_KEY": "k" * 50,
            "DEBUG": "true",  # static files from the apps; routing is what is tested
            "ALLOWED_HOSTS": "testserver",  # explicit: a local .env must not decide
            "DATABASE_URL": "sqlite:///:memory:",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split()[-2:] == ["200", "404"], result.stdout + result.stderr


# --- in the browser ----------------------------------------------------------------------------


@pytest.fixture
def admin_data(transactional_db):
    # Created before the browser starts: Playwright's sync API runs an event loop, and Django
    # refuses database calls from a thread that has one.
    GroupFactory(name="Lagos circle")
    return StaffFactory(is_superuser=True)


@pytest.fixture
def page():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.add_init_script(WATCH_VIOLATIONS)
        page.console_errors = []
        page.on(
            "console",
            lambda m: m.type == "error" and page.console_errors.append(m.text),
        )
        yield page
        browser.close()


def _assert_no_violations(page):
    violations = page.evaluate("window.__csp")
    csp_console = [m for m in page.console_errors if "Content Security Policy" in m]
    assert violations == [] and csp_console == [], (violations, csp_console)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_login_and_changelist_work_under_the_policy(admin_data, page, live_server):
    staff = admin_data
    page.goto(f"{live_server.url}/admin/login/")
    _assert_no_violations(page)
    page.fill("input[name=username]", staff.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/admin/groups/group/")
    page.wait_for_load_state("networkidle")
    assert "Lagos circle" in page.content()
    # Alpine.js ran (it needs 'unsafe-eval'): x-cloak is removed once Alpine starts.
    page.wait_for_function("!document.documentElement.hasAttribute('x-cloak')", timeout=10_000)
    _assert_no_violations(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_policy(page, live_server):
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI fetched /api/schema/ and drew the operations.
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 5
    assert "ajo API" in page.locator(".info .title").inner_text()
    _assert_no_violations(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_violation_check_catches_a_policy_that_is_too_strict(page, live_server, settings):
    # The control: without the admin's extra sources, Alpine's eval is blocked and reported.
    settings.CSP_PATH_UPDATES = {}
    page.goto(f"{live_server.url}/admin/login/")
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__csp")
    assert any(v.startswith(("script-src", "style-src")) for v in violations), violations
