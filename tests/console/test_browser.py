"""The console end to end in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium; nothing downloaded) against ``qualevents serve
--demo`` on a free port: sign in, create a source through the form, see its check fail and
pass, see the preview and the daily chart load, edit it, restore a revision, sign out.

The screenshots go to ``tmp_path``, or to ``$QUALEVENTS_CONSOLE_SCREENSHOTS`` when set
(``docs/console/`` holds the committed ones, taken that way)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_BROWSER,
        reason="needs Chromium and its driver: apt-get install chromium chromium-driver",
    ),
]
WAIT_S = 30


def _driver(width: int = 1280, height: int = 900) -> object:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    workdir = tmp_path_factory.mktemp("console-e2e")
    made = subprocess.run(
        [sys.executable, "-m", "qualevents", "keys", "create", "--name", "analyst"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")},
    )
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("console-")
    # --demo loads its data set first: on a loaded machine that takes a while
    with running_server(workdir, "--demo", startup_s=300) as url:
        yield url, secret
        log = next(workdir.glob("server-*.log")).read_text()
        assert secret not in log  # the key never reaches the log


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("QUALEVENTS_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[object]:
    driver = _driver()
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, css: str, text: str | None = None) -> object:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    if text is not None:
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def _sign_in(driver: object, url: str, secret: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    _wait(driver, "#key").send_keys(secret)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    _wait(driver, "h1", "Sources")


def _fill(driver: object, field: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, f"f-{field}")
    element.clear()
    element.send_keys(value)


def _press(driver: object, value: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"button[name=action][value={value}]").click()


def test_a_session_in_the_browser(server, browser, shots: Path):
    from selenium.webdriver.common.by import By

    url, secret = server
    driver = browser
    driver.get(url + "/")
    _wait(driver, "#key")
    assert driver.current_url == url + "/sign-in"
    driver.save_screenshot(str(shots / "sign-in.png"))
    _sign_in(driver, url, secret)
    assert secret not in driver.page_source
    assert secret not in driver.current_url
    assert "added_to_cart" in driver.page_source  # the demo's sources
    driver.save_screenshot(str(shots / "sources.png"))

    # create a source: the check fails at the field, then passes, then it is saved
    driver.find_element(By.LINK_TEXT, "New qualifying event").click()
    _wait(driver, "#f-name").send_keys("Purchases")
    _fill(
        driver,
        "sql",
        "SELECT user_id, ts, price_usd\nFROM `shoppy-sales.logging.events`\n"
        "WHERE event_name = 'purchase'",
    )
    _fill(driver, "timestamp_column", "created_at")
    _fill(driver, "tags", "revenue, demo")
    _press(driver, "check")
    error = _wait(driver, "#timestamp_column-error")
    assert "created_at" in error.text and "ts" in error.text
    driver.save_screenshot(str(shots / "check-failed.png"))
    _fill(driver, "timestamp_column", "ts")
    _press(driver, "check")
    _wait(driver, "#check-result")
    assert "Every check passed against the warehouse." in driver.page_source
    assert "price_usd" in driver.find_element(By.CSS_SELECTOR, "table.columns").text
    driver.save_screenshot(str(shots / "check-passed.png"))
    _press(driver, "save")
    _wait(driver, "p.ok", "Created.")
    assert driver.current_url.startswith(url + "/sources/qualifying_event/Purchases")

    # the warehouse parts load into the page: checks, preview table, daily chart
    _wait(driver, "table.columns")
    _wait(driver, "table.preview")
    chart = _wait(driver, "svg.chart")
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect.bar")) == 30
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.preview tbody tr")) == 20
    driver.set_window_size(1280, 2400)
    driver.save_screenshot(str(shots / "source.png"))
    driver.set_window_size(1280, 900)

    # edit, then restore revision 1 after the confirmation
    driver.find_element(By.LINK_TEXT, "Edit").click()
    _fill(
        driver,
        "sql",
        "SELECT user_id, ts, price_usd\nFROM `shoppy-sales.logging.events`\n"
        "WHERE event_name = 'purchase' AND price_usd > 100",
    )
    _press(driver, "save")
    _wait(driver, "p.ok", "Saved.")
    driver.find_element(By.LINK_TEXT, "2").click()
    diff = _wait(driver, "pre.diff")
    assert "+WHERE event_name = 'purchase' AND price_usd > 100" in diff.text
    driver.save_screenshot(str(shots / "revision.png"))
    driver.back()
    _wait(driver, "#history")
    driver.find_element(By.LINK_TEXT, "Restore…").click()
    _wait(driver, "h1", "Restore revision 1 of Purchases?")
    driver.save_screenshot(str(shots / "restore.png"))
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    _wait(driver, "p.ok", "Restored from revision 1.")
    assert "price_usd > 100" not in driver.find_element(By.CSS_SELECTOR, "table.sql").text
    assert "(current)" in driver.find_element(By.CSS_SELECTOR, "#history + .scroll").text

    # the audit log, then sign out: the pages are closed again
    driver.find_element(By.LINK_TEXT, "Audit log").click()
    _wait(driver, "h1", "Audit log")
    assert "Purchases" in driver.page_source
    driver.save_screenshot(str(shots / "audit.png"))
    driver.find_element(By.CSS_SELECTOR, ".signout button").click()
    _wait(driver, "p.ok", "You are signed out.")
    driver.get(url + "/sources/qualifying_event/Purchases")
    _wait(driver, "#key")
    assert driver.current_url.startswith(url + "/sign-in?next=")


def test_phone_width_and_no_script(server, shots: Path):
    from selenium.webdriver.common.by import By

    url, secret = server
    driver = _driver()
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    try:
        # a phone's viewport (a headless window cannot be made this narrow)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
        _sign_in(driver, url, secret)
        assert driver.execute_script("return window.innerWidth") == 390
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the phone: tables scroll in their boxes
        driver.get(url + "/sources/qualifying_event/added_to_cart")
        _wait(driver, "svg.chart")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**phone, "height": 1800})
        driver.save_screenshot(str(shots / "phone.png"))
        # keyboard: the skip link is the first stop and leads to the content
        driver.get(url + "/sources")
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("\ue004")  # Tab
        active = driver.switch_to.active_element
        assert active.text == "Skip to content"
    finally:
        driver.quit()
    # without JavaScript the pages still read, and the warehouse parts are links
    driver = _driver()
    try:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        _sign_in(driver, url, secret)
        driver.get(url + "/sources/qualifying_event/added_to_cart")
        _wait(driver, "h1", "added_to_cart")
        link = driver.find_element(By.LINK_TEXT, "Show sample rows")
        link.click()
        _wait(driver, "table.preview")
        assert "Preview of added_to_cart" in driver.page_source
    finally:
        driver.quit()


def test_the_analyses_in_the_browser(server, browser, shots: Path):
    """On the demo: filter an experiment's exposures by the demo's qualifying event, then a
    power analysis on it; each job's page works, then shows its tables and charts."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, secret = server
    driver = browser
    _sign_in(driver, url, secret)
    driver.get(url + "/sources/qualifying_event/added_to_cart")
    driver.find_element(By.LINK_TEXT, "Filter an experiment's exposures").click()
    Select(_wait(driver, "#a-assignmentSource")).select_by_visible_text("shoppy_exposures")
    driver.find_element(By.ID, "a-experimentID").send_keys("free_shipping_banner")
    driver.find_element(By.ID, "a-windowAmount").send_keys("1")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    _wait(driver, "table.groups")  # the job's page refreshes itself until then
    assert "Bias check:" in driver.page_source
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    driver.set_window_size(1280, 1500)
    driver.save_screenshot(str(shots / "filter-exposures.png"))
    driver.set_window_size(1280, 900)

    driver.get(url + "/sources/qualifying_event/added_to_cart/power")
    Select(_wait(driver, "#a-metricSource")).select_by_visible_text("purchases")
    driver.find_element(By.ID, "a-valueColumn").send_keys("price_usd")
    driver.find_element(By.ID, "a-cupedPreDays").send_keys("7")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    _wait(driver, "table.durations")
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.durations tbody tr")) == 4
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2
    driver.set_window_size(1280, 1500)
    driver.save_screenshot(str(shots / "power.png"))
