"""The monitor's page in a real browser: Debian's headless Chromium, driven by selenium through Debian's
chromedriver (both named by path: nothing is downloaded, selenium-manager never runs), watching a real run of
the Ville's 25 residents against the fake OpenAI-compatible server: the figures on the page move as the run
goes, at least once a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitor_kit import monitor

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# what headless Chromium needs on a closed network (docs/monitor.md): no sandbox as root, no GPU, and none of
# its background connections, which the network refuses
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver; .ci/run installs them)")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("selenium-manager must not run: it would try to download a driver")

    monkeypatch.setattr(selenium_manager.SeleniumManager, "binary_paths", refuse)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: Any, css: str) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return str(driver.find_element("css selector", css).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def _until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_the_page_follows_a_real_run(tmp_path: Path, browser: Any) -> None:
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServerProcess

    saves = tmp_path / "saves"
    with FakeServerProcess(latency_s=0.2, answers=scripted.answer) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "SMALLVILLE_MODEL": "fake-model"}
        run = subprocess.Popen([sys.executable, "-m", "smallville.cli", "run", "--headless", "--hours", "24",
                                "--speed", "20", "--no-progress", "--save", str(saves / "live")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            status = saves / "live" / "status.json"

            def writing() -> bool:
                assert run.poll() is None, run.communicate()[1]
                try:
                    return json.loads(status.read_text())["process"]["pid"] == run.pid
                except (OSError, ValueError, KeyError):
                    return False
            _until(writing, 120, "the run's first status")
            with monitor(saves) as url:
                browser.get(f"{url}/#run=live")
                clock = "[data-key=game_time] .value"
                first = _until(lambda: _text(browser, clock).strip(" –"), 30, "the game time on the page")
                assert "RUNNING" in _text(browser, "[data-run=live]").upper()
                # the first figures come by a plain fetch; the event stream may connect a moment later
                _until(lambda: "live" in _text(browser, "#conn-text"), 30, "the live event stream")
                updates = int(browser.execute_script("return window.monitorUpdates || 0"))
                later = _until(lambda: (t := _text(browser, clock).strip(" –")) and t != first and t, 20,
                               f"the game time to move on from {first}")
                assert later != first
                time.sleep(3.0)
                more = int(browser.execute_script("return window.monitorUpdates || 0"))
                assert more - updates >= 3, (updates, more)  # at least once a second, and then some
                servers = _text(browser, "[data-key=endpoints]")
                assert "env" in servers and "IN ROTATION" in servers.upper()
                assert _text(browser, "#health")
        finally:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)  # a stop: a checkpoint, then the run ends
                run.communicate(timeout=120)


def test_a_game_shows_its_histogram_and_means(tmp_path: Path, browser: Any) -> None:
    from test_monitor_games import played

    saves = tmp_path / "saves"
    played(saves, rounds=3, seeds=1)
    with monitor(saves) as url:
        browser.get(f"{url}/#run=g")
        columns = "[data-key=histogram] svg rect.col"
        _until(lambda: browser.find_elements("css selector", columns), 30, "the histogram's columns")
        assert "Answers, round 3" in _text(browser, "[data-key=histogram]")
        assert len(browser.find_elements("css selector", "[data-key=histogram] line.mark.mean")) == 1
        assert len(browser.find_elements("css selector", "[data-key=means] path.line")) == 2
        assert "FINISHED" in _text(browser, "[data-run=g]").upper()
        assert _text(browser, "#health")
