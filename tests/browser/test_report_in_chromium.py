"""report.html as people see it: rendered by headless Chromium, on screen and in print.

The browser is Debian's chromium with its chromedriver (.ci/run installs both). Where they
cannot be installed the tests are skipped with the reason, unless SUNSET_REQUIRE_BROWSER is set
(.ci/run sets it once the install worked), so that a broken install cannot pass unseen.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.sample import seed_sample_service
from tests.conftest import FAST, artifact

CHROMIUM = os.environ.get("SUNSET_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SUNSET_CHROMEDRIVER", "/usr/bin/chromedriver")
KEY_SECTIONS = {
    "summary": "Summary",
    "timeline": "Timeline",
    "approval": "Approval",
    "inventory": "Inventory",
    "backups": "Backups",
    "removed": "What was removed and stopped",
    "validation": "Validation",
    "restore": "How to restore",
    "lessons": "Lessons learned",
}
GREEN = (0x1E, 0x7B, 0x34)  # .bar.succeeded in report/html.py


def _browser_or_skip() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return
    why = (
        f"headless Chromium is not installed ({', '.join(missing)} missing): "
        "apt-get install chromium chromium-driver (.ci/run does)"
    )
    if os.environ.get("SUNSET_REQUIRE_BROWSER"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report.html of a real sandbox run: notice period, approval, backups, validation."""
    with Sandbox() as sandbox:
        service = seed_sample_service(sandbox.session)
        request = service.request(
            # Longer than Prepare, Discover and Announce take on a loaded machine, so that a
            # wait remains to be drawn.
            notice_seconds=15,
            timezone="Europe/Paris",
            approval={"required": True, "timeout_seconds": 300},
            backup=FAST,
        )
        arn = sandbox.start("decommission", request, name="browser")
        sandbox.wait_for_approval_request("browser")
        sandbox.approve("browser", by="alice")
        run = sandbox.wait(arn)
        assert run.status == "SUCCEEDED", run.cause
        page = tmp_path_factory.mktemp("report") / "report.html"
        page.write_text(artifact(sandbox, "browser", "report.html"), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # As root and without a display; the network flags keep Chromium from calling home, which
    # this machine's closed network refuses noisily.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _ink(image: Any, box: tuple[int, int, int, int]) -> int:
    """How many pixels in box are dark enough to be text."""
    region = image.crop(box).convert("L")
    return sum(1 for value in region.getdata() if value < 110)


def test_the_report_shows_every_key_section_and_a_drawn_timeline(
    browser: Any, report_page: Path, tmp_path: Path
) -> None:
    from PIL import Image
    from selenium.webdriver.common.by import By

    # Given the report open in the browser, the window as tall as the page
    browser.set_window_size(1280, 900)
    browser.get(report_page.resolve().as_uri())
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    ratio = browser.execute_script("return window.devicePixelRatio")
    # When it is photographed
    shot = tmp_path / "report.png"
    shot.write_bytes(browser.get_screenshot_as_png())
    image = Image.open(shot).convert("RGB")
    # Then every key section is there, with its heading painted where the page says it is
    for anchor, title in KEY_SECTIONS.items():
        heading = browser.find_element(By.CSS_SELECTOR, f"section#{anchor} > h2")
        assert heading.is_displayed() and heading.text == title, anchor
        rect = heading.rect
        box = (
            int(rect["x"] * ratio),
            int(rect["y"] * ratio),
            int((rect["x"] + rect["width"]) * ratio),
            int((rect["y"] + rect["height"]) * ratio),
        )
        assert _ink(image, box) > 40, f"the {title!r} heading is not painted (see {shot})"
    # and the outcome and the verdict of the proof stand out
    assert browser.find_element(By.ID, "outcome").text == "SUCCEEDED"
    assert "Proven down" in browser.find_element(By.CSS_SELECTOR, "#validation .callout").text
    assert "Approved" in browser.find_element(By.CSS_SELECTOR, "#approval .callout").text
    # and the timeline draws each phase as a coloured bar, and the waits as waits
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".timeline .label")]
    assert {"Prepare", "Back up", "Remove API routes", "Validate shutdown", "Report"} <= set(labels)
    assert {"Notice period", "Waiting for approval"} <= set(labels)
    drawn = [
        bar
        for bar in browser.find_elements(By.CSS_SELECTOR, ".track .bar.succeeded")
        if bar.rect["width"] > 0
    ]
    assert len(drawn) >= 10, "the succeeded phases are not drawn"
    for bar in drawn:
        rect = bar.rect
        assert rect["width"] >= 3
        x = int((rect["x"] + rect["width"] / 2) * ratio)
        y = int((rect["y"] + rect["height"] / 2) * ratio)
        pixel: tuple[int, int, int] = image.getpixel((x, y))  # type: ignore[assignment]
        assert all(abs(a - b) < 30 for a, b in zip(pixel, GREEN, strict=True)), (pixel, shot)
    # and the page is self-contained: nothing points outside it (its Content-Security-Policy
    # would block it, silently), and the browser reports no blocked or failed load
    outside = browser.execute_script(
        "return [...document.querySelectorAll('[src], [href], [srcset], link, script, iframe')]"
        ".filter(e => !(e.getAttribute('href') || '').startsWith('#')).map(e => e.outerHTML)"
    )
    assert outside == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_the_report_prints_without_the_navigation(browser: Any, report_page: Path) -> None:
    from selenium.webdriver.common.by import By

    # Given the report, as a printer sees it
    browser.get(report_page.resolve().as_uri())
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        nav = browser.find_element(By.TAG_NAME, "nav")
        # Then the navigation is left out, and the sections are all there
        assert not nav.is_displayed()
        for anchor in KEY_SECTIONS:
            assert browser.find_element(By.ID, anchor).is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    # When it is printed on A4
    pdf = base64.b64decode(
        browser.execute_cdp_cmd(
            "Page.printToPDF",
            {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True},
        )["data"]
    )
    # Then it is a PDF of several pages
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 2
