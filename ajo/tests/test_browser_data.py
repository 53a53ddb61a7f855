"""The data browser's second round in headless Chromium: the filter builder, partial page
updates, keyboard, saved views and columns, the schema page and the SQL console.

Screenshots go to $AJO_SCREENSHOTS_DIR/ajo-browser (default: a temporary folder).
"""

import re

import pytest
from django.contrib.auth.models import Group as Role

from ajo.tests.test_browser import SCREENSHOTS, log_in, staff
from groups.tests.factories import StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _static_and_roles(settings, admin_roles):
    settings.WHITENOISE_USE_FINDERS = True


LIST = "/admin/contributions/contribution/"


def new_page(browser, **options):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, **options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    return context, page, errors


def stays(page) -> bool:
    """True while the document is the one marked below: no full page load since."""
    return page.evaluate("window.__ajoSamePage === true")


def mark(page) -> None:
    page.evaluate("window.__ajoSamePage = true")


def rows(page) -> int:
    return page.locator("#result_list tbody tr").count()


def condition(page, index: int, column: str, op: str, value: str = "", second: str = ""):
    row = page.locator(".ajo-cond").nth(index)
    row.locator("[data-role=column]").select_option(column)
    row.locator("[data-role=op]").select_option(op)
    if value:
        row.locator("[data-role=v1]").fill(value)
    if second:
        row.locator("[data-role=v2]").fill(second)


def test_filter_builder_and_partial_updates(browser, live_server, chain_data):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = new_page(browser, timezone_id="Africa/Lagos")
    log_in(page, live_server, staff("operator"))
    page.goto(f"{live_server.url}{LIST}")
    assert rows(page) == 25
    mark(page)

    # Page 2 by its link: the rows change, the document stays.
    page.locator("#ajo-pagination a", has_text="2").click()
    page.wait_for_function("document.querySelector('#ajo-results').dataset.page === '2'")
    assert rows(page) == 5 and stays(page) and "p=2" in page.url

    # Late ones (6, one per group) through the builder.
    page.click("#ajo-builder-panel summary")
    condition(page, 0, "is_late", "eq", "true")
    page.click("#ajo-apply")
    page.wait_for_url(re.compile(r".*f1=is_late.*"))
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 6")
    assert stays(page) and "p=2" not in page.url
    assert page.locator(".ajo-late").count() == 6  # a warning badge, not a tick
    # OR a second group: the first group's contributions up to block 1006.
    page.click("[data-action=add-group]")
    condition(page, 1, "block_number", "between", "1000", "1006")
    page.select_option("[data-role=join]", "or")
    page.click("#ajo-apply")
    page.wait_for_url(re.compile(r".*fj=or.*"))
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 8")
    assert stays(page)
    page.screenshot(path=str(SCREENSHOTS / "filter-builder.png"), full_page=True)

    # A bad value: a message beside it, no rows, no error page.
    condition(page, 1, "amount", "ge", "12x")
    page.click("#ajo-apply")
    error = page.locator(".ajo-field-error")
    error.wait_for()
    assert "decimal digits" in error.inner_text()
    assert rows(page) == 0 and stays(page)
    page.screenshot(path=str(SCREENSHOTS / "filter-error.png"), full_page=True)

    # The URL is shareable: opened afresh it shows the same conditions.
    shared = page.url
    other_context, other, _ = new_page(browser)
    log_in(other, live_server, "operator-person")
    other.goto(shared)
    assert other.locator(".ajo-field-error").count() == 1
    assert other.locator(".ajo-cond").count() == 2
    other_context.close()

    # Times are in the viewer's zone.
    page.goto(f"{live_server.url}{LIST}")
    assert "Times in Africa/Lagos" in page.locator("#ajo-toolbar").text_content()
    assert errors == [], errors
    context.close()


def test_keyboard_sort_and_search_swap_only_the_results(browser, live_server, chain_data):
    _, members = chain_data[0]
    context, page, errors = new_page(browser)
    log_in(page, live_server, staff("viewer"))
    page.goto(f"{live_server.url}{LIST}")
    mark(page)

    page.keyboard.press("?")
    assert page.locator("#ajo-help").is_visible()
    assert "next / previous row" in page.locator("#ajo-help").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "keyboard-help.png"))
    page.keyboard.press("Escape")
    assert not page.locator("#ajo-help").is_visible()

    page.keyboard.press("]")
    page.wait_for_function("document.querySelector('#ajo-results').dataset.page === '2'")
    page.keyboard.press("[")
    page.wait_for_function("document.querySelector('#ajo-results').dataset.page === '1'")
    assert stays(page)

    # Sort by block number (ascending): the header link swaps the rows.
    page.locator("#result_list thead a", has_text="Block number").click()
    page.wait_for_url(re.compile(r".*o=.*"))
    page.wait_for_function(
        "document.querySelector('#result_list tbody tr .c-block_number').textContent === '1003'"
    )
    assert stays(page)

    # / focuses the search; a member's address in checksum case finds their 2 rows.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "searchbar"
    page.keyboard.type(members[1].user.checksum_address)
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 2")
    assert stays(page) and "q=" in page.url

    # j, j, Enter opens the second row.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator("#result_list tbody tr").nth(1).get_attribute("class") == "ajo-cursor"
    target = page.locator("#result_list tbody tr").nth(1).get_attribute("data-href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{target}")
    # Back restores the searched list from the server.
    page.go_back()
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 2")
    assert errors == [], errors
    context.close()


def test_columns_and_saved_views_for_a_role(browser, live_server, chain_data):
    context, page, errors = new_page(browser)
    log_in(page, live_server, staff("operator"))
    page.goto(f"{live_server.url}{LIST}")
    page.click("#ajo-columns-panel summary")
    panel = page.locator("#ajo-columns")
    panel.locator("li[data-name=member_link] input").uncheck()
    panel.locator("li[data-name=block_number] [data-action=up]").click()  # above "late"
    page.click("#ajo-columns-apply")
    page.wait_for_url(re.compile(r".*cols=.*"))
    page.wait_for_function("!document.querySelector('#result_list .c-member_link')")
    # a sorted column's header ends with its arrow
    headers = [
        h.replace("↓", "").replace("↑", "").strip()
        for h in page.locator("#result_list thead th").all_inner_texts()
    ]
    assert "Member" not in headers
    assert headers.index("Block number") < headers.index("Late")

    page.click("#ajo-builder-panel summary")
    condition(page, 0, "is_late", "eq", "true")
    page.click("#ajo-apply")
    page.wait_for_function("document.querySelectorAll('#result_list tbody tr').length === 6")
    # Saving reloads the page (new sidebar): the form reads the URL as it is now.
    page.reload()
    page.click("#ajo-save-panel summary")
    page.fill("#ajo-save-view input[name=name]", "Late payers")
    page.select_option("#ajo-save-view select[name=scope]", label="role operator")
    page.click("#ajo-save-view button[type=submit]")
    page.wait_for_url(re.compile(r".*view=\d+.*"))
    assert page.locator("#ajo-view-name").inner_text().startswith("bookmark")
    sidebar = page.locator("#nav-sidebar")
    assert sidebar.locator(".ajo-saved-view", has_text="Late payers").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "saved-view.png"), full_page=True)
    context.close()

    # Another operator finds it in their sidebar, with the columns and conditions.
    context, page, _ = new_page(browser)
    second = StaffFactory(username="second-operator")
    second.groups.set([Role.objects.get(name="operator")])
    log_in(page, live_server, "second-operator")
    page.locator("#nav-sidebar .ajo-saved-view", has_text="Late payers").click()
    page.wait_for_url(re.compile(r".*view=\d+.*"))
    assert rows(page) == 6
    assert "Member" not in page.locator("#result_list thead th").all_inner_texts()
    # A viewer does not see the operators' view.
    viewer_context, viewer, _ = new_page(browser)
    log_in(viewer, live_server, staff("viewer"))
    assert viewer.locator(".ajo-saved-view").count() == 0
    viewer_context.close()
    assert errors == [], errors
    context.close()


def test_schema_and_sql_console(browser, live_server, chain_data):
    context, page, errors = new_page(browser)
    log_in(page, live_server, staff("analyst"))
    page.click("#nav-sidebar a:has-text('Schema')")
    page.wait_for_url("**/admin/schema/")
    card = page.locator("#table-contributions_contribution")
    assert "uint256" in card.inner_text()
    assert "contribution_member_idx" in card.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "schema.png"))
    card.locator("a[data-changelist]").click()
    page.wait_for_url(f"**{LIST}")
    assert rows(page) == 25

    page.goto(f"{live_server.url}/admin/sql/")
    page.fill("#ajo-sql", "SELECT id, amount FROM contributions_contribution ORDER BY id LIMIT 3")
    page.click("#ajo-run")
    page.wait_for_selector("#ajo-sql-result")
    assert page.locator("#ajo-sql-result tbody tr").count() == 3
    assert "1250500000" in page.locator("#ajo-sql-result").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sql-console.png"))
    page.fill("#ajo-sql", "DELETE FROM contributions_contribution")
    page.click("#ajo-run")
    assert "DELETE writes" in page.locator("#ajo-sql-error").inner_text()
    # The history puts an earlier statement back.
    page.locator("#ajo-sql-history [data-sql]").nth(1).click()
    assert page.input_value("#ajo-sql").startswith("SELECT id, amount")
    with page.expect_download() as download:
        page.click("#ajo-run-csv")
    assert download.value.suggested_filename.endswith(".csv")
    assert errors == [], errors
    context.close()

    viewer_context, viewer, _ = new_page(browser)
    log_in(viewer, live_server, staff("viewer"))
    assert viewer.locator("#nav-sidebar a:has-text('SQL console')").count() == 0
    response = viewer.goto(f"{live_server.url}/admin/sql/")
    assert response.status == 403
    viewer_context.close()
