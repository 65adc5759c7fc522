"""The docs page (``GET /docs``) in a real headless Chromium against the local cloud: it opens with
no key and loads nothing from elsewhere, takes the key in its Authorize dialog, and a
``POST /classify`` sent from it (Try it out, Execute) is answered with predictions.

Chromium and its driver are Debian's (``make test`` installs them); without them this test fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cloud_user import API_KEY
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.wait import WebDriverWait

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without these, Chromium on a machine with no internet access waits on its own background
# services (updates, sync, QUIC probes) or refuses to run as root.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)
WAIT_SECONDS = 30
# short: the page re-renders on every key typed
TEXT = "wonderful superb film"

CLASSIFY_OPERATION = "//div[contains(@class, 'opblock-post')][.//*[@data-path='/classify']]"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> WebDriver:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: this test needs Debian's chromium and chromium-driver "
            "(`make test` installs them; or `apt-get install chromium chromium-driver` as root)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # the page's network requests, to show that none leaves the local cloud
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def answered_page(browser, local_cloud) -> WebDriver:
    """The docs page after authorizing with the key and executing ``POST /classify`` on it."""
    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.get(f"{local_cloud.api_url}/docs")

    wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, ".auth-wrapper button.authorize"))).click()
    dialog = wait.until(shown.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    dialog.find_element(By.CSS_SELECTOR, ".auth-container input").send_keys(API_KEY)
    dialog.find_element(By.CSS_SELECTOR, "button.modal-btn.authorize").click()
    wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, ".modal-ux button.btn-done"))).click()
    wait.until(shown.invisibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))

    operation = wait.until(shown.presence_of_element_located((By.XPATH, CLASSIFY_OPERATION)))
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()

    def within_operation(selector: str) -> tuple[str, str]:
        return By.CSS_SELECTOR, f"#{operation.get_attribute('id')} {selector}"

    wait.until(shown.element_to_be_clickable(within_operation(".try-out__btn"))).click()
    body = wait.until(shown.visibility_of_element_located(within_operation("textarea.body-param__text")))
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys(json.dumps({"text": TEXT}))
    wait.until(shown.element_to_be_clickable(within_operation("button.execute"))).click()
    wait.until(shown.visibility_of_element_located(within_operation(".live-responses-table")))
    return browser


def live_response(page: WebDriver) -> tuple[str, str]:
    """The status and the body the page shows for the request it sent."""
    operation = page.find_element(By.XPATH, CLASSIFY_OPERATION)
    row = operation.find_element(By.CSS_SELECTOR, ".live-responses-table .response")
    status = row.find_element(By.CSS_SELECTOR, ".response-col_status").text.strip()
    body = row.find_element(By.CSS_SELECTOR, ".response-col_description pre").text
    return status, body


def test_the_page_classifies_a_text_with_the_key_it_was_given(answered_page):
    status, body = live_response(answered_page)

    assert status == "200", body
    assert [prediction["label"] for prediction in json.loads(body)["predictions"]] == ["positive"]


def test_the_page_sent_its_request_to_the_stage_that_served_it_with_the_key(answered_page, local_cloud):
    operation = answered_page.find_element(By.XPATH, CLASSIFY_OPERATION)

    assert operation.find_element(By.CSS_SELECTOR, ".request-url pre").text == f"{local_cloud.api_url}/classify"
    assert f"x-api-key: {API_KEY}" in operation.find_element(By.CSS_SELECTOR, ".curl-command").text


def test_the_page_loads_nothing_from_outside_the_local_cloud(answered_page, local_cloud):
    events = (json.loads(entry["message"])["message"] for entry in answered_page.get_log("performance"))
    requested = {
        event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"
    }
    # chrome://, data: and blob: URLs are the browser's own; anything else would go over the network
    over_the_network = {url for url in requested if urlsplit(url).scheme in ("http", "https", "ws", "wss")}

    assert f"{local_cloud.api_url}/docs" in over_the_network
    assert {url for url in over_the_network if urlsplit(url).netloc != urlsplit(local_cloud.api_url).netloc} == set()


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_the_description_of_the_api_needs_no_key(local_cloud, path):
    assert requests.get(f"{local_cloud.api_url}{path}", timeout=60).status_code == 200


def test_a_call_the_page_makes_still_needs_the_key(local_cloud):
    assert requests.post(f"{local_cloud.api_url}/classify", json={"text": TEXT}, timeout=60).status_code == 403
