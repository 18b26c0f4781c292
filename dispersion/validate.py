"""Evaluate the plume model against Project Prairie Grass: ``python -m dispersion.validate``.

Textbook model, nothing fitted: Briggs open-country σ, the Gaussian plume with ground
reflection (and the observed mixing height as a lid when given), the observed 2 m wind as
transport speed (ISC3 does not reduce the wind below the anemometer height), the class
derived from L, source 0.46 m, receptors 1.5 m. Compared per run × arc: the arc maximum
against the plume centreline, and the crosswind-integrated concentration (CIC) against
Q/u·g_z. Pairs whose observed arc maximum is below the 0.1 mg/m³ detection limit are
dropped (MG/VG need logarithms). ``--so2-correction`` multiplies the observations by Barad's
Table 5.4 factors (run 12 at 200 m, a likely typo of 0.09, is skipped).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .plume import crosswind_integrated_concentration, plume_concentration
from .prairie_grass import DETECTION_LIMIT_MG_M3, ArcObservation, load_arcs
from .stats import Performance, performance

CLASSES = ("A", "B", "C", "D", "E", "F")


@dataclass(frozen=True)
class Pair:
    obs: ArcObservation
    cmax_obs: float
    cmax_pred: float
    cic_obs: float
    cic_pred: float


def predict(obs: ArcObservation) -> tuple[float, float]:
    """(arc-max mg/m³, CIC mg/m²) predicted for one arc."""
    kw: dict[str, Any] = {"mixing_height_m": obs.zi_m}
    cmax = plume_concentration(obs.q_gps, obs.u_mps, obs.arc_m, 0.0, obs.sampler_height_m,
                               obs.release_height_m, obs.stability, "rural", **kw)
    cic = crosswind_integrated_concentration(obs.q_gps, obs.u_mps, obs.arc_m, obs.sampler_height_m,
                                             obs.release_height_m, obs.stability, "rural", **kw)
    return float(cmax) * 1000.0, float(cic) * 1000.0


def pairs(arcs: Sequence[ArcObservation], *, so2_correction: bool = False) -> list[Pair]:
    out = []
    for obs in arcs:
        factor = 1.0
        if so2_correction and obs.so2_corr_factor is not None and obs.so2_corr_factor > 0.5:
            factor = obs.so2_corr_factor
        cmax_obs = obs.cmax_mg_m3 * factor
        if cmax_obs < DETECTION_LIMIT_MG_M3 or obs.cic_mg_m2 <= 0.0:
            continue
        cmax_pred, cic_pred = predict(obs)
        out.append(Pair(obs, cmax_obs, cmax_pred, obs.cic_mg_m2 * factor, cic_pred))
    return out


def evaluate(directory: Path | None = None, *, so2_correction: bool = False) -> dict[str, Any]:
    arcs = load_arcs(directory)
    ps = pairs(arcs, so2_correction=so2_correction)
    groups: dict[str, list[Pair]] = {c: [p for p in ps if p.obs.stability == c] for c in CLASSES}
    groups["all"] = ps

    def block(sel: list[Pair]) -> dict[str, Any] | None:
        if not sel:
            return None
        cm: Performance = performance([p.cmax_obs for p in sel], [p.cmax_pred for p in sel])
        ci: Performance = performance([p.cic_obs for p in sel], [p.cic_pred for p in sel])
        return {"runs": len({p.obs.run for p in sel}), "arc_max": cm.as_dict(), "cic": ci.as_dict()}

    return {
        "dataset": "Project Prairie Grass (Barad 1958), runs with meteorology",
        "pairs_total": len(arcs),
        "pairs_used": len(ps),
        "dropped_below_detection_limit": len(arcs) - len(ps),
        "so2_correction": so2_correction,
        "groups": {k: block(v) for k, v in groups.items()},
    }


def format_table(result: dict[str, Any]) -> str:
    head = (f"{'class':<6}{'runs':>5}{'n':>5} | {'FAC2':>5}{'FB':>7}{'NMSE':>6}{'MG':>6}{'VG':>6}"
            f" | {'FAC2':>5}{'FB':>7}{'NMSE':>6}{'MG':>6}{'VG':>6}")
    lines = [f"{'':<16} | {'arc maximum':^30} | {'crosswind integrated':^30}", head, "-" * len(head)]
    for name, blk in result["groups"].items():
        if blk is None:
            continue
        a, c = blk["arc_max"], blk["cic"]
        lines.append(
            f"{name:<6}{blk['runs']:>5}{a['n']:>5} | {a['fac2']:5.2f}{a['fb']:7.2f}{a['nmse']:6.2f}"
            f"{a['mg']:6.2f}{a['vg']:6.2f} | {c['fac2']:5.2f}{c['fb']:7.2f}{c['nmse']:6.2f}"
            f"{c['mg']:6.2f}{c['vg']:6.2f}"
        )
    lines.append(f"pairs used {result['pairs_used']} of {result['pairs_total']} "
                 f"(dropped below {DETECTION_LIMIT_MG_M3} mg/m3: {result['dropped_below_detection_limit']}); "
                 f"SO2 correction: {'on' if result['so2_correction'] else 'off'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispersion.validate", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--data", type=Path, default=None, help="Prairie Grass folder")
    parser.add_argument("--so2-correction", action="store_true", help="apply Barad Table 5.4 factors")
    args = parser.parse_args(argv)
    result = evaluate(args.data, so2_correction=args.so2_correction)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
