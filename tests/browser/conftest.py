"""A real browser on the daemon's pages: Debian's chromium and chromedriver, uvicorn on loopback.

Missing binaries skip these tests locally and fail them when CI=true. Selenium Manager is never
asked for anything: the driver and the browser are named by path, and it is told to stay offline.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from selenium import webdriver

from fdi_drift.metrics import DaemonMetrics
from fdi_drift.server import create_app
from tests.browser.site import daemon_state

REPOSITORY = Path(__file__).resolve().parents[2]
# Where each page's picture goes; CI keeps the folder as a test artefact.
SCREENSHOTS = Path(
    os.environ.get("FDI_DRIFT_SCREENSHOTS", REPOSITORY / "test-artifacts" / "screenshots")
)
DEADLINE = 30.0  # to start the server; a hang fails instead of stalling CI


def _browser_binaries() -> tuple[str, str]:
    """Chromium and chromedriver; missing is a skip locally and a failure in CI."""
    found = [
        shutil.which(name) or next((p for p in candidates if Path(p).exists()), None)
        for name, candidates in (
            ("chromium", ("/usr/bin/chromium",)),
            ("chromedriver", ("/usr/bin/chromedriver",)),
        )
    ]
    if found[0] is None or found[1] is None:
        message = "chromium or chromedriver is not installed (Debian chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found[0], found[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The daemon's app on a free loopback port, serving tests/browser/site.py's state."""
    state = daemon_state(tmp_path_factory.mktemp("site"))
    app = create_app(state, DaemonMetrics(CollectorRegistry(), version="browser-test"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started, "the server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(DEADLINE)
        listener.close()
        assert state.history is not None
        state.history.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium session for a module's tests."""
    chromium, chromedriver = _browser_binaries()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            "--no-first-run",
            "--disable-extensions",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-sync",
            "--mute-audio",
        ):
            options.add_argument(argument)
        service = webdriver.ChromeService(executable_path=chromedriver)
        driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshot(browser: Any) -> Callable[[str], Path]:
    """Saves the whole current page as SCREENSHOTS/NAME.png."""

    def save(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, max(1000, min(int(height) + 100, 8000)))
        browser.execute_script("window.scrollTo(0, 0)")
        path = SCREENSHOTS / f"{name}.png"
        assert browser.save_screenshot(str(path)), path
        browser.set_window_size(1400, 1000)
        return path

    return save


def _wait_for(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
