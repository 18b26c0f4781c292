"""Dispersion benchmark; prints one JSON object.

1. Ground-level plume concentration on a 1000 × 1000 receptor grid (goal < 100 ms), next to a plain
   Python loop over a subset of the receptors (same formula, ``math`` per receptor), extrapolated.
2. Three threat zones (ammonia, AEGL-3/2/1, plus the "possible" envelope) and the identification of the
   sensitive areas they reach among 10,000 sensitive polygons (goal < 300 ms), next to a per-polygon shapely
   scan (every zone × every polygon: intersects, then the covered fraction) measured in the same run.

Reports, not assertions: wall time depends on the machine.
Run: .venv/bin/python bench/dispersion.py [--polygons N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shapely.geometry import Polygon

from command_server.simulation.service import identification_zone
from dispersion import Met, Release, briggs_sigmas, ground_field, threat_zones
from gis import Feature, SpatialCatalog, affected_features, destination

SRC = (121.50, 31.05)


def _time(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm caches (pyproj transformer, chemical table, numpy)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000.0)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2), "runs": repeat}


def plume_grid(repeat: int) -> dict[str, object]:
    release = Release(lon=SRC[0], lat=SRC[1], rate_gps=500.0, height_m=10.0)
    met = Met(wind_speed_ms=3.0, wind_from_deg=270.0, stability="D")
    field, sc = ground_field(release, met)
    x = np.linspace(10.0, 10_000.0, 1000)
    y = np.linspace(-2_000.0, 2_000.0, 1000)
    grid = _time(lambda: field(x[np.newaxis, :], y[:, np.newaxis]), repeat)

    # naive: one receptor at a time, the same Gaussian plume (ground reflection, no mixing lid)
    q, u, h = 500.0, sc.transport_wind_ms, 10.0
    xs = np.linspace(10.0, 10_000.0, 100)
    ys = np.linspace(-2_000.0, 2_000.0, 100)
    sy_tab = {}
    for xi in xs:
        sy, sz = briggs_sigmas(float(xi), "D", "rural")
        sy_tab[float(xi)] = (float(sy), float(sz))

    def naive() -> list[float]:
        out = []
        for xi in xs:
            sy, sz = sy_tab[float(xi)]
            for yi in ys:
                c = (q / (2 * math.pi * u * sy * sz) * math.exp(-yi * yi / (2 * sy * sy))
                     * 2 * math.exp(-h * h / (2 * sz * sz)))
                out.append(c)
        return out

    subset = 100 * 100
    loop = _time(naive, 3)
    check_vec = field(xs[np.newaxis, :], ys[:, np.newaxis]).T.ravel()
    rel = float(np.max(np.abs(np.array(naive()) - check_vec) / np.maximum(check_vec, 1e-30)))
    return {
        "grid": "1000 x 1000 receptors, x 10 m-10 km downwind, y ±2 km",
        "vectorised": grid,
        "goal_ms": 100,
        "naive_python_loop": {"receptors": subset, **loop,
                              "extrapolated_full_grid_ms": round(loop["median_ms"] * 1_000_000 / subset, 1),
                              "note": "sigmas precomputed per column, i.e. the loop is flattered"},
        "speedup": round(loop["median_ms"] * 1_000_000 / subset / grid["median_ms"], 1),
        "max_relative_difference": rel,
    }


def _polygons(n: int, rng: np.random.Generator) -> list[Feature]:
    """n small rectangles (60-400 m) scattered within 25 km of the source, denser near it."""
    feats = []
    for i in range(n):
        d = float(rng.uniform(50, 25_000) ** 1.0)
        b = float(rng.uniform(0, 360))
        lon, lat = destination(*SRC, b, d)
        w = float(rng.uniform(60, 400)) / 111_320 / math.cos(math.radians(lat))
        h = float(rng.uniform(60, 400)) / 111_320
        feats.append(Feature(f"s{i}", "sensitive", ("residential", "school", "hospital")[i % 3], f"poly {i}",
                             Polygon([(lon, lat), (lon + w, lat), (lon + w, lat + h), (lon, lat + h)])))
    return feats


def zones_and_sensitive(n: int, repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(7)
    feats = _polygons(n, rng)
    t0 = time.perf_counter()
    catalog = SpatialCatalog((SRC[0] - 0.3, SRC[1] - 0.3, SRC[0] + 0.3, SRC[1] + 0.3), feats)
    build_ms = (time.perf_counter() - t0) * 1000
    release = Release(lon=SRC[0], lat=SRC[1], rate_gps=5000.0, height_m=2.0)
    met = Met(wind_speed_ms=2.5, wind_from_deg=225.0, stability="E")
    found: list[int] = []

    def run() -> None:
        # what POST /api/v1/dispersion/plume does (less the storing): zones, then identification
        zones = threat_zones(release, met, "ammonia")
        pairs = [(z.level if z.kind == "threat" else "possible", identification_zone(z.polygon)) for z in zones]
        found[:] = [len(affected_features(catalog, pairs, SRC))]

    def run_exact_zones() -> None:
        zones = threat_zones(release, met, "ammonia")
        pairs = [(z.level if z.kind == "threat" else "possible", z.polygon) for z in zones]
        affected_features(catalog, pairs, SRC)

    fast = _time(run, repeat)
    unsimplified = _time(run_exact_zones, max(3, repeat // 3))
    zones = threat_zones(release, met, "ammonia")
    zones_only = _time(lambda: threat_zones(release, met, "ammonia"), repeat)
    pairs = [(z.level if z.kind == "threat" else "possible", z.polygon) for z in zones]

    def naive() -> int:
        seen: set[str] = set()
        for _name, zone in pairs:
            for f in feats:
                if f.id in seen:
                    continue
                if zone.intersects(f.geometry):
                    _ = zone.intersection(f.geometry).area / f.geometry.area
                    seen.add(f.id)
        return len(seen)

    naive_count = naive()
    slow = _time(naive, 1)
    return {
        "polygons": n,
        "zones": [{"level": z.level, "kind": z.kind, "length_m": round(z.length_m)} for z in zones],
        "catalog_build_ms": round(build_ms, 1),
        "threat_zones_only": zones_only,
        "zones_plus_sensitive_identification": fast,
        "same_with_unsimplified_zones": unsimplified,
        "goal_ms": 300,
        "affected": found[0],
        "naive_per_polygon_shapely_scan": {**slow, "affected": naive_count,
                                           "note": "zone polygons given; identification only"},
        "identification_speedup": round(slow["median_ms"] / max(fast["median_ms"] - zones_only["median_ms"], 1e-3),
                                        1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--polygons", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    out = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "plume_grid": plume_grid(args.repeat),
        "threat_zones_and_sensitive_areas": zones_and_sensitive(args.polygons, args.repeat),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
