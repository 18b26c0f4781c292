"""The video wall (COM-3) in a real browser: Chromium decodes WebRTC from the in-process media gateway, which
pulls a real RTSP server (GStreamer, ``tests/peers/rtsp_server.py``).

Four cameras on a 4-picture wall all decode frames (``getStats`` ``framesDecoded`` grows, surfaced as each
cell's ``data-frames``); a snapshot downloads a JPEG of the camera's resolution; stopping the RTSP server shows
every cell offline within the stall timeout and the console receives the ``camera.offline`` events; starting it
again brings every cell back to live without any click. Cameras are also placed by click and by drag.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from command_server.cameras.service import jpeg_size
from tests.conftest import DEMO_PASSWORD
from tests.peers import rtsp_server as peer
from tests.peers.server import ServerProcess
from tests.system.test_process import login

try:
    importlib.import_module("media_gateway.gateway")
    _NO_GATEWAY = ""
except Exception as exc:  # another module's work; this test waits for it
    _NO_GATEWAY = f"media_gateway is not importable: {exc}"

pytestmark = [
    pytest.mark.skipif(bool(_NO_GATEWAY), reason=_NO_GATEWAY or "-"),
    pytest.mark.skipif(not _NO_GATEWAY and not peer.gst_available(),
                       reason="no GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) or no ffmpeg"),
]

STALL_S = 3.0
MOUNTS = ("cam1", "cam2", "cam3", "cam4")
WIDTH, HEIGHT = 640, 360


def api(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peer.RtspServer]:
    srv = peer.RtspServer(tmp_path_factory.mktemp("rtsp"), mounts={m: peer.clip("360p") for m in MOUNTS},
                          credentials=("admin", "wall-secret")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory, rtsp: peer.RtspServer) -> Iterator[ServerProcess]:
    """The product with quick stall detection and four cameras on the RTSP peer (no demo city: only these)."""
    srv = ServerProcess(tmp_path_factory.mktemp("video") / "var", env={
        "ECS_SEED_DEMO_CITY": "false", "ECS_MEDIA_STALL_TIMEOUT_S": str(STALL_S),
        "ECS_MEDIA_HEALTH_INTERVAL_S": "0", "ECS_MEDIA_IDLE_TIMEOUT_S": "20"}).start()
    token = login(srv.url, "admin")
    for i, m in enumerate(MOUNTS, start=1):
        api(srv.url + "/api/v1/cameras", token, "POST", {
            "name": f"测试摄像机{i}", "kind": "fixed", "url": rtsp.url(m), "lon": 121.5 + i / 100, "lat": 31.0})
    yield srv
    srv.stop()


async def open_console(browser: Browser, server: ServerProcess, path: str, ready: str = "video-wall") -> Page:
    ctx = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN", accept_downloads=True)
    page = await ctx.new_page()
    await page.goto(server.url + "/login")
    await page.get_by_test_id("login-username").fill("operator")
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url("**/console**")
    await page.goto(server.url + path)
    await expect(page.get_by_test_id(ready)).to_be_visible(timeout=20_000)
    return page


async def frames(page: Page, i: int) -> int:
    return int(await page.get_by_test_id(f"wall-cell-{i}").get_attribute("data-frames") or 0)


async def all_decoding(page: Page, n: int, within_s: float = 10.0) -> None:
    """Every cell's framesDecoded grows (not just one frame once)."""
    before = [await frames(page, i) for i in range(n)]
    deadline = time.monotonic() + within_s
    while True:
        now = [await frames(page, i) for i in range(n)]
        if all(b > a + 10 for a, b in zip(before, now, strict=True)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"frames decoded did not grow in every cell: {before} → {now}")
        await asyncio.sleep(0.5)


async def test_wall_of_four_decodes_snapshots_and_follows_the_camera(
        media_server: ServerProcess, rtsp: peer.RtspServer, browser: Browser, tmp_path: Path) -> None:
    token = login(media_server.url, "operator")
    cams = api(media_server.url + "/api/v1/cameras", token)["items"]
    ids = sorted(c["id"] for c in cams)
    assert len(ids) == 4
    page = await open_console(browser, media_server, f"/console/video?cameras={','.join(map(str, ids))}&layout=4")
    wall = page.get_by_test_id("video-wall")
    await expect(wall).to_have_attribute("data-layout", "4")
    for i, cid in enumerate(ids):
        cell = page.get_by_test_id(f"wall-cell-{i}")
        await expect(cell).to_have_attribute("data-camera-id", str(cid))
        await expect(cell).to_have_attribute("data-state", "live", timeout=30_000)
    await all_decoding(page, 4)
    # the device tree shows them online
    for cid in ids:
        await expect(page.get_by_test_id(f"device-node-{cid}")).to_have_attribute("data-status", "online",
                                                                                  timeout=10_000)

    # snapshot: a JPEG of the camera's resolution, downloaded by the browser
    cell = page.get_by_test_id("wall-cell-0")
    await cell.hover()
    async with page.expect_download(timeout=20_000) as dl_info:
        await page.get_by_test_id("cell-snapshot-0").click()
    dl = await dl_info.value
    saved = tmp_path / (dl.suggested_filename or "snap.jpg")
    await dl.save_as(saved)
    data = saved.read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and saved.suffix == ".jpg"
    assert jpeg_size(data) == (WIDTH, HEIGHT)
    assert "测试摄像机" in dl.suggested_filename

    # the camera goes away: every cell shows offline within the stall timeout, and the events arrive
    feed_before = await page.get_by_test_id("video-status-item").count()
    stopped = time.monotonic()
    await asyncio.to_thread(rtsp.stop)
    try:
        for i in range(4):
            await expect(page.get_by_test_id(f"wall-cell-{i}")).to_have_attribute(
                "data-state", "offline", timeout=int((STALL_S + 7) * 1000))
        assert time.monotonic() - stopped < STALL_S + 7
        for cid in ids:
            await expect(page.locator(f'[data-testid="video-status-item"][data-camera-id="{cid}"]'
                                      f'[data-status="offline"]').first).to_be_visible(timeout=5_000)
            await expect(page.get_by_test_id(f"device-node-{cid}")).to_have_attribute("data-status", "offline")
        assert await page.get_by_test_id("video-status-item").count() > feed_before
        await expect(page.get_by_test_id("cell-state-0")).to_be_visible()
    finally:
        await asyncio.to_thread(rtsp.start)

    # …and comes back: live again without anyone clicking
    for i in range(4):
        await expect(page.get_by_test_id(f"wall-cell-{i}")).to_have_attribute("data-state", "live", timeout=40_000)
    await all_decoding(page, 4)
    for cid in ids:
        await expect(page.locator(f'[data-testid="video-status-item"][data-camera-id="{cid}"]'
                                  f'[data-status="online"]').first).to_be_visible(timeout=5_000)
    await page.context.close()


async def test_place_by_click_and_drag_layouts_and_saved_layout(media_server: ServerProcess, browser: Browser
                                                                ) -> None:
    token = login(media_server.url, "operator")
    ids = sorted(c["id"] for c in api(media_server.url + "/api/v1/cameras", token)["items"])
    page = await open_console(browser, media_server, "/console/video")
    await page.get_by_test_id("wall-layout-1+5").click()
    wall = page.get_by_test_id("video-wall")
    await expect(wall).to_have_attribute("data-layout", "1+5")
    await expect(wall).to_have_attribute("data-cells", "6")
    # click-to-place: select a cell, click a camera in the tree
    await page.get_by_test_id("wall-cell-2").click()
    await page.get_by_test_id(f"device-node-{ids[1]}").click()
    await expect(page.get_by_test_id("wall-cell-2")).to_have_attribute("data-camera-id", str(ids[1]))
    # the selection moved on to the next empty cell
    await page.get_by_test_id(f"device-node-{ids[2]}").click()
    await expect(page.get_by_test_id("wall-cell-3")).to_have_attribute("data-camera-id", str(ids[2]))
    # drag from the tree into the main picture
    await page.get_by_test_id(f"device-node-{ids[0]}").drag_to(page.get_by_test_id("wall-cell-0"))
    await expect(page.get_by_test_id("wall-cell-0")).to_have_attribute("data-camera-id", str(ids[0]))
    await expect(page.get_by_test_id("wall-cell-0")).to_have_attribute("data-state", "live", timeout=30_000)
    # fill/fit
    await page.get_by_test_id("wall-cell-0").hover()
    await page.get_by_test_id("cell-fit-0").click()
    await expect(page.get_by_test_id("wall-cell-0")).to_have_attribute("data-fit", "fill")

    # save as my default; it comes back on the next visit
    await page.get_by_test_id("wall-save").click()
    await page.get_by_test_id("wall-save-name").fill("值班墙")
    await page.get_by_test_id("wall-save-default").click()
    await page.get_by_test_id("wall-save-submit").click()
    await expect(page.get_by_test_id("wall-save-dialog")).to_be_hidden()
    saved = api(media_server.url + "/api/v1/wall-layouts", token)
    mine = next(x for x in saved if x["name"] == "值班墙")
    assert mine["layout"] == "1+5" and mine["is_default"] and mine["cells"][:4] == [ids[0], None, ids[1], ids[2]]
    await page.reload()
    await expect(page.get_by_test_id("video-wall")).to_have_attribute("data-layout", "1+5", timeout=15_000)
    await expect(page.get_by_test_id("wall-cell-2")).to_have_attribute("data-camera-id", str(ids[1]))
    # back to a 9-picture layout keeps the cameras placed so far
    await page.get_by_test_id("wall-layout-9").click()
    await expect(page.get_by_test_id("video-wall")).to_have_attribute("data-cells", "9")
    await expect(page.get_by_test_id("wall-cell-0")).to_have_attribute("data-camera-id", str(ids[0]))
    api(media_server.url + f"/api/v1/wall-layouts/{mine['id']}", token, "DELETE")
    await page.context.close()


async def test_tour_plays_on_the_wall(media_server: ServerProcess, browser: Browser) -> None:
    admin = login(media_server.url, "admin")
    ids = sorted(c["id"] for c in api(media_server.url + "/api/v1/cameras", admin)["items"])
    tour = api(media_server.url + "/api/v1/camera-tours", admin, "POST",
               {"name": "测试轮询", "dwell_s": 3, "layout": "1", "camera_ids": ids[:3]})
    page = await open_console(browser, media_server, "/console/video/tours", "tours-table")
    await expect(page.get_by_test_id(f"tour-row-{tour['id']}")).to_be_visible()
    await page.get_by_test_id(f"tour-play-wall-{tour['id']}").click()
    await expect(page.get_by_test_id("video-wall")).to_have_attribute("data-layout", "1")
    cell = page.get_by_test_id("wall-cell-0")
    await expect(cell).to_have_attribute("data-camera-id", str(ids[0]))
    await expect(page.get_by_test_id("wall-tour-status")).to_be_visible()
    await expect(cell).to_have_attribute("data-camera-id", str(ids[1]), timeout=8_000)
    await expect(cell).to_have_attribute("data-camera-id", str(ids[2]), timeout=8_000)
    await page.get_by_test_id("wall-tour-play").click()  # stop
    await expect(page.get_by_test_id("wall-tour-status")).to_be_hidden()
    api(media_server.url + f"/api/v1/camera-tours/{tour['id']}", admin, "DELETE")
    await page.context.close()


async def test_playback_of_an_emergency_recording(media_server: ServerProcess, browser: Browser,
                                                  tmp_path: Path) -> None:
    token = login(media_server.url, "operator")
    cid = sorted(c["id"] for c in api(media_server.url + "/api/v1/cameras", token)["items"])[3]
    api(media_server.url + f"/api/v1/cameras/{cid}/recordings", token, "POST", {"duration_s": 6})
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        rows = api(media_server.url + f"/api/v1/recordings?camera_id={cid}", token)["items"]
        if rows and sum(r["duration_s"] for r in rows) >= 5.5:
            break
        await asyncio.sleep(1)
    else:
        raise AssertionError("the emergency recording did not reach the index")
    page = await open_console(browser, media_server, f"/console/video/playback?camera_id={cid}",
                              "playback-timeline")
    timeline = page.get_by_test_id("playback-timeline")
    await expect(timeline).not_to_have_attribute("data-segments", "0", timeout=10_000)
    await page.get_by_test_id("playback-zoom").click()
    seg = page.get_by_test_id("playback-segment").first
    await expect(seg).to_be_visible()
    await seg.click()
    player = page.get_by_test_id("playback-player")
    await expect(player).to_have_attribute("data-state", "live", timeout=20_000)
    first = await _int_attr(player, "data-frames")
    deadline = time.monotonic() + 10
    while await _int_attr(player, "data-frames") <= first + 10:
        assert time.monotonic() < deadline, "playback frames did not grow"
        await asyncio.sleep(0.5)
    await page.get_by_test_id("playback-pause").click()
    await page.get_by_test_id("playback-stop").click()
    await expect(player).to_have_attribute("data-state", "idle")
    # export the recorded range as a clip
    async with page.expect_download(timeout=30_000) as dl_info:
        await page.get_by_test_id("playback-export").click()
    dl = await dl_info.value
    out = tmp_path / "clip.mp4"
    await dl.save_as(out)
    assert b"ftyp" in out.read_bytes()[:64]
    await page.context.close()


async def _int_attr(locator: Any, name: str) -> int:
    return int(await locator.get_attribute(name) or 0)


async def test_cameras_on_the_map_open_live_view(media_server: ServerProcess, browser: Browser) -> None:
    token = login(media_server.url, "operator")
    cams = api(media_server.url + "/api/v1/cameras", token)["items"]
    page = await open_console(browser, media_server, "/console/video/map", "base-map")
    await expect(page.get_by_test_id("base-map")).to_have_attribute("data-ready", "true", timeout=20_000)
    markers = page.locator('[data-testid^="map-camera-"]')
    await expect(markers).to_have_count(len(cams))
    for c in cams:
        await expect(page.get_by_test_id(f"map-camera-{c['id']}")).to_have_attribute("data-status", c["status"])
    cid = cams[0]["id"]
    await page.get_by_test_id(f"map-camera-{cid}").click()
    dialog = page.get_by_test_id("camera-live-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_test_id("wall-cell-0")).to_have_attribute("data-camera-id", str(cid))
    await expect(dialog.get_by_test_id("wall-cell-0")).to_have_attribute("data-state", "live", timeout=30_000)
    await page.context.close()
