"""Model evaluation against Project Prairie Grass (Chang & Hanna 2004 measures)."""

import json
import math

import pytest

from dispersion.prairie_grass import ENV_VAR, data_dir, load_arcs
from dispersion.stats import performance
from dispersion.validate import evaluate, main, predict

DATA = data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "prairie_grass_arc_summary.csv").is_file(),
    reason=f"Prairie Grass data folder not found at {DATA} (set {ENV_VAR} to its location)",
)


def test_statistics_by_hand() -> None:
    """Co = (1, 2, 4), Cp = (1, 1, 8): ratios 1, ½, 2 → FAC2 = 1;
    FB = (7/3 − 10/3)/(½·17/3) = −6/17; NMSE = (0+1+16)/3 / (7/3·10/3) = 153/210;
    ln Co − ln Cp = (0, ln 2, −ln 2) → MG = 1, VG = exp(⅔·ln²2) = 1.377541."""
    p = performance([1.0, 2.0, 4.0], [1.0, 1.0, 8.0])
    assert p.n == 3 and p.fac2 == 1.0
    assert p.fb == pytest.approx(-6 / 17)
    assert p.nmse == pytest.approx(153 / 210)
    assert p.mg == pytest.approx(1.0)
    assert p.vg == pytest.approx(math.exp(2 / 3 * math.log(2) ** 2))
    assert performance([1.0, 1.0], [2.5, 0.3]).fac2 == 0.0
    with pytest.raises(ValueError):
        performance([1.0, 0.0], [1.0, 1.0])


@needs_data
def test_overall_performance_meets_acceptance() -> None:
    result = evaluate()
    overall = result["groups"]["all"]
    assert overall["runs"] == 53 and result["pairs_used"] >= 250
    arc = overall["arc_max"]
    assert arc["fac2"] >= 0.7, arc
    assert abs(arc["fb"]) <= 0.3, arc
    cic = overall["cic"]
    assert cic["fac2"] >= 0.7 and abs(cic["fb"]) <= 0.3, cic


@needs_data
def test_prediction_for_one_arc_by_hand() -> None:
    """Run 5 (class C, U = 5.93 m/s, Q = 77.8 g/s), 100 m arc, hs 0.46 m, hr 1.5 m, zi 782 m:
    σy = 0.11·100/√1.01 = 10.9454, σz = 0.08·100/√1.02 = 7.92118;
    C = Q/(2π u σy σz)·[e^{−(1.04)²/2σz²} + e^{−(1.96)²/2σz²}] = 0.0480918 g/m³ … ×1000 mg."""
    arc = next(a for a in load_arcs() if a.run == 5 and a.arc_m == 100.0)
    cmax, _ = predict(arc)
    sy, sz = 11.0 / math.sqrt(1.01), 8.0 / math.sqrt(1.02)
    expected = 77.8 / (2 * math.pi * 5.93 * sy * sz) * (
        math.exp(-(1.04**2) / (2 * sz**2)) + math.exp(-(1.96**2) / (2 * sz**2)))
    assert cmax == pytest.approx(expected * 1000.0, rel=1e-6)


@needs_data
def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["groups"]) == {"A", "B", "C", "D", "E", "F", "all"}


def test_missing_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="Prairie Grass data not found"):
        load_arcs(tmp_path)
