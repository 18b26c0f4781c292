"""Takes the README screenshots from a running demo server: python scripts/screenshot.py http://127.0.0.1:8080"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


async def main(url: str) -> None:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = await (await b.new_context(viewport={"width": 1440, "height": 860}, locale="zh-CN")).new_page()
        await page.goto(url + "/login")
        await page.get_by_test_id("login-username").fill("operator")
        await page.get_by_test_id("login-password").fill("Demo@2026")
        await page.get_by_test_id("login-submit").click()
        await page.wait_for_url("**/console**")
        await page.goto(url + "/console/contacts")
        await page.get_by_test_id("contacts-search").fill("zh")
        await page.get_by_test_id("contacts-search").press("Enter")
        await page.wait_for_timeout(1500)
        await page.screenshot(path=str(OUT / "console-contacts.png"))
        await page.goto(url + "/console/events")
        await page.wait_for_timeout(1500)
        await page.screenshot(path=str(OUT / "console-events.png"))
        await page.goto(url + "/console/incidents/1")
        await page.wait_for_timeout(3000)
        await page.screenshot(path=str(OUT / "incident-workspace.png"))
        await page.goto(url + "/console/map")
        await page.wait_for_timeout(3000)
        await page.screenshot(path=str(OUT / "map.png"))
        await page.goto(url + "/console")
        await page.wait_for_timeout(2500)
        await page.screenshot(path=str(OUT / "console-home.png"))
        await b.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))
