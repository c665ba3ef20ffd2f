"""Headless Chromium through Selenium (Debian's chromium and chromium-driver), and
the few steps every user of the demo page takes: shared by the browser test and
scripts/reproduce-article."""
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


def find(*names):
    for name in names:
        path = shutil.which(name) or shutil.which(f"/usr/bin/{name}")  # /usr/bin may be off PATH
        if path:
            return path
    raise RuntimeError(f"none of {names} found: run scripts/install-deps test")


def chromium(width=1100, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = find("chromium", "chromium-browser")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-extensions", f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(find("chromedriver")), options=options)


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(lambda d: condition())


def calls(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#calls li")


def message(driver):
    return driver.find_element(By.ID, "message")


def ask(driver, n, algorithm, expected_calls):
    """Types n, picks the algorithm and submits with the keyboard (Enter in the field)."""
    driver.find_element(By.CSS_SELECTOR, f'input[name="algorithm"][value="{algorithm}"]').click()
    field = driver.find_element(By.ID, "n")
    field.clear()
    field.send_keys(str(n), Keys.ENTER)
    wait(driver, lambda: len(calls(driver)) == expected_calls and not driver.find_element(By.ID, "send").get_attribute("disabled"))
    newest = calls(driver)[-1]  # in call order
    return newest.get_attribute("data-cache"), float(newest.get_attribute("data-total-ms")), newest


def evict(driver, n):
    """Types n and presses the evict button; returns the page's message."""
    field = driver.find_element(By.ID, "n")
    field.clear()
    field.send_keys(str(n))
    driver.find_element(By.ID, "evict").click()
    wait(driver, lambda: f"F({n})" in message(driver).text and "cold" in message(driver).text)
    return message(driver).text
