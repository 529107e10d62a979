"""The report as a browser shows it: headless Chromium (Debian's ``chromium`` +
``chromium-driver``) through selenium. Skipped, with the reason, where any of them is missing.

``MOLOOD_SCREENSHOT=docs/report.png`` makes the demo-report test save its screenshot there
(how ``docs/report.png``, shown in the README, is made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
    except ImportError as exc:
        pytest.skip(f"selenium is not installed ({exc})")
    if not (BROWSER and os.path.exists(DRIVER)):
        pytest.skip("headless Chromium is not installed (apt-get install chromium "
                    "chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as exc:  # noqa: BLE001 - a browser that does not start is a skip
        pytest.skip(f"headless Chromium did not start: {exc}")
    yield driver
    driver.quit()


def _render(driver, path: Path) -> list[dict]:
    """Open ``path``; return the console messages of level SEVERE (errors)."""
    driver.get_log("browser")  # drop earlier messages
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    return [m for m in driver.get_log("browser") if m.get("level") == "SEVERE"]


def _visible(el) -> bool:
    return el.is_displayed() and el.size["width"] > 0 and el.size["height"] > 0


def _check(driver, path: Path, top_label: str, cards: int, pictures: int) -> None:
    from selenium.webdriver.common.by import By

    assert _render(driver, path) == []
    hist = driver.find_elements(By.CSS_SELECTOR, "figure.histogram svg")
    assert len(hist) == 1 and _visible(hist[0]) and hist[0].size["width"] > 300
    assert len(driver.find_elements(By.CSS_SELECTOR, "article.card")) == cards
    pics = driver.find_elements(By.CSS_SELECTOR, "figure.depiction svg")
    assert len(pics) == pictures
    for el in pics:
        driver.execute_script("arguments[0].scrollIntoView()", el)
        assert _visible(el)
    first = driver.find_element(By.CSS_SELECTOR, "#mol-1 .label")
    assert first.text == top_label
    assert top_label in driver.find_element(By.TAG_NAME, "body").text


def test_small_screen_report_renders(browser, screened, tmp_path):
    from molood.report import build_report

    r = build_report(screened["parquet"], tmp_path / "report.html", top=6)
    _check(browser, tmp_path / "report.html", r.summary.top[0].label, 6, 12)


def test_demo_report_renders(browser, tmp_path):
    """The bundled demo: 2,628 approved drugs, the bundled model; on top, a drug with an
    element FreeSolv lacks (boron: ixazomib)."""
    from molood.report import build_report
    from molood.screening.engine import screen

    repo = Path(__file__).resolve().parents[2]
    screen(repo / "data" / "chembl_approved_drugs.parquet", tmp_path / "drugs.parquet",
           progress=False)
    r = build_report(tmp_path / "drugs.parquet", tmp_path / "report.html", top=12)
    assert r.summary.top[0].name == "IXAZOMIB CITRATE"
    _check(browser, tmp_path / "report.html", r.summary.top[0].label, 12, 24)
    target = os.environ.get("MOLOOD_SCREENSHOT")
    if target:
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(target))
