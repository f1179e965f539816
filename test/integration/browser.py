# A real browser for the console and widget tests: Debian's headless Chromium driven by chromedriver through
# python3-selenium, a screenshot of each page under $BUILDDIR/screenshots, and the page's console errors.
import os
import shutil

from checks import SkipTest
from paths import BUILD

SCREENSHOTS = BUILD / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser(width=1280, height=900):
    """A new headless Chromium (the caller quits it: use it as a context manager). Skips when Chromium,
    chromedriver or selenium is missing (make deps installs them)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise SkipTest("python3-selenium is not installed (make deps)")
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(p) and not shutil.which(os.path.basename(p)):
            raise SkipTest(f"{p} is not installed (make deps)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={width},{height}", "--lang=en-US", "--disable-extensions",
              "--no-first-run", "--password-store=basic"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def screenshot(driver, name):
    """Saves the current page as $BUILDDIR/screenshots/NAME.png and returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver):
    """The page's JavaScript errors and failed loads so far (SEVERE entries of the browser log)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait_for(driver, condition, timeout=15, what="the page"):
    """Waits until condition(driver) is true; fails naming what was awaited, with the page's errors."""
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    try:
        # an element found by one poll may be re-rendered before it is read: that poll counts as not yet
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        raise AssertionError(f"waited {timeout} s for {what}; browser errors: {console_errors(driver)}")
