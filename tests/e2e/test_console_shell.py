"""The operator's first minutes: log in, find a colleague by pinyin initials, see a live event, log out."""

from __future__ import annotations

import json
import urllib.request

from playwright.async_api import Browser, expect

from tests.conftest import DEMO_PASSWORD
from tests.peers.server import ServerProcess
from tests.system.test_process import call, login


def _first_unit(url: str, token: str) -> int:
    req = urllib.request.Request(url + "/api/v1/org/units", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())[0]["id"]


async def test_login_pinyin_search_live_event_logout(server: ServerProcess, browser: Browser) -> None:
    admin = login(server.url, "admin")
    status, person = call(server.url + "/api/v1/people", "POST",
                          {"name": "邹思远", "unit_id": _first_unit(server.url, admin), "position": "应急值守",
                           "mobile": "13912340001"}, admin)
    assert status == 201, person

    ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await ctx.new_page()
    await page.goto(server.url + "/login")
    await page.get_by_test_id("login-username").fill("operator")
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url("**/console**")

    # Contacts: "zsy" are the initials of 邹思远 (zou si yuan).
    await page.goto(server.url + "/console/contacts")
    await page.get_by_test_id("contacts-search").fill("zsy")
    await page.get_by_test_id("contacts-search").press("Enter")
    row = page.locator(f'[data-testid="person-row"][data-person-id="{person["id"]}"]')
    await expect(row).to_be_visible(timeout=10_000)
    await expect(row).to_contain_text("邹思远")
    # The operator may see the full number.
    await expect(row).to_contain_text("13912340001")

    # Live feed: an announcement posted by someone else appears without a reload.
    await page.goto(server.url + "/console/events")
    await expect(page.get_by_test_id("realtime-status")).to_have_attribute("data-state", "connected",
                                                                          timeout=10_000)
    commander = login(server.url, "commander")
    status, posted = call(server.url + "/api/v1/bulletins", "POST", {"text": "江北区化工园区氨气泄漏演练开始"},
                          commander)
    assert status == 201
    item = page.locator(f'[data-testid="event-item"][data-event-id="{posted["id"]}"]')
    await expect(item).to_be_visible(timeout=10_000)
    await expect(item).to_contain_text("江北区化工园区氨气泄漏演练开始")
    await page.screenshot(path=str(server.var_dir / "console-events.png"))

    # Log out: back to the login page, and the console is no longer reachable.
    await page.get_by_test_id("user-menu").click()
    await page.get_by_test_id("logout").click()
    await page.wait_for_url("**/login**")
    await page.goto(server.url + "/console/contacts")
    await page.wait_for_url("**/login**")
    await ctx.close()


async def test_field_user_lands_on_mobile_layout(server: ServerProcess, browser: Browser) -> None:
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = await ctx.new_page()
    await page.goto(server.url + "/login")
    await page.get_by_test_id("login-username").fill("field")
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url("**/m**")
    await expect(page.get_by_test_id("mobile-tab-contacts")).to_be_visible()
    await ctx.close()


async def test_default_chinese_and_english_switch(server: ServerProcess, browser: Browser) -> None:
    ctx = await browser.new_context(locale="en-US")  # the browser's language does not override zh-CN
    page = await ctx.new_page()
    await page.goto(server.url + "/login")
    switch = page.get_by_test_id("lang-switch")
    await expect(switch).to_have_attribute("data-lang", "zh-CN")
    await page.get_by_test_id("login-username").fill("operator")
    await page.get_by_test_id("login-password").fill("wrong-password-1")
    await page.get_by_test_id("login-submit").click()
    err = page.get_by_test_id("login-error")
    await expect(err).to_have_attribute("data-code", "invalid_credentials")
    await expect(err).to_contain_text("用户名或密码错误")
    await switch.click()
    await expect(switch).to_have_attribute("data-lang", "en")
    await page.get_by_test_id("login-submit").click()
    await expect(err).to_contain_text("Wrong username or password")
    # The choice is remembered across a reload.
    await page.reload()
    await expect(page.get_by_test_id("lang-switch")).to_have_attribute("data-lang", "en")
    await ctx.close()
