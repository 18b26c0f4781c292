"""River spill: 1-D advection–dispersion against the closed form and its properties."""

import math

import numpy as np
import pytest
from scipy.integrate import trapezoid

from dispersion import DispersionInputError, river_spill


def test_concentration_by_hand() -> None:
    """M = 1000 kg, u = 0.5 m/s, D = 20 m²/s, A = 100 m², x = 5 km, t = 10⁴ s (x = ut):
    C = 10⁶ g/(100·√(4π·20·10⁴)) = 10⁴/1585.33 = 6.30783 g/m³ (mg/L)."""
    s = river_spill(1000.0, 0.5, 20.0, 100.0)
    assert float(s.concentration(5000.0, 10_000.0)) == pytest.approx(6.307831, rel=1e-6)
    # with decay k = 1e-5 /s the same point is multiplied by e^−0.1
    sk = river_spill(1000.0, 0.5, 20.0, 100.0, decay_per_s=1e-5)
    assert float(sk.concentration(5000.0, 10_000.0)) == pytest.approx(6.307831 * math.exp(-0.1), rel=1e-6)


@pytest.mark.parametrize("k", [0.0, 2e-5])
def test_mass_balance(k: float) -> None:
    s = river_spill(250.0, 0.8, 30.0, 60.0, decay_per_s=k)
    t = 7200.0
    x = np.linspace(-5000.0, 20000.0, 50001)
    mass_g = 60.0 * trapezoid(s.concentration(x, t), x)
    assert mass_g == pytest.approx(250_000.0 * math.exp(-k * t), rel=1e-4)


@pytest.mark.parametrize("k", [0.0, 5e-5])
def test_peak_time_is_the_maximum(k: float) -> None:
    s = river_spill(100.0, 0.6, 15.0, 40.0, decay_per_s=k)
    x = np.array([500.0, 3000.0, 12000.0])
    tp = s.peak_time(x)
    for xi, ti in zip(x, tp, strict=True):
        t = np.linspace(ti * 0.5, ti * 1.5, 200001)
        assert t[np.argmax(s.concentration(xi, t))] == pytest.approx(ti, rel=1e-4)
    np.testing.assert_allclose(s.peak_concentration(x), s.concentration(x, tp))
    assert np.all(np.diff(s.peak_concentration(x)) < 0)  # the peak decays downstream


def test_arrival_and_clear_times() -> None:
    s = river_spill(100.0, 0.6, 15.0, 40.0)
    x = np.array([1000.0, 4000.0, 1e6])
    thr = 0.5
    arr = s.arrival_time(x, thr)
    clr = s.clear_time(x, thr)
    assert np.isnan(arr[2]) and np.isnan(clr[2])  # 1000 km downstream the peak is ~0.14 mg/L < 0.5
    np.testing.assert_allclose(s.concentration(x[:2], arr[:2]), thr, rtol=1e-6)
    np.testing.assert_allclose(s.concentration(x[:2], clr[:2]), thr, rtol=1e-6)
    assert np.all(arr[:2] < s.peak_time(x[:2])) and np.all(clr[:2] > s.peak_time(x[:2]))
    assert np.all(s.concentration(x[:2], arr[:2] * 0.99) < thr)
    # leading edge: u·t + 2·√(2Dt) = x
    te = s.leading_edge_time(x[:2])
    np.testing.assert_allclose(0.6 * te + 2 * np.sqrt(2 * 15.0 * te), x[:2], rtol=1e-9)


@pytest.mark.parametrize(
    "args",
    [(-1.0, 0.5, 10.0, 50.0), (10.0, 0.0, 10.0, 50.0), (10.0, 0.5, -1.0, 50.0),
     (10.0, 0.5, 10.0, 0.0), (float("nan"), 0.5, 10.0, 50.0)],
)
def test_bad_input(args: tuple) -> None:
    with pytest.raises(DispersionInputError):
        river_spill(*args)


def test_bad_distances() -> None:
    s = river_spill(1.0, 0.5, 10.0, 50.0)
    with pytest.raises(DispersionInputError):
        s.peak_time([100.0, 0.0])
    with pytest.raises(DispersionInputError):
        s.arrival_time(100.0, 0.0)
