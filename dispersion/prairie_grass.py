"""Reader for the Project Prairie Grass CSVs shipped in the shared data folder.

See that folder's README.md: the stability class is *derived* from the Obukhov length
(Golder 1972), not observed; only 53 runs carry meteorology; values under 0.1 mg/m³ are
below the reliable detection limit.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import DispersionInputError

ENV_VAR = "ECS_PRAIRIE_GRASS_DIR"
DETECTION_LIMIT_MG_M3 = 0.1


def data_dir() -> Path:
    """``$ECS_PRAIRIE_GRASS_DIR`` or ``<repo>/../shared/prairie_grass``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parent.parent
    return (repo_root / ".." / "shared" / "prairie_grass").resolve()


@dataclass(frozen=True)
class ArcObservation:
    run: int
    arc_m: float
    q_gps: float
    release_height_m: float
    sampler_height_m: float
    cmax_mg_m3: float
    cic_mg_m2: float
    so2_corr_factor: float | None
    u_mps: float  # measured at 2 m
    stability: str  # from L (Golder 1972) — see the data README
    zi_m: float | None
    sigma_theta_deg: float
    sigy_obs_m: float | None


def _float(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return None if value == -9.0 else value


def load_arcs(directory: Path | None = None) -> list[ArcObservation]:
    """Arc summaries of the runs that have meteorology (``in_met_table`` = 1)."""
    folder = directory or data_dir()
    path = folder / "prairie_grass_arc_summary.csv"
    if not path.is_file():
        raise DispersionInputError(f"Prairie Grass data not found at {path} (set {ENV_VAR})")
    out: list[ArcObservation] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            u = _float(row["U_mps"])
            cls = row["pg_class_from_L"].strip()
            cmax = _float(row["cmax_mg_m3"])
            if u is None or not cls or cmax is None:
                continue
            out.append(ArcObservation(
                run=int(row["run"]), arc_m=float(row["arc_m"]), q_gps=float(row["Q_gps"]),
                release_height_m=float(row["hs_m"]), sampler_height_m=float(row["hr_m"]),
                cmax_mg_m3=cmax, cic_mg_m2=_float(row["cic_mg_m2"]) or 0.0,
                so2_corr_factor=_float(row["so2_corr_factor"]), u_mps=u, stability=cls,
                zi_m=_float(row["zi_m"]), sigma_theta_deg=float(row["sigma_theta_deg"]),
                sigy_obs_m=_float(row["sigy_obs_m"]),
            ))
    return out
