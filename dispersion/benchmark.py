"""Timing figures for the dispersion package: ``python -m dispersion.benchmark`` (prints JSON).

Reports, not assertions: wall time depends on the machine.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from .plume import plume_concentration
from .scenario import Met, Release
from .zones import threat_zones


def _time(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm caches (pyproj transformer, chemical table, numpy)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000.0)
    return {"median_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 2)}


def main() -> None:
    x = np.linspace(1.0, 10_000.0, 1000)[np.newaxis, :]
    y = np.linspace(-2_000.0, 2_000.0, 1000)[:, np.newaxis]
    release = Release(lon=116.40, lat=39.90, rate_gps=500.0, height_m=1.0)
    met = Met(wind_speed_ms=3.0, wind_from_deg=270.0, stability="D")
    puff = Release(lon=116.40, lat=39.90, mass_g=500_000.0)
    figures = {
        "plume_grid_1000x1000": _time(lambda: plume_concentration(100.0, 3.0, x, y, 0.0, 10.0, "D"), 20),
        "threat_zones_chlorine_3_levels_plus_possible": _time(lambda: threat_zones(release, met, "chlorine"), 20),
        "threat_zones_instantaneous_chlorine": _time(lambda: threat_zones(puff, met, "chlorine"), 20),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
