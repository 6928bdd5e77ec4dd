"""A real browser (Debian's chromium, headless, driven by Selenium through chromium-driver) logs in to
the Airflow UI of `airflow standalone`, opens warwatch_crawl, fills the trigger form with one source
from the multi-select, submits, and sees the run succeed. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexing.sources import load_sources
from tests.conftest import service_missing
from tests.dags.conftest import Standalone, call

CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        service_missing("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        service_missing(f"selenium is not installed: {exc}")
        raise
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: Any, timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(condition)


def _shot(driver: Any, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    driver.save_screenshot(str(path))
    (out / f"{name}.html").write_text(driver.page_source, encoding="utf-8")
    return path


def _login(driver: Any, standalone: Standalone) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{standalone.base}/")
    user = _wait(driver, ec.presence_of_element_located((By.NAME, "username")))
    user.send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(standalone.password() + Keys.ENTER)
    # Logged in: the login form is gone and the navigation (a link to the Dags list) is there.
    _wait(driver, lambda d: not d.find_elements(By.NAME, "password")
          and d.find_elements(By.XPATH, "//a[contains(@href, 'dags')]"))


def _trigger_with_source(driver: Any, standalone: Standalone, source_id: str, out: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{standalone.base}/dags/warwatch_crawl")
    trigger = _wait(driver, ec.element_to_be_clickable(
        (By.XPATH, "//button[normalize-space(.)='Trigger' or @aria-label='Trigger Dag']")))
    trigger.click()
    dialog = _wait(driver, ec.visibility_of_element_located(
        (By.XPATH, "//*[@data-scope='dialog' and @data-part='content'][.//*[contains(., 'warwatch_crawl')]]")))
    # The sources multi-select (react-select, id element_sources): type the id, pick it.
    select = _wait(driver, ec.presence_of_element_located((By.ID, "element_sources")))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", select)
    field = select.find_element(By.XPATH, ".//input[@role='combobox']")
    driver.execute_script("arguments[0].focus()", field)
    field.send_keys(source_id)
    _wait(driver, ec.presence_of_element_located((By.XPATH, f"//*[@role='option' and normalize-space(.)='{source_id}']")))
    field.send_keys(Keys.ENTER)
    _wait(driver, lambda d: source_id in select.text)
    _shot(driver, out, "2-trigger-form-filled")
    submit = dialog.find_element(By.XPATH, ".//button[normalize-space(.)='Trigger' and not(@disabled)]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    submit.click()


@pytest.mark.slow
def test_trigger_form_in_a_real_browser(standalone: Standalone, browser: Any, tmp_path: Path) -> None:
    from warwatch.pipeline.common import safe_id

    data_dir, demo_sources = standalone.data_dir, standalone.sources
    out = tmp_path / "screenshots"
    token = standalone.token()
    standalone.wait_for_dag("warwatch_crawl", token)  # the form's "Unpause on trigger" (on by default) unpauses it
    chosen = load_sources(demo_sources)[-1].id
    try:
        _login(browser, standalone)
        _shot(browser, out, "1-logged-in")
        _trigger_with_source(browser, standalone, chosen, out)
        # The run the form created: manual, with exactly the chosen source in its conf.
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            runs = call("GET", f"{standalone.base}/api/v2/dags/warwatch_crawl/dagRuns", token=token)["dag_runs"]
            run_id = next((r["dag_run_id"] for r in runs
                           if r["run_type"] == "manual" and (r.get("conf") or {}).get("sources") == [chosen]), None)
            time.sleep(1)
        assert run_id, "the trigger form created no run with the chosen source"
        state = standalone.wait_for_run("warwatch_crawl", run_id, token, timeout=600)
        browser.get(f"{standalone.base}/dags/warwatch_crawl/runs/{run_id}")
        _wait(browser, lambda d: "success" in d.page_source.lower())
        shot = _shot(browser, out, "3-run-succeeded")
    except Exception:
        _shot(browser, out, "failure")
        raise
    assert state == "success"
    assert shot.stat().st_size > 10_000
    # Its own batch (the standalone is shared: scheduled crawls of every source write batches too).
    batches = [d.name for d in (data_dir / "runs").iterdir()]
    assert safe_id(f"{safe_id(run_id, 80)}-{chosen}-t1") in batches, (run_id, batches)
