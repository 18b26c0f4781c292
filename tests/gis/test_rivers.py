"""River network: confluences, snapping, downstream tracing, arrivals."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point

from gis import Feature, GisInputError, RiverNetwork

GEOD = Geod(ellps="WGS84")


def _reach(fid: str, coords: list[tuple[float, float]]) -> Feature:
    return Feature(fid, "rivers", "river", fid, LineString(coords))


def _fac(fid: str, kind: str, lon: float, lat: float, **props: float) -> Feature:
    return Feature(fid, "river_facilities", kind, fid, Point(lon, lat), props)


def _geo(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.fixture
def net() -> RiverNetwork:
    net = RiverNetwork(
        [
            _reach("M1", [(118.60, 32.00), (118.80, 32.00)]),
            _reach("M2", [(118.80, 32.00), (119.00, 32.00)]),  # continues M1
            # Ends ~33 m north of M1 (within the 50 m tolerance): joins mid-reach.
            _reach("T", [(118.70, 32.10), (118.70, 32.0003)]),
            _reach("U", [(118.90, 32.10), (118.90, 32.00)]),  # joins M2 further east
        ]
    )
    net.attach_many(
        [
            _fac("intake-T", "intake", 118.7002, 32.05),
            _fac("gate-T-upstream", "gate", 118.70, 32.09),
            _fac("section-M1-upstream", "monitoring_section", 118.65, 32.0001),
            _fac("dam-M1", "dam", 118.75, 31.9998),
            _fac("pond-M2", "emergency_pond", 118.85, 32.0, capacity_m3=5000),
            _fac("intake-U", "intake", 118.90, 32.05),
            _fac("gate-M2-far", "gate", 118.95, 32.0),
        ]
    )
    return net


def test_confluences(net: RiverNetwork) -> None:
    assert net.outlet_of("M1") == ("M2", 0.0)
    rid, pos = net.outlet_of("T")
    assert rid == "M1"
    assert pos == pytest.approx(_geo(118.60, 32.0, 118.70, 32.0), abs=1.0)
    assert net.outlet_of("U")[0] == "M2"
    assert net.outlet_of("M2") is None


def test_snap(net: RiverNetwork) -> None:
    snap = net.snap(118.7010, 32.08)
    assert snap.reach_id == "T"
    # 0.001° of longitude at 32.08° N, measured by hand with Geod.
    assert snap.distance_m == pytest.approx(_geo(118.7010, 32.08, 118.70, 32.08), abs=0.5)
    assert snap.position_m == pytest.approx(_geo(118.70, 32.10, 118.70, 32.08), abs=1.0)
    assert net.snap(118.7010, 32.08, max_distance_m=10) is None


def test_trace_across_confluence_in_order(net: RiverNetwork) -> None:
    trace = net.trace_downstream(118.7010, 32.08, 30000, velocity_ms=0.5)
    assert [s.reach_id for s in trace.segments] == ["T", "M1", "M2"]
    ids = [i.feature.id for i in trace.items]
    # Upstream of the spill, upstream of the junction, on another tributary,
    # or beyond 30 km: all left out.
    assert ids == ["intake-T", "dam-M1", "pond-M2"]
    t_rest = _geo(118.70, 32.08, 118.70, 32.0003)
    expected = [
        _geo(118.70, 32.08, 118.70, 32.05),
        t_rest + _geo(118.70, 32.0, 118.75, 32.0),
        t_rest + _geo(118.70, 32.0, 118.80, 32.0) + _geo(118.80, 32.0, 118.85, 32.0),
    ]
    for item, want in zip(trace.items, expected, strict=True):
        assert item.river_distance_m == pytest.approx(want, abs=1.0)
        assert item.arrival_s == pytest.approx(item.river_distance_m / 0.5)
    assert trace.items[2].feature.properties["capacity_m3"] == 5000
    assert trace.length_m == pytest.approx(30000)
    assert isinstance(trace.geometry, shapely.MultiLineString) and len(trace.geometry.geoms) == 3
    d = trace.to_dict()
    assert d["reaches"] == ["T", "M1", "M2"] and d["items"][0]["kind"] == "intake"


def test_arrival_model_and_kinds(net: RiverNetwork) -> None:
    seen: list[list[float]] = []

    def model(distances: list[float]) -> list[dict[str, float]]:
        seen.append(list(distances))
        return [{"arrival_s": d / 1.0, "peak_s": d / 0.8, "peak_mg_l": 1e6 / d} for d in distances]

    trace = net.trace_downstream(118.7010, 32.08, 50000, arrival_model=model, kinds=["intake", "gate"])
    assert [i.feature.id for i in trace.items] == ["intake-T", "gate-M2-far"]
    assert seen == [[i.river_distance_m for i in trace.items]]
    first = trace.items[0]
    assert first.peak_s == pytest.approx(first.river_distance_m / 0.8)
    assert first.peak_mg_l == pytest.approx(1e6 / first.river_distance_m)
    # Runs out of river before 50 km: the path ends at the outlet.
    assert trace.length_m < 50000
    assert trace.segments[-1].to_m == pytest.approx(_geo(118.8, 32.0, 119.0, 32.0), abs=1.0)


def test_without_velocity_no_arrival(net: RiverNetwork) -> None:
    trace = net.trace_downstream(118.7010, 32.08, 5000)
    assert [i.feature.id for i in trace.items] == ["intake-T"]
    assert trace.items[0].arrival_s is None


def test_geojson_build_loop_guard_and_errors() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "A",
                "geometry": {"type": "LineString", "coordinates": [[118.0, 32.0], [118.1, 32.0]]},
            },
            {
                "type": "Feature",
                "id": "B",
                "geometry": {"type": "LineString", "coordinates": [[118.1, 32.0], [118.05, 32.05], [118.0, 32.0]]},
            },
        ],
    }
    net = RiverNetwork.from_geojson(fc)
    assert net.outlet_of("A") == ("B", 0.0) and net.outlet_of("B") == ("A", 0.0)
    trace = net.trace_downstream(118.02, 32.0, 10**6)
    assert [s.reach_id for s in trace.segments] == ["A", "B"]
    with pytest.raises(GisInputError, match="no river"):
        net.trace_downstream(119.5, 33.0, 1000)
    with pytest.raises(GisInputError, match="LineString"):
        RiverNetwork([Feature("P", "rivers", "river", "P", Point(118, 32))])
    with pytest.raises(GisInputError, match="no river"):
        net.attach(_fac("far", "intake", 119.5, 33.0))
