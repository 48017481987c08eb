"""The status pages in a real browser: what a person sees, clicks and cannot be attacked with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from fdi_drift.status_views import compact, resource_path
from tests.browser.site import (
    BILLING,
    DRS,
    HOSTILE_ERROR,
    HOSTILE_PROBLEM,
    HOSTILE_REASON,
    HOSTILE_REVISION,
    HOSTILE_USER,
    HOSTILE_VALUE,
    LONG_COLUMNS,
    NODES,
    ORDERS,
    OTHER_PROJECT,
    PUT_LINE,
    SECRET_BODY,
    STRAY,
)

pytestmark = pytest.mark.browser
NAVIGATION_SECONDS = 10.0


def follow(browser: Any, element: Any) -> None:
    """Click something that loads a page, and wait until the new one is there.

    A new page has a new window object, so a mark left on the old one is gone; asking that of
    the window, not of an element of the old page, avoids chromedriver's answers about nodes
    of a document it has just dropped (an "inspector error" rather than a stale element).
    """
    browser.execute_script("window.__leaving = true")
    element.click()
    WebDriverWait(
        browser, NAVIGATION_SECONDS, poll_frequency=0.02, ignored_exceptions=(WebDriverException,)
    ).until(
        lambda driver: driver.execute_script(
            "return window.__leaving === undefined && document.readyState === 'complete'"
        )
    )


# Read in one script each: a WebDriver call per element costs tens of milliseconds.
def texts(browser: Any, selector: str) -> list[str]:
    """The rendered text of each element `selector` finds."""
    found: list[str] = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())",
        selector,
    )
    return found


_ROW = """
const row = Array.from(document.querySelectorAll("table.resources tr.resource"))
    .find(r => r.querySelector("td.name").innerText.trim() === arguments[0]);
"""


def resource_names(browser: Any) -> list[str]:
    return texts(browser, "table.resources tr.resource td.name")


def changes_of(browser: Any, name: str) -> dict[str, tuple[str, str]]:
    """Each changed field of the overview's row `name`: pointer -> (live, desired) as shown."""
    lines = browser.execute_script(
        _ROW
        + """
        const cells = ["td.pointer", "td.live", "td.desired"];
        return Array.from(
            row.nextElementSibling.querySelectorAll("table.changes tbody tr"),
            line => cells.map(c => line.querySelector(c).innerText.trim()));
        """,
        name,
    )
    return {pointer: (live, desired) for pointer, live, desired in lines}


def cell(browser: Any, name: str, column: str) -> str:
    """The text of one column of the overview's row `name`."""
    shown: str = browser.execute_script(
        _ROW + "return row.querySelector(`td.${arguments[1]}`).innerText.trim();", name, column
    )
    return shown


def assert_nothing_injected(browser: Any) -> None:
    """No element and no script came from the data: no image, no script, no alert."""
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.find_elements(By.TAG_NAME, "script") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - asking is the check


def test_overview_shows_values_side_by_side_with_drift_age_and_author(
    site: str, browser: Any, screenshot: Callable[[str], Path]
) -> None:
    """Each changed field shows live beside desired; ages and who changed it are spelled out."""
    browser.get(f"{site}/?refresh=0")

    orders = changes_of(browser, ORDERS.name)
    assert orders["/task/description"] == (f'"{HOSTILE_VALUE}"', '"Orders into reporting"')
    assert orders["/task_detail/sourceSelectedDatasource/bodyRaw/pageSize"] == ('"500"', '"10"')
    assert orders["/task/task_tag"] == ("(absent)", '"nightly"')
    live, desired = orders["/task_detail/targetSelectedDatasource/columns"]
    assert live.endswith("…") and desired.endswith("…")
    assert len(live) < len(compact(LONG_COLUMNS[:2]))
    details = browser.find_element(By.CSS_SELECTOR, "td.desired details")
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.find_element(By.TAG_NAME, "pre").text == compact(LONG_COLUMNS)

    assert cell(browser, ORDERS.name, "drift-age") == "30 min"
    assert cell(browser, ORDERS.name, "who") == "alice from 10.1.2.3 at 2025-06-15T14:35:00Z"
    # The history's episode, not the report's older drift_since, dates BILLING's drift.
    assert cell(browser, BILLING.name, "drift-age") == "5 min"
    assert cell(browser, BILLING.name, "who") == "pending"
    assert texts(browser, "section.cycle .age") == ["42 s ago"]
    assert "2025-06-15T15:05:58Z" in texts(browser, "section.cycle time")
    assert texts(browser, "tr.total td.count-drifted") == ["2"]
    screenshot("overview")


def test_hostile_text_is_shown_as_text_and_never_runs(site: str, browser: Any) -> None:
    """Markup in values, problems, user names, reasons and the revision stays text."""
    browser.get(f"{site}/?refresh=0")
    shown = browser.find_element(By.TAG_NAME, "main").text
    for hostile in (HOSTILE_REVISION, HOSTILE_PROBLEM, HOSTILE_ERROR, HOSTILE_VALUE):
        assert hostile in shown
    assert texts(browser, "ul.problems li") == [HOSTILE_PROBLEM]
    # The reason has a cell of its own: no field pointer is run into it.
    assert cell(browser, NODES.name, "reason") == HOSTILE_REASON
    assert cell(browser, NODES.name, "who").startswith(HOSTILE_USER)
    assert_nothing_injected(browser)

    browser.get(f"{site}/resources/{resource_path(NODES)}")
    assert HOSTILE_USER in texts(browser, "dd.who")[0]
    assert texts(browser, "dd.reason") == [HOSTILE_REASON]
    assert_nothing_injected(browser)

    browser.get(f"{site}/history")
    assert HOSTILE_USER in browser.find_element(By.TAG_NAME, "main").text
    assert_nothing_injected(browser)


def test_the_filter_form_and_links_narrow_the_rows(site: str, browser: Any) -> None:
    """Filters are a plain form: the status and project lists, the count links, clear."""
    browser.get(f"{site}/?refresh=0")
    every = resource_names(browser)
    assert len(every) == 5 and STRAY.name not in every  # unmanaged only when asked for

    Select(browser.find_element(By.NAME, "status")).select_by_value("in_sync")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert resource_names(browser) == [DRS.name]
    assert "refresh=0" in browser.current_url  # the reader's choice survives filtering

    Select(browser.find_element(By.NAME, "status")).select_by_value("")
    Select(browser.find_element(By.NAME, "project")).select_by_value(OTHER_PROJECT)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert resource_names(browser) == [BILLING.name]

    follow(browser, browser.find_element(By.LINK_TEXT, "clear"))
    follow(browser, browser.find_element(By.LINK_TEXT, "unmanaged"))
    assert resource_names(browser) == [STRAY.name]

    # A name with "/", "%", "~", "#", "?" and a non-ASCII letter survives the round trip.
    follow(browser, browser.find_element(By.LINK_TEXT, STRAY.name))
    assert texts(browser, "h1 .name") == [STRAY.name]
    assert texts(browser, "span.status") == ["unmanaged"]


def test_resource_page_shows_timeline_writes_and_plan(
    site: str, browser: Any, screenshot: Callable[[str], Path]
) -> None:
    """A resource's page: its desired file, episodes newest first, its writes, its plan."""
    browser.get(f"{site}/?refresh=0")
    follow(browser, browser.find_element(By.LINK_TEXT, ORDERS.name))

    assert texts(browser, "h1") == [f"FdiTask {ORDERS.name}"]
    assert texts(browser, "code.desired-file") == ["/srv/desired/orders-mysql-to-mysql.yaml"]
    assert "will be updated in place" in texts(browser, "pre.plan-text")[0]
    opened = texts(browser, "table.episodes td.opened")
    assert opened == ["2025-06-15T14:36:40Z", "2025-06-15T09:33:20Z"]
    assert texts(browser, "table.episodes td.closed") == ["open", "2025-06-15T12:20:00Z"]
    assert texts(browser, "table.episodes td.resolution") == ["", "reverted"]
    assert texts(browser, "table.episodes td.duration") == ["30 min", "2 h 46 min"]
    assert texts(browser, "table.writes td.requests") == [PUT_LINE, PUT_LINE]
    assert texts(browser, "table.writes td.result") == ["no outcome recorded", "applied"]
    assert SECRET_BODY not in browser.page_source
    screenshot("resource")

    browser.get(f"{site}/resources/{resource_path(NODES)}")
    assert texts(browser, "section.plan p") == [
        "plan unavailable: GET tasks: HTTP 503 (request id r-503)"
    ]
    assert texts(browser, "table.writes td") == ["No writes recorded."]

    browser.get(f"{site}/resources/FdiTask/{ORDERS.project_id}/-/no-such-task")
    assert texts(browser, "h1") == ["Not found"]


def test_history_page_lists_episodes_and_filters_them(
    site: str, browser: Any, screenshot: Callable[[str], Path]
) -> None:
    """Episodes newest first, with resolutions and authors; spell and since narrow them."""
    browser.get(f"{site}/history")
    opened = texts(browser, "table.episodes td.opened")
    assert len(opened) == 7 and opened == sorted(opened, reverse=True)
    assert "reverted" in texts(browser, "table.episodes td.resolution")
    assert "alice from 10.1.2.3 at 2025-06-15T14:35:00Z" in texts(browser, "td.who")
    screenshot("history")

    Select(browser.find_element(By.NAME, "spell")).select_by_value("blocked")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    assert texts(browser, "table.episodes td.resource") == [f"FdiTask {NODES.name}"]

    browser.get(f"{site}/history")
    browser.find_element(By.NAME, "since").send_keys("1h")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
    # Open episodes and those that ended within the hour; the two that ended earlier are gone.
    assert texts(browser, "table.episodes td.closed") == ["open"] * 5


def test_auto_refresh_is_on_by_default_and_can_be_turned_off(site: str, browser: Any) -> None:
    """A person reading can stop the page reloading under them, and start it again."""
    browser.get(site)
    refresh = browser.find_elements(By.CSS_SELECTOR, "meta[http-equiv=refresh]")
    assert [r.get_attribute("content") for r in refresh] == ["30"]

    follow(browser, browser.find_element(By.LINK_TEXT, "Stop refreshing"))
    assert browser.find_elements(By.CSS_SELECTOR, "meta[http-equiv=refresh]") == []
    assert "refresh=0" in browser.current_url
