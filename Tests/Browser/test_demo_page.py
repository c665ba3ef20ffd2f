"""The demo page in a real headless Chromium, against real nginx -> fibcache -> Redis."""
import os
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser import ask, calls, chromium, message, wait
from stack import fibonacci

ARTIFACTS = Path(os.environ.get("FIBCACHE_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture
def page(make_stack):
    """The demo page as the operations server serves it (a unix socket for fibcache-ops in production):
    the whole story, eviction included."""
    stack = make_stack()
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{stack.ops_port}/")
        yield stack, driver
    finally:
        driver.quit()


def test_the_public_page_reads_and_says_why_it_cannot_evict(page):
    stack, driver = page
    driver.get(f"http://127.0.0.1:{stack.http_port}/")
    assert ask(driver, 30, "fast", 1)[0] == "MISS"
    driver.find_element(By.ID, "evict").click()
    wait(driver, lambda: "operations listener" in message(driver).text)
    assert "405" in message(driver).text and "error" in message(driver).get_attribute("class")
    assert ask(driver, 30, "fast", 2)[0] == "HIT", "nothing was evicted"


def test_cold_warm_evict_and_errors(page):
    stack, driver = page
    assert driver.title.startswith("fibcache")
    # Every control is labelled.
    assert driver.find_element(By.CSS_SELECTOR, 'label[for="n"]').text == "n"
    assert driver.find_element(By.ID, "evict").text.startswith("Evict")

    cold_cache, cold_ms, cold = ask(driver, 32, "recursive", 1)
    assert cold_cache == "MISS"
    assert "#1 F(32) recursive" in cold.text and "MISS" in cold.text and "compute" in cold.text
    assert "2178309" in cold.text, "F(32), shown in full: it is short"
    warm_cache, warm_ms, warm = ask(driver, 32, "recursive", 2)
    assert warm_cache == "HIT"
    assert warm_ms < cold_ms, f"warm {warm_ms} ms is not faster than cold {cold_ms} ms"
    # The bars: one per call, the cold one longer.
    bars = driver.find_elements(By.CSS_SELECTOR, "#calls .bar")
    assert len(bars) == 2 and bars[0].size["width"] > bars[1].size["width"]

    # Evict with the keyboard: focus the button, press space.
    evict = driver.find_element(By.ID, "evict")
    evict.send_keys(Keys.SPACE)
    wait(driver, lambda: "Evicted F(32)" in message(driver).text)
    assert stack.redis.cli("exists", "fibonacci_32") == "0"
    assert ask(driver, 32, "recursive", 3)[0] == "MISS", "cold again after eviction"

    # A long value: abbreviated with its digit count, expandable.
    _, _, long_call = ask(driver, 1000, "fast", 4)
    summary = long_call.find_element(By.TAG_NAME, "summary")
    assert "(209 digits)" in summary.text
    summary.click()
    digits = long_call.find_element(By.CSS_SELECTOR, "pre.digits").text.replace("\n", "")
    assert digits == str(fibonacci(1000)) and len(digits) == 209

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "demo-page.png"))

    # A bad n: the API's own message, readable.
    field = driver.find_element(By.ID, "n")
    field.clear()
    field.send_keys("5000000", Keys.ENTER)
    wait(driver, lambda: "n must be at most 1000000" in message(driver).text)
    assert "error" in message(driver).get_attribute("class")
    assert "400" in message(driver).text
    # The recursive algorithm's limit, also from the API.
    driver.find_element(By.CSS_SELECTOR, 'input[value="recursive"]').click()
    field.clear()
    field.send_keys("60", Keys.ENTER)
    wait(driver, lambda: "recursive algorithm is limited" in message(driver).text)
    # Not a number at all: caught in the page.
    field.clear()
    field.send_keys("abc", Keys.ENTER)
    wait(driver, lambda: "whole number" in message(driver).text)
    assert len(calls(driver)) == 4, "failed calls add no bar"

    # fibcache gone: nginx answers 502, the page says so.
    stack.fibcache.terminate()
    stack.fibcache.wait(10)
    field.clear()
    field.send_keys("7", Keys.ENTER)
    wait(driver, lambda: "502" in message(driver).text)
    assert "Is fibcache running?" in message(driver).text

    # nginx gone too: a network error, not a silent failure.
    stack.stop()
    field.clear()
    field.send_keys("8", Keys.ENTER)
    wait(driver, lambda: "Network error" in message(driver).text)


def test_phone_width_has_no_horizontal_scrolling(make_stack):
    stack = make_stack()
    driver = chromium()
    try:
        # A phone's viewport (a desktop window cannot be made this narrow).
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
        driver.get(f"http://127.0.0.1:{stack.http_port}/")
        assert driver.execute_script("return window.innerWidth") == 360
        ask(driver, 1000, "fast", 1)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the screen"
        send = driver.find_element(By.ID, "send")
        assert send.size["height"] >= 40, "a comfortable touch target"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "demo-page-phone.png"))
    finally:
        driver.quit()


def test_a_browser_coming_back_to_an_answer_takes_it_from_its_cache(page):
    """Issue 17: an answer is public and immutable for a year, so a browser that opened it
    shows it again without a request (nginx logs none); the demo page itself bypasses its cache."""
    stack, driver = page
    url = f"http://127.0.0.1:{stack.http_port}/api/fibonacci/number/44/"
    access_log = stack.dir / "nginx-access.log"

    def requests_for_it():
        return sum("GET /api/fibonacci/number/44/" in line for line in access_log.read_text().splitlines())

    driver.get(url)
    assert '"fibonacci": 701408733' in driver.find_element(By.TAG_NAME, "body").text
    wait(driver, lambda: requests_for_it() == 1)
    driver.get(f"http://127.0.0.1:{stack.http_port}/")
    driver.get(url)
    assert '"fibonacci": 701408733' in driver.find_element(By.TAG_NAME, "body").text
    # The demo page asks for the same n with its cache bypassed: that call reaches fibcache.
    driver.get(f"http://127.0.0.1:{stack.http_port}/")
    assert ask(driver, 44, "fast", 1)[0] == "HIT"
    wait(driver, lambda: requests_for_it() == 2)
    time.sleep(0.5)  # and nothing else arrives late: the second visit was the browser's copy
    assert requests_for_it() == 2


def test_the_page_works_under_its_content_security_policy(page):
    """Issue 23: the site's CSP (its own script and style only, no inline ones) leaves every
    button working, with no violation reported; an inline script is refused, so it is enforced."""
    stack, driver = page
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")})
    driver.get(f"http://127.0.0.1:{stack.ops_port}/")
    violations = lambda: driver.execute_script("return window.cspViolations")
    assert ask(driver, 31, "fast", 1)[0] == "MISS"
    assert ask(driver, 31, "fast", 2)[0] == "HIT"
    driver.find_element(By.ID, "evict").click()
    wait(driver, lambda: "Evicted F(31)" in message(driver).text)
    bars = driver.find_elements(By.CSS_SELECTOR, "#calls .bar")
    assert bars[0].size["width"] > 0, "the bars' widths, set from the script"
    assert driver.find_element(By.ID, "send").value_of_css_property("min-height") == "44px", "style.css applied"
    driver.find_element(By.ID, "clear").click()
    wait(driver, lambda: len(calls(driver)) == 0)
    assert violations() == []
    # Enforced: an inline script is not run, and reported.
    driver.execute_script("const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1';"
                          "document.head.append(s);")
    wait(driver, lambda: violations() != [])
    assert driver.execute_script("return window.inlineRan") is None
    assert violations()[0].startswith("script-src")
