"""Gaussian plume and puff: hand-worked values and conservation properties."""

import math

import numpy as np
import pytest
from scipy.integrate import trapezoid

from dispersion import (
    DispersionInputError,
    UnknownStabilityClassError,
    crosswind_integrated_concentration,
    plume_concentration,
    puff_concentration,
    puff_dose,
    puff_peak_concentration,
)
from dispersion.sigmas import briggs_sigmas


def test_ground_source_centreline_by_hand() -> None:
    """Q = 100 g/s, u = 5 m/s, x = 1 km, rural D, ground source and receptor:
    C = Q/(π·u·σy·σz) = 100/(π·5·76.277·37.947) = 2.19941e-3 g/m³ (Turner eq. 3.3)."""
    c = plume_concentration(100.0, 5.0, 1000.0, 0.0, 0.0, 0.0, "D")
    assert float(c) == pytest.approx(2.199405e-3, rel=1e-5)


def test_elevated_source_by_hand() -> None:
    """Same, H = 50 m: factor exp(−H²/2σz²) = exp(−2500/(2·37.947²)) = 0.419767 (Turner eq. 3.2)."""
    c = plume_concentration(100.0, 5.0, 1000.0, 0.0, 0.0, 50.0, "D")
    assert float(c) == pytest.approx(2.199405e-3 * 0.4197670, rel=1e-5)
    # off-axis: y = σy → another factor e^−½
    c_off = plume_concentration(100.0, 5.0, 1000.0, 76.27701, 0.0, 50.0, "D")
    assert float(c_off) == pytest.approx(float(c) * math.exp(-0.5), rel=1e-5)


def test_upwind_is_zero_and_symmetric_in_y() -> None:
    x = np.array([[-100.0, 0.0, 50.0, 500.0]])
    y = np.array([[-30.0], [30.0]])
    c = plume_concentration(10.0, 3.0, x, y, 1.5, 2.0, "C")
    assert c.shape == (2, 4)
    assert np.all(c[:, :2] == 0.0) and np.all(c[:, 2:] > 0.0)
    np.testing.assert_allclose(c[0], c[1], rtol=1e-12)


def test_falls_with_distance_beyond_the_peak() -> None:
    x = np.geomspace(50, 20000, 400)
    c = plume_concentration(100.0, 4.0, x, 0.0, 0.0, 60.0, "C")
    peak = int(np.argmax(c))
    assert 0 < peak < x.size - 1  # an elevated source has an interior maximum
    assert np.all(np.diff(c[peak:]) < 0) and np.all(np.diff(c[: peak + 1]) > 0)


@pytest.mark.parametrize("cls", ["A", "D", "F"])
def test_crosswind_integral_matches_q_over_u(cls: str) -> None:
    """∫C dy over ±8σy equals Q/u · g_z (the crosswind-integrated form) within 1 %."""
    x, z, h = 800.0, 1.5, 10.0
    sy, _ = briggs_sigmas(x, cls)
    y = np.linspace(-8 * float(sy), 8 * float(sy), 4001)
    c = plume_concentration(50.0, 4.0, x, y, z, h, cls)
    cic = crosswind_integrated_concentration(50.0, 4.0, x, z, h, cls)
    assert trapezoid(c, y) == pytest.approx(float(cic), rel=0.01)


def test_flux_through_a_plane_is_q() -> None:
    """u·∫∫C dy dz over the half-space equals Q (ground reflection conserves mass)."""
    x, h = 2000.0, 20.0
    _, sz = briggs_sigmas(x, "D")
    z = np.linspace(0.0, h + 10 * float(sz), 6001)
    cic = crosswind_integrated_concentration(80.0, 6.0, x, z, h, "D")
    assert 6.0 * trapezoid(cic, z) == pytest.approx(80.0, rel=0.01)


def test_mixing_lid_conserves_mass_and_goes_well_mixed() -> None:
    zi = 300.0
    z = np.linspace(0.0, zi, 3001)
    for x in (1000.0, 3000.0, 5000.0):  # class B σz = 120, 360 m (images), 600 m (> 1.6·zi: mixed)
        cic = crosswind_integrated_concentration(100.0, 5.0, x, z, 50.0, "B", mixing_height_m=zi)
        assert 5.0 * trapezoid(cic, z) == pytest.approx(100.0, rel=0.01)
    # far away: C = Q/(√(2π)·u·σy·zi); σy(B, 5 km) = 0.16·5000/√1.5 = 653.2 m
    c = plume_concentration(100.0, 5.0, 5000.0, 0.0, 0.0, 50.0, "B", mixing_height_m=zi)
    sy = 0.16 * 5000 / math.sqrt(1.5)
    assert float(c) == pytest.approx(100.0 / (math.sqrt(2 * math.pi) * 5.0 * sy * zi), rel=1e-9)
    # the lid only adds mass near the ground compared with no lid
    free = plume_concentration(100.0, 5.0, 1000.0, 0.0, 0.0, 50.0, "B")
    lid = plume_concentration(100.0, 5.0, 1000.0, 0.0, 0.0, 50.0, "B", mixing_height_m=zi)
    assert float(lid) > float(free)
    # release above the lid: no ground concentration (ISC3)
    assert float(plume_concentration(100.0, 5.0, 1000.0, 0.0, 0.0, 400.0, "B", mixing_height_m=zi)) == 0.0


def test_well_mixed_switch_is_nearly_continuous() -> None:
    zi = 200.0
    # class A σz = 0.2x: 1.6·zi reached at x = 1600 m
    below = plume_concentration(10.0, 3.0, 1599.0, 0.0, 0.0, 5.0, "A", mixing_height_m=zi)
    above = plume_concentration(10.0, 3.0, 1601.0, 0.0, 0.0, 5.0, "A", mixing_height_m=zi)
    assert float(above) == pytest.approx(float(below), rel=0.02)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"u_ms": 0.0}, {"u_ms": -2.0}, {"u_ms": float("nan")}, {"q_gps": -1.0},
        {"source_height_m": -5.0}, {"mixing_height_m": 0.0}, {"x_m": float("inf")},
    ],
)
def test_bad_input(kwargs: dict) -> None:
    args = {"q_gps": 1.0, "u_ms": 2.0, "x_m": 100.0, "y_m": 0.0, "z_m": 0.0,
            "source_height_m": 0.0, "stability": "D", "mixing_height_m": None}
    args.update(kwargs)
    with pytest.raises(DispersionInputError):
        plume_concentration(**args)


def test_bad_class_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        plume_concentration(1.0, 2.0, 100.0, 0.0, 0.0, 0.0, "Z")
    assert issubclass(UnknownStabilityClassError, DispersionInputError)


def test_puff_dose_integrates_to_mass_over_u() -> None:
    """∫∫ dose dy dz = M/u for any distance (ground reflection keeps all mass)."""
    m, u, x, h = 5000.0, 3.0, 1500.0, 5.0
    sy, sz = briggs_sigmas(x, "E")
    y = np.linspace(-8 * float(sy), 8 * float(sy), 801)[:, None]
    z = np.linspace(0.0, h + 8 * float(sz), 801)[None, :]
    d = puff_dose(m, u, x, y, z, h, "E")
    total = trapezoid(trapezoid(d, z[0], axis=1), y[:, 0])
    assert total == pytest.approx(m / u, rel=0.01)


def test_puff_time_integral_and_peak_match_closed_forms() -> None:
    """Integrating puff_concentration over time reproduces puff_dose (σ at the receptor
    is the leading-order approximation: agreement within 5 % at 1 km), and its maximum
    over time matches puff_peak_concentration within 5 %."""
    m, u, x = 1000.0, 4.0, 1000.0
    t = np.linspace(1.0, 3 * x / u, 20001)
    c = puff_concentration(m, u, t, x, 0.0, 0.0, 0.0, "D")
    dose = puff_dose(m, u, x, 0.0, 0.0, 0.0, "D")
    assert trapezoid(c, t) == pytest.approx(float(dose), rel=0.05)
    assert float(c.max()) == pytest.approx(float(puff_peak_concentration(m, u, x, 0.0, 0.0, 0.0, "D")), rel=0.05)
    # the puff centre passes the receptor at t = x/u
    assert t[int(np.argmax(c))] == pytest.approx(x / u, rel=0.05)


def test_puff_zero_before_release_and_upwind() -> None:
    assert float(puff_concentration(1.0, 2.0, 0.0, 10.0, 0.0, 0.0, 0.0, "D")) == 0.0
    assert float(puff_concentration(1.0, 2.0, 100.0, -10.0, 0.0, 0.0, 0.0, "D")) == 0.0
    with pytest.raises(DispersionInputError):
        puff_dose(-1.0, 2.0, 100.0, 0.0, 0.0, 0.0, "D")
