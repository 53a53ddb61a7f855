"""The admin driven in headless Chromium against a live server, as a person would use it.

Screenshots go to $AJO_SCREENSHOTS_DIR (default: a temporary folder); the README's come from
the demo's real data (docs/screenshots.py). Run with `pytest -m browser`.
"""

import csv
import io
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group as Role

from ajo.tests.browser import ARGS, CHROMIUM, require_chromium
from contributions.tests.factories import ContributionFactory, PayoutFactory
from groups.models import Group
from groups.tests.factories import (
    GroupFactory,
    MembershipFactory,
    StaffFactory,
    TokenFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(os.environ.get("AJO_SCREENSHOTS_DIR") or tempfile.gettempdir()) / "ajo-browser"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _static_from_apps(settings):
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture(autouse=True)
def _roles(admin_roles):
    pass


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # meanwhile are ordinary blocking calls, which Django must be told are fine here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def chain_data(db):
    usdc = TokenFactory(symbol="USDC", name="USD Coin", decimals=6)
    TokenFactory(symbol="", name="", decimals=None)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    groups = []
    block = 1000
    for n in range(6):
        status = [Group.Status.ACTIVE, Group.Status.COMPLETED, Group.Status.FORMING][n % 3]
        group = GroupFactory(
            name=f"{['Lagos', 'Accra', 'Ibadan'][n % 3]} circle {n + 1}",
            token=usdc,
            max_members=4,
            member_count=4,
            status=status,
            current_round=2 if status == Group.Status.ACTIVE else 0,
            contribution_amount=1_250_500_000,
            contribution_count=5,
            payout_count=1,
        )
        members = [MembershipFactory(group=group, user=UserFactory(), position=p) for p in range(4)]
        for member in members:
            block += 3
            ContributionFactory(
                group=group,
                member=member.user,
                round=1,
                amount=group.contribution_amount,
                block_number=block,
                block_time=start + timedelta(hours=block - 1000),
            )
        PayoutFactory(
            group=group,
            recipient=members[0].user,
            round=1,
            amount=group.contribution_amount * 4,
            block_number=block,
            block_time=start + timedelta(hours=block - 1000),
        )
        block += 3
        ContributionFactory(
            group=group,
            member=members[1].user,
            round=2,
            amount=group.contribution_amount,
            block_number=block,
            is_late=True,
            block_time=start + timedelta(hours=block - 1000),
        )
        groups.append((group, members))
    usdc.contribution_count = 30
    usdc.total_contributed = 30 * 1_250_500_000
    usdc.group_count = 6
    usdc.save()
    return groups


def staff(role: str) -> str:
    user = StaffFactory(username=f"{role}-person")
    user.groups.set([Role.objects.get(name=role)])
    return user.username


def log_in(page, live_server, username: str):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_operator_finds_follows_filters_and_exports(browser, live_server, chain_data):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    group, members = chain_data[0]
    member = members[1].user
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )
    log_in(page, live_server, staff("operator"))

    # Dashboard: totals, sync, latest activity.
    dashboard = page.locator("#ajo-dashboard")
    assert "Groups" in dashboard.inner_text()
    assert "Latest contributions" in dashboard.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # Search a member's address in mixed (checksummed) case on the contributions list.
    page.goto(f"{live_server.url}/admin/contributions/contribution/")
    page.fill("input[name=q]", member.checksum_address)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**?q=*")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2  # rounds 1 and 2 of that member
    assert member.checksum_address in page.content()
    page.goto(f"{live_server.url}/admin/contributions/contribution/")
    page.screenshot(path=str(SCREENSHOTS / "contributions.png"), full_page=True)

    # Group -> member -> that member's contributions.
    page.goto(f"{live_server.url}/admin/groups/group/{group.id}/change/")
    assert "Members in rotation order" in page.inner_text("#ajo-related")
    page.screenshot(path=str(SCREENSHOTS / "group.png"), full_page=True)
    page.locator("#ajo-related a", has_text=member.checksum_address).first.click()
    page.wait_for_url(f"**/admin/groups/user/{member.id}/change/")
    page.locator("#ajo-related a", has_text="See all").nth(1).click()
    page.wait_for_url(f"**member__id__exact={member.id}")
    assert page.locator("#result_list tbody tr").count() == 2

    # A block range filter.
    page.goto(
        f"{live_server.url}/admin/contributions/contribution/"
        "?block_number_from=1000&block_number_to=1012"
    )
    assert page.locator("#result_list tbody tr").count() == 4

    # Export what the list shows.
    with page.expect_download() as download_info:
        page.click("#ajo-export-csv")
    text = Path(download_info.value.path()).read_text()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 4
    assert all(line["amount"] == "1250500000" for line in lines)

    # Dark mode (unfold's theme follows the browser's preference).
    dark = browser.new_context(viewport={"width": 1440, "height": 1000}, color_scheme="dark")
    dark_page = dark.new_page()
    log_in(dark_page, live_server, "operator-person")
    assert "dark" in (dark_page.locator("html").get_attribute("class") or "")
    dark_page.screenshot(path=str(SCREENSHOTS / "dashboard-dark.png"), full_page=True)
    dark.close()
    context.close()
    assert outside == [], f"the admin reached outside the server: {outside}"


def test_viewer_sees_no_chain_actions(browser, live_server, chain_data):
    page = browser.new_page()
    log_in(page, live_server, staff("viewer"))
    page.goto(f"{live_server.url}/admin/groups/group/")
    assert page.locator("#result_list tbody tr").count() == 6
    assert page.locator("option[value=refresh_from_chain]").count() == 0
    assert page.locator("option[value=verify_against_chain]").count() == 0
    operator_page = browser.new_page()
    log_in(operator_page, live_server, staff("operator"))
    operator_page.goto(f"{live_server.url}/admin/groups/group/")
    assert operator_page.locator("option[value=verify_against_chain]").count() == 1
