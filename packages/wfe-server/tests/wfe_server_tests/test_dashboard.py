"""The dashboard in headless Chromium (Debian's package, driven by Playwright; no browser download): list →
search → open a run → its step tree shows durations and attempts, a parallel's children nested under it → its
running step's log lines arrive → terminate → the status changes without a reload; screenshots at 1280×800 and
390×844."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

from .serving import TOKEN, Served

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def _page(browser: object, served: Served, width: int, height: int) -> object:
    context = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def _token(page: object) -> None:
    page.wait_for_selector("#token-dialog[open]")  # type: ignore[attr-defined]
    page.fill("#token-input", TOKEN)  # type: ignore[attr-defined]
    page.click("#token-form button")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_list_search_open_follow_logs_terminate(
    browser: object, served: Served, tmp_path: Path, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    with served.client() as client:
        quick = client.post(
            "/api/v1/workflows", json={"definition_id": "quick", "reference": "dash-quick"}
        ).json()
        slow = client.post(
            "/api/v1/workflows", json={"definition_id": "nested", "reference": f"dash-slow-{width}"}
        ).json()
        served.wait_status(client, quick["id"], "Complete")

    page = _page(browser, served, width, height)
    page.goto(served.base + "/")  # type: ignore[attr-defined]
    _token(page)  # asked once: kept in the tab's session storage
    rows = page.locator("#runs tbody tr")  # type: ignore[attr-defined]
    expect(rows.first).to_be_visible()
    expect(page.locator(f'tr[data-id="{slow["id"]}"]')).to_be_visible()  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / f"runs-{width}x{height}.png"), full_page=True)  # type: ignore[attr-defined]

    # search narrows the list to the slow run
    page.fill("#search", f"dash-slow-{width}")  # type: ignore[attr-defined]
    page.press("#search", "Enter")  # type: ignore[attr-defined]
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-id="{slow["id"]}"]')).to_be_visible()  # type: ignore[attr-defined]
    # the status filter
    page.select_option("#status-filter", "Complete")  # type: ignore[attr-defined]
    expect(page.locator("#runs tbody td.muted")).to_have_text("No runs")  # type: ignore[attr-defined]
    page.select_option("#status-filter", "")  # type: ignore[attr-defined]
    expect(rows).to_have_count(1)

    page.click(f'tr[data-id="{slow["id"]}"] a.run-link')  # type: ignore[attr-defined]
    page.wait_for_url(f"**/runs/{slow['id']}")  # type: ignore[attr-defined]
    expect(page.locator("#run-status [data-status]")).to_have_text("Runnable")  # type: ignore[attr-defined]
    logs = page.locator("#logs")  # type: ignore[attr-defined]
    expect(logs).to_contain_text("tick 1")
    seen = logs.inner_text()
    expect(logs).to_contain_text(f"tick {seen.count('tick') + 2}", timeout=30_000)  # new lines arrive live
    expect(page.locator('#graph g.node[data-status="Running"]').first).to_be_visible()  # type: ignore[attr-defined]
    # the step tree: a finished step's times, duration and attempt; the parallel's children nested under it,
    # the running one with how long it has been running (ticking without a reload)
    prepare = page.locator('#pointers li[data-step="prepare"] > .pointer')  # type: ignore[attr-defined]
    expect(prepare.locator(".pointer-duration")).to_have_text(re.compile(r"^\d+(\.\d)? m?s$"))
    expect(prepare.locator(".pointer-attempts")).to_have_text("1 attempt")
    expect(prepare.locator(".pointer-times")).to_contain_text("→")
    watch = page.locator(  # type: ignore[attr-defined]
        '#pointers li[data-step="checks"] > ul.tree > li[data-step="watch"] > .pointer'
    )
    expect(watch.locator(".pointer-attempts")).to_have_text("1 attempt")
    running = watch.locator(".pointer-duration")
    expect(running).to_have_text(re.compile(r"^running for \d+ s$"))
    expect(running).not_to_have_text(running.inner_text(), timeout=10_000)
    expect(  # type: ignore[attr-defined]
        page.locator('#pointers li[data-step="checks"] > ul.tree > li[data-step="lint"] .pointer-duration')
    ).to_have_text(re.compile(r"\d"))
    page.screenshot(path=str(tmp_path / f"run-{width}x{height}.png"), full_page=True)  # type: ignore[attr-defined]

    page.click("#btn-terminate")  # type: ignore[attr-defined]
    expect(page.locator("#run-status [data-status]")).to_have_text("Terminated", timeout=30_000)  # type: ignore[attr-defined]
    expect(page.locator("#btn-terminate")).to_be_disabled()  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / f"terminated-{width}x{height}.png"), full_page=True)  # type: ignore[attr-defined]

    page.click("#nav-definitions")  # type: ignore[attr-defined]
    expect(page.locator('section.definition[data-id="quick"] svg')).to_be_visible()  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / f"definitions-{width}x{height}.png"), full_page=True)  # type: ignore[attr-defined]
    for name in ("runs", "run", "terminated", "definitions"):
        assert (tmp_path / f"{name}-{width}x{height}.png").stat().st_size > 5000
    page.context.close()  # type: ignore[attr-defined]
