"""Benchmark of gis searches; prints one JSON object.

100,000 random resource points over a ~100 km city; 10,000 circle searches
(r uniform 1-20 km) and 10,000 nearest-10 searches, per-query p50/p99 in ms,
next to naive full scans measured in the same run on a subset of queries.
Also: incremental updates and sensitive-area identification (10,000
polygons against three zones).

Run: .venv/bin/python bench/gis_search.py [--points N] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis import Feature, SpatialCatalog, affected_features

#: ~100 km x 100 km around Nanjing (1° lat ≈ 111 km, 1° lon ≈ 94 km here).
BOUNDS = (118.27, 31.60, 119.33, 32.50)
EARTH_R = 6371008.8


def _pct(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return round(float(np.percentile(a, 50)), 4), round(float(np.percentile(a, 99)), 4)


def _haversine(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    p0, p = np.radians(lat0), np.radians(lat)
    h = np.sin((p - p0) / 2) ** 2 + np.cos(p0) * np.cos(p) * np.sin(np.radians(lon - lon0) / 2) ** 2
    return 2 * EARTH_R * np.arcsin(np.sqrt(h))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--naive-queries", type=int, default=500)
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    n, q = args.points, args.queries
    lon = rng.uniform(BOUNDS[0], BOUNDS[2], n)
    lat = rng.uniform(BOUNDS[1], BOUNDS[3], n)
    kinds = ("warehouse", "team", "vehicle", "expert", "shelter")
    t0 = time.perf_counter()
    feats = [Feature(f"r{i}", "resources", kinds[i % 5], f"res {i}", Point(lon[i], lat[i])) for i in range(n)]
    t1 = time.perf_counter()
    cat = SpatialCatalog(BOUNDS, feats)
    t2 = time.perf_counter()

    qlon = rng.uniform(BOUNDS[0], BOUNDS[2], q)
    qlat = rng.uniform(BOUNDS[1], BOUNDS[3], q)
    qr = rng.uniform(1000, 20000, q)

    circle, circle_top, sizes = [], [], []
    for i in range(q):
        s = time.perf_counter()
        hits = cat.search_circle(qlon[i], qlat[i], qr[i])
        e = time.perf_counter()
        hits.top(limit=50)
        circle.append(e - s)
        circle_top.append(time.perf_counter() - s)
        sizes.append(len(hits))

    nearest = []
    for i in range(q):
        s = time.perf_counter()
        cat.search_nearest(qlon[i], qlat[i], 10)
        nearest.append(time.perf_counter() - s)

    # Naive baselines on a subset: a full numpy haversine pass per query, and
    # a per-query shapely scan over projected points.
    m = min(args.naive_queries, q)
    naive_circle, naive_nearest, naive_shapely = [], [], []
    proj = cat.projection
    px, py = proj.forward(lon, lat)
    pts = shapely.points(px, py)
    for i in range(m):
        s = time.perf_counter()
        d = _haversine(qlon[i], qlat[i], lon, lat)
        sel = np.flatnonzero(d <= qr[i])
        sel[np.argsort(d[sel])]
        naive_circle.append(time.perf_counter() - s)
        s = time.perf_counter()
        d = _haversine(qlon[i], qlat[i], lon, lat)
        np.argpartition(d, 10)[:10]
        naive_nearest.append(time.perf_counter() - s)
    for i in range(min(m, 200)):
        cx, cy = proj.forward(qlon[i], qlat[i])
        s = time.perf_counter()
        np.flatnonzero(shapely.dwithin(pts, Point(float(cx), float(cy)), qr[i]))
        naive_shapely.append(time.perf_counter() - s)

    # Incremental updates: 2,000 moves and removals, then the next query.
    ix = cat.layer("resources")
    rebuilds_before = ix.rebuilds
    upd = []
    for i in range(2000):
        j = int(rng.integers(0, n))
        s = time.perf_counter()
        if i % 4 == 0:
            ix.remove(f"r{j}")
        else:
            ix.upsert(Feature(f"r{j}", "resources", kinds[j % 5], f"res {j}", Point(rng.uniform(118.3, 119.3), 32.0)))
        upd.append(time.perf_counter() - s)
    rebuilds_during = ix.rebuilds - rebuilds_before
    s = time.perf_counter()
    cat.search_circle(118.8, 32.05, 5000)
    first_query_after = time.perf_counter() - s

    # Sensitive areas: 10,000 polygons, three nested zones.
    slon = rng.uniform(BOUNDS[0], BOUNDS[2], 10_000)
    slat = rng.uniform(BOUNDS[1], BOUNDS[3], 10_000)
    size = rng.uniform(0.001, 0.01, 10_000)
    sens = [
        Feature(f"s{i}", "sensitive", "residential", f"area {i}", shapely.box(x, y, x + w, y + w * 0.8))
        for i, (x, y, w) in enumerate(zip(slon, slat, size, strict=True))
    ]
    cat.upsert_many(sens)
    cat.layer("sensitive").rebuild()
    plume = shapely.Polygon([(118.8, 32.05), (119.05, 32.15), (119.1, 32.05), (118.8, 32.05)])
    zones = [("lethal", plume.buffer(0.005)), ("threat", plume.buffer(0.03)), ("possible", plume.buffer(0.08))]
    sens_times, found = [], 0
    for _ in range(5):
        s = time.perf_counter()
        found = len(affected_features(cat, zones, (118.8, 32.05)))
        sens_times.append(time.perf_counter() - s)

    c50, c99 = _pct(circle)
    ct50, ct99 = _pct(circle_top)
    n50, n99 = _pct(nearest)
    nc50, nc99 = _pct(naive_circle)
    nn50, nn99 = _pct(naive_nearest)
    ns50, ns99 = _pct(naive_shapely)
    print(
        json.dumps(
            {
                "points": n,
                "queries": q,
                "feature_build_s": round(t1 - t0, 3),
                "index_build_s": round(t2 - t1, 3),
                "circle_p50_ms": c50,
                "circle_p99_ms": c99,
                "circle_mean_hits": round(float(np.mean(sizes)), 1),
                "circle_max_hits": int(np.max(sizes)),
                "circle_plus_top50_p50_ms": ct50,
                "circle_plus_top50_p99_ms": ct99,
                "nearest10_p50_ms": n50,
                "nearest10_p99_ms": n99,
                "naive_queries": m,
                "naive_circle_p50_ms": nc50,
                "naive_circle_p99_ms": nc99,
                "naive_nearest10_p50_ms": nn50,
                "naive_nearest10_p99_ms": nn99,
                "naive_shapely_circle_queries": len(naive_shapely),
                "naive_shapely_circle_p50_ms": ns50,
                "naive_shapely_circle_p99_ms": ns99,
                "update_p50_ms": _pct(upd)[0],
                "update_p99_ms": _pct(upd)[1],
                "updates": len(upd),
                "rebuilds_during_updates": rebuilds_during,
                "rebuilds_at_next_query": ix.rebuilds - rebuilds_before - rebuilds_during,
                "first_query_after_updates_ms": round(first_query_after * 1e3, 3),
                "sensitive_polygons": len(sens),
                "sensitive_zones": len(zones),
                "sensitive_affected": found,
                "sensitive_p50_ms": round(float(np.median(sens_times)) * 1e3, 2),
                "sensitive_max_ms": round(float(np.max(sens_times)) * 1e3, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
