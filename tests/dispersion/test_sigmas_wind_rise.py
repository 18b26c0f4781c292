"""Briggs σ, power-law wind and Briggs plume rise against values worked by hand."""


import numpy as np
import pytest

from dispersion import (
    DispersionInputError,
    StackParameters,
    UnknownStabilityClassError,
    briggs_final_rise,
    briggs_sigmas,
    effective_height,
    wind_at_height,
)


@pytest.mark.parametrize(
    ("cls", "terrain", "sy", "sz"),
    [
        # rural D, x = 1000 m: σy = 0.08·1000/√1.1 = 76.277; σz = 0.06·1000/√2.5 = 37.947
        ("D", "rural", 76.27701, 37.94733),
        # rural A: σy = 0.22·1000/√1.1 = 209.762; σz = 0.20·1000 = 200
        ("A", "rural", 209.76177, 200.0),
        # rural C: σz = 0.08·1000/√1.2 = 73.030
        ("C", "rural", 104.88088, 73.02967),
        # rural E/F: σz = 0.03·1000/1.3 = 23.077, 0.016·1000/1.3 = 12.308
        ("E", "rural", 57.20775, 23.07692),
        ("F", "rural", 38.13850, 12.30769),
        # urban A–B: σy = 0.32·1000/√1.4 = 270.449; σz = 0.24·1000·√2 = 339.411
        ("B", "urban", 270.44923, 339.41125),
        # urban C: σz = 0.20·1000; urban D: σz = 0.14·1000/√1.3 = 122.788 (not ·√1.3!)
        ("C", "urban", 185.93394, 200.0),
        ("D", "urban", 135.22461, 122.78812),
        # urban E–F: σy = 0.11·1000/√1.4 = 92.967; σz = 0.08·1000/√2.5 = 50.596
        ("F", "urban", 92.96697, 50.59644),
    ],
)
def test_briggs_sigmas_at_1km(cls: str, terrain: str, sy: float, sz: float) -> None:
    got_y, got_z = briggs_sigmas(1000.0, cls, terrain)
    assert float(got_y) == pytest.approx(sy, rel=1e-5)
    assert float(got_z) == pytest.approx(sz, rel=1e-5)


def test_sigmas_broadcast_and_order() -> None:
    x = np.array([[100.0, 1000.0, 10000.0]])
    sy, sz = briggs_sigmas(x, "d")
    assert sy.shape == x.shape and np.all(np.diff(sy) > 0) and np.all(np.diff(sz) > 0)
    # more stable → narrower, at every distance
    sy_f, sz_f = briggs_sigmas(x, "F")
    assert np.all(sy_f < sy) and np.all(sz_f < sz)


@pytest.mark.parametrize("bad", ["G", "", None, 7, "AB"])
def test_unknown_class(bad: object) -> None:
    with pytest.raises(UnknownStabilityClassError):
        briggs_sigmas(100.0, bad)  # type: ignore[arg-type]


def test_bad_terrain_and_distance() -> None:
    with pytest.raises(DispersionInputError):
        briggs_sigmas(100.0, "D", "suburban")
    with pytest.raises(DispersionInputError):
        briggs_sigmas(-1.0, "D")
    with pytest.raises(DispersionInputError):
        briggs_sigmas(float("nan"), "D")


def test_power_law_wind() -> None:
    # rural D p = 0.15: 5·(50/10)^0.15 = 6.3653; urban F p = 0.30: 5·5^0.3 = 8.1033
    assert float(wind_at_height(5.0, 50.0, "D")) == pytest.approx(6.365251, rel=1e-6)
    assert float(wind_at_height(5.0, 50.0, "F", "urban")) == pytest.approx(5 * 5**0.3, rel=1e-9)
    # below the anemometer height the 10 m wind is used (ISC3)
    assert float(wind_at_height(5.0, 2.0, "F")) == 5.0
    with pytest.raises(DispersionInputError):
        wind_at_height(0.0, 50.0, "D")


STACK = StackParameters(exit_velocity_ms=15.0, diameter_m=2.0, gas_temperature_k=400.0,
                        ambient_temperature_k=293.15)


def test_briggs_rise_unstable_neutral() -> None:
    """F = g·vs·d²·ΔT/(4Ts) = 9.80616·15·4·106.85/1600 = 39.292 m⁴/s³ (< 55);
    ΔTc = 0.0297·400·15^⅓/2^⅔ = 18.46 K < 106.85 K → buoyancy dominated;
    Δh = 21.425·F^¾/u = 67.248 m at u = 5 m/s; xf = 49·F^⅝ = 486.0 m."""
    res = briggs_final_rise(30.0, STACK, 5.0, "D")
    assert res.buoyancy_dominated
    assert res.buoyancy_flux_m4s3 == pytest.approx(39.29206, rel=1e-6)
    assert res.final_rise_m == pytest.approx(67.24800, rel=1e-6)
    assert res.distance_to_final_rise_m == pytest.approx(486.0003, rel=1e-6)
    assert res.downwashed_stack_height_m == 30.0  # vs = 15 ≥ 1.5·u: no downwash


def test_briggs_rise_stable() -> None:
    """s = g·0.035/Ta = 1.17078e-3 s⁻²; Δh = 2.6·(F/(u·s))^⅓ = 49.045 m; xf = 2.0715·u/√s = 302.70 m."""
    res = briggs_final_rise(30.0, STACK, 5.0, "F")
    assert res.final_rise_m == pytest.approx(49.04475, rel=1e-6)
    assert res.distance_to_final_rise_m == pytest.approx(302.7028, rel=1e-6)


def test_gradual_rise_and_downwash() -> None:
    h = effective_height(np.array([10.0, 100.0, 486.0, 5000.0]), 30.0, STACK, 5.0, "D")
    # 2/3 law at 100 m: 1.6·(39.292·100²)^⅓/5 = 23.25 m
    assert h[1] == pytest.approx(30.0 + 1.6 * (39.29206 * 1e4) ** (1 / 3) / 5.0, rel=1e-6)
    assert np.all(np.diff(h) >= 0) and h[-1] == pytest.approx(30.0 + 67.248, rel=1e-5)
    slow = StackParameters(exit_velocity_ms=2.0, diameter_m=1.0, gas_temperature_k=293.15,
                           ambient_temperature_k=293.15)
    # no buoyancy, vs < 1.5u: h' = 30 + 2·1·(2/5 − 1.5) = 27.8; momentum rise 3·d·vs/u = 1.2
    res = briggs_final_rise(30.0, slow, 5.0, "D")
    assert res.downwashed_stack_height_m == pytest.approx(27.8)
    assert res.final_rise_m == pytest.approx(1.2)
    assert not res.buoyancy_dominated
