"""Screenshots of the admin for the README, taken from a running `make demo` server.

    .venv/bin/python docs/screenshots.py --username operator --password PASSWORD
                                         [--url http://127.0.0.1:8000]

Drives Debian's Chromium (/usr/bin/chromium) headless: logs in, then saves the dashboard
(light and dark), the busiest active group's page and the contributions list to
docs/screenshots/.
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/admin/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for scheme, suffix in (("light", ""), ("dark", "-dark")):
            context = browser.new_context(
                viewport={"width": 1440, "height": 1000}, color_scheme=scheme
            )
            page = context.new_page()
            log_in(page, args.url, args.username, args.password)
            page.screenshot(path=str(OUT / f"dashboard{suffix}.png"), full_page=True)
            if scheme == "light":
                page.goto(f"{args.url}/admin/groups/group/?status__exact=active")
                page.locator("#result_list tbody tr a").first.click()
                page.wait_for_load_state()
                page.screenshot(path=str(OUT / "group.png"), full_page=True)
                page.goto(f"{args.url}/admin/contributions/contribution/")
                page.screenshot(path=str(OUT / "contributions.png"), full_page=False)
            context.close()
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
