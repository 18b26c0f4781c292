"""Browser tests: the built console in Debian's Chromium, driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.peers.server import ROOT, ServerProcess

CHROMIUM = os.environ.get("ECS_CHROMIUM", "/usr/bin/chromium")
DIST = ROOT / "web_console" / "dist" / "index.html"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (make test installs it as root)"))
            elif not DIST.exists():
                item.add_marker(pytest.mark.skip(reason="web console not built (make test builds it)"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("e2e") / "var", env={"ECS_SEED_DEMO_CITY": "true"}).start()
    yield srv
    srv.stop()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        try:
            yield b
        finally:
            await b.close()
