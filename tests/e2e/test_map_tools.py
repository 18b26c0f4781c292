"""The console map (MAP-10/11/12, CMD-7) in a real browser against the demo city.

Every number the page shows is checked against the API answering the same question, and the pointer-drawn
circle against the mouse read-out, so a page that draws in the wrong place or lists the wrong rows fails.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.async_api import Browser, Page, expect

from tests.conftest import DEMO_PASSWORD
from tests.peers.server import ServerProcess
from tests.system.test_process import login

# The chemical park by the river mouth in 临港区 (see command_server/demo/geodata.py).
PARK = (121.70, 30.87)
AMMONIA_CAS = "7664-41-7"


def api(url: str, token: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def xlsx_names(path: Path) -> list[str]:
    """The 名称 column of the exported sheet (the header row is the one that has it)."""
    rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if "名称" in r)
    col = rows[head].index("名称")
    return [r[col] for r in rows[head + 1:] if r[col]]


async def open_map(browser: Browser, server: ServerProcess, query: str = "") -> Page:
    ctx = await browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
    page = await ctx.new_page()
    await page.goto(server.url + "/login")
    await page.get_by_test_id("login-username").fill("operator")
    await page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url("**/console**")
    await page.goto(server.url + "/console/map" + query)
    await expect(page.get_by_test_id("base-map")).to_have_attribute("data-ready", "true", timeout=20_000)
    return page


async def mouse_wgs84(page: Page, x: float, y: float) -> tuple[float, float]:
    """Move the mouse to a page pixel and read the map's WGS-84 read-out there."""
    await page.mouse.move(x, y)
    lon = page.get_by_test_id("map-coords-lon")
    await expect(lon).not_to_have_text("—")
    return float(await lon.inner_text()), float(await page.get_by_test_id("map-coords-lat").inner_text())


async def set_number(page: Page, testid: str, value: float) -> None:
    box = page.locator(f'[data-testid="{testid}"] input')
    await box.fill(str(value))
    await box.press("Tab")


async def test_offline_base_map_layers_and_coordinates(server: ServerProcess, browser: Browser) -> None:
    token = login(server.url, "operator")
    page = await open_map(browser, server)
    # Offline (no tile URL configured): district outlines, their names and the rivers with flow arrows.
    cfg = api(server.url + "/api/v1/gis/config", token)
    assert cfg["tile_url"] is None and len(cfg["bounds"]) == 4
    districts = api(server.url + "/api/v1/gis/layers/districts", token)["features"]
    labels = page.locator(".ecs-district-label")
    await expect(labels).to_have_count(len(districts))
    assert sorted(await labels.all_inner_texts()) == sorted(f["properties"]["name"] for f in districts)
    assert await page.locator(".ecs-river-arrow").count() >= 3
    await expect(page.locator(".leaflet-control-scale-line")).to_be_visible()
    risk = api(server.url + "/api/v1/gis/layers/risk_sources", token)["features"]
    await expect(page.get_by_test_id("map-layer-count-risk_sources")).to_have_text(str(len(risk)))

    # A thematic layer switched on shows as many symbols as the layer has features.
    stations = api(server.url + "/api/v1/gis/layers/stations", token)["features"]
    await page.get_by_test_id("map-layer-toggle-stations").click()
    await expect(page.get_by_test_id("map-layer-count-stations")).to_have_text(str(len(stations)))

    # MAP-11: the read-out in GCJ-02 is the server's conversion of the WGS-84 one.
    box = await page.get_by_test_id("base-map-canvas").bounding_box()
    assert box
    cx, cy = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5
    lon, lat = await mouse_wgs84(page, cx, cy)
    assert 121.0 < lon < 122.0 and 30.6 < lat < 31.5
    await page.get_by_test_id("map-coords-crs").select_option("gcj02")
    await page.mouse.move(cx, cy)
    g_lon = float(await page.get_by_test_id("map-coords-lon").inner_text())
    g_lat = float(await page.get_by_test_id("map-coords-lat").inner_text())
    q = urllib.parse.urlencode({"lon": lon, "lat": lat, "from": "wgs84", "to": "gcj02"})
    conv = api(server.url + f"/api/v1/gis/convert?{q}", token)
    assert abs(g_lon - conv["lon"]) < 2e-6 and abs(g_lat - conv["lat"]) < 2e-6
    assert abs(g_lon - lon) > 1e-3  # a real offset, not the same numbers again
    await page.context.close()


async def test_area_search_drawn_circle_and_form(server: ServerProcess, browser: Browser) -> None:
    token = login(server.url, "operator")
    page = await open_map(browser, server)
    box = await page.get_by_test_id("base-map-canvas").bounding_box()
    assert box
    # Pointer drawing: click the centre, click again 80 px to the right.
    cx, cy = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5
    c_lon, c_lat = await mouse_wgs84(page, cx, cy)
    e_lon, e_lat = await mouse_wgs84(page, cx + 80, cy)
    await page.get_by_test_id("map-draw-circle").click()
    await page.mouse.click(cx, cy)
    await page.mouse.move(cx + 40, cy)
    await page.mouse.click(cx + 80, cy)
    table = page.get_by_test_id("search-results")
    await expect(table).not_to_have_attribute("data-query", "", timeout=15_000)
    query = json.loads(await table.get_attribute("data-query") or "{}")
    assert query["shape"] == "circle"
    # the circle is where the pointer was (the read-out rounds to 1e-6°)
    assert abs(query["lon"] - c_lon) < 2e-5 and abs(query["lat"] - c_lat) < 2e-5
    expected_r = haversine_m(c_lon, c_lat, e_lon, e_lat)
    assert abs(query["radius_m"] - expected_r) < 0.01 * expected_r
    answer = api(server.url + "/api/v1/gis/search", token, "POST", query)
    assert answer["total"] > 0
    await expect(table).to_have_attribute("data-total", str(answer["total"]))
    await expect(page.get_by_test_id("search-row")).to_have_count(len(answer["items"]))
    # rows are sorted by distance: the first row is the API's nearest
    await expect(page.get_by_test_id("search-row").first).to_have_attribute("data-id", str(answer["items"][0]["id"]))

    # The same through the form (centre + radius), over risk sources only, at the chemical park.
    await page.get_by_test_id("search-by-center").locator(".el-collapse-item__header").click()
    await set_number(page, "search-lon", PARK[0])
    await set_number(page, "search-lat", PARK[1])
    await set_number(page, "search-radius", 3000)
    await page.get_by_test_id("search-layer-resources").click()
    await page.get_by_test_id("search-layer-sensitive").click()
    await page.get_by_test_id("search-run").click()
    body = {"shape": "circle", "lon": PARK[0], "lat": PARK[1], "radius_m": 3000, "layers": ["risk_sources"],
            "limit": 2000}
    park = api(server.url + "/api/v1/gis/search", token, "POST", body)
    assert park["total"] > 0 and {i["layer"] for i in park["items"]} == {"risk_sources"}
    await expect(table).to_have_attribute("data-total", str(park["total"]), timeout=15_000)
    shown = await page.get_by_test_id("search-row").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    assert sorted(shown) == sorted(i["id"] for i in park["items"])

    # Export: the browser receives the spreadsheet of this search.
    async with page.expect_download() as dl:
        await page.get_by_test_id("search-export").click()
    download = await dl.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = server.var_dir / "map-search.xlsx"
    await download.save_as(saved)
    names = xlsx_names(saved)
    assert sorted(names) == sorted(i["name"] for i in park["items"])
    await page.context.close()


async def test_dispersion_from_incident_link_and_river_trace(server: ServerProcess, browser: Browser) -> None:
    token = login(server.url, "operator")
    q = "?" + urllib.parse.urlencode({"incident_id": 7, "lon": PARK[0], "lat": PARK[1], "pollutant": "氨"})
    page = await open_map(browser, server, q)
    # Prefilled from the link: release point and chemical.
    await expect(page.get_by_test_id("disp-prefill-note")).to_be_visible()
    await expect(page.locator('[data-testid="disp-lon"] input')).to_have_value(f"{PARK[0]:.6f}")
    await expect(page.get_by_test_id("disp-chemical")).to_contain_text("氨")
    await set_number(page, "disp-rate", 2000)
    await page.get_by_test_id("disp-run").click()

    legend = page.get_by_test_id("zone-legend")
    await expect(legend).to_be_visible(timeout=30_000)
    rows = page.get_by_test_id("zone-legend-row")
    threat = page.locator('[data-testid="zone-legend-row"][data-kind="threat"]')
    await expect(threat).to_have_count(3)
    assert await threat.evaluate_all("els => els.map(e => e.dataset.level)") == ["AEGL-3", "AEGL-2", "AEGL-1"]
    await expect(page.locator('[data-testid="zone-legend-row"][data-kind="possible"]')).to_have_count(1)
    await expect(rows).to_have_count(4)
    # drawn on the map: three filled threat zones and the dashed possible zone
    await expect(page.locator("path.ecs-zone-threat")).to_have_count(3)
    await expect(page.locator("path.ecs-zone-possible")).to_have_count(1)
    assert await page.locator("path.ecs-zone-possible").get_attribute("stroke-dasharray")

    # The run is stored with the incident, and the page lists exactly what the server found.
    run_id = int(await page.get_by_test_id("disp-summary").get_attribute("data-run-id") or 0)
    run = api(server.url + f"/api/v1/dispersion/runs/{run_id}", token)
    assert run["incident_id"] == 7 and run["kind"] == "plume"
    assert run["inputs"]["chemical"] in (AMMONIA_CAS, "氨") or run["summary"]["chemical"]["cas"] == AMMONIA_CAS
    assert len(run["affected"]) > 0
    await expect(page.get_by_test_id("affected-total")).to_have_attribute("data-total", str(len(run["affected"])))
    listed = await page.get_by_test_id("affected-row").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    assert sorted(listed) == sorted(a["id"] for a in run["affected"])

    # River trace: a spill on 滨江 in the west of the city; facilities in flow order with arrival times.
    await page.get_by_test_id("map-tool-tabs").get_by_role("tab", name="河流追踪").click()
    await set_number(page, "river-lon", 121.3)
    await set_number(page, "river-lat", 31.078)
    await set_number(page, "river-mass", 500)
    await page.get_by_test_id("river-run").click()
    facilities = page.get_by_test_id("river-facility")
    trace = api(server.url + "/api/v1/gis/rivers/trace", token, "POST",
                {"lon": 121.3, "lat": 31.078, "mass_kg": 500, "max_distance_m": 50_000})
    assert len(trace["items"]) >= 3
    await expect(facilities).to_have_count(len(trace["items"]), timeout=15_000)
    ids = await facilities.evaluate_all("els => els.map(e => Number(e.dataset.id))")
    assert ids == [i["id"] for i in trace["items"]]
    dists = await facilities.evaluate_all("els => els.map(e => Number(e.dataset.distance))")
    assert dists == sorted(dists) and dists[0] > 0
    await expect(page.locator("path.ecs-river-path")).to_have_count(1)
    assert "—" not in await page.get_by_test_id("river-arrival").first.inner_text()
    await page.screenshot(path=str(server.var_dir / "console-map.png"))
    await page.context.close()
