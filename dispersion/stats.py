"""Model performance measures of Chang & Hanna (2004), Meteorol. Atmos. Phys. 87, 167–196.

Co observed, Cp predicted. FB > 0 means the model under-predicts on average; MG > 1 the
same in the geometric sense. Acceptance guidance from that paper for research-grade
field data: FAC2 ≥ 0.5, |FB| ≤ 0.3, NMSE ≤ 1.5, 0.7 ≤ MG ≤ 1.3, VG ≤ 4.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from .errors import DispersionInputError


@dataclass(frozen=True)
class Performance:
    n: int
    fac2: float
    fb: float
    nmse: float
    mg: float
    vg: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def performance(observed: ArrayLike, predicted: ArrayLike) -> Performance:
    co = np.asarray(observed, dtype=np.float64)
    cp = np.asarray(predicted, dtype=np.float64)
    if co.shape != cp.shape or co.size == 0:
        raise DispersionInputError("observed and predicted must be non-empty and the same shape")
    if np.any(co <= 0.0) or np.any(cp <= 0.0):
        # MG and VG take logarithms; callers drop pairs below the detection limit first.
        raise DispersionInputError("all observed and predicted values must be > 0")
    mo, mp = co.mean(), cp.mean()
    ratio = cp / co
    log_ratio = np.log(co) - np.log(cp)
    return Performance(
        n=int(co.size),
        fac2=float(np.mean((ratio >= 0.5) & (ratio <= 2.0))),
        fb=float((mo - mp) / (0.5 * (mo + mp))),
        nmse=float(np.mean((co - cp) ** 2) / (mo * mp)),
        mg=float(np.exp(np.mean(log_ratio))),
        vg=float(np.exp(np.mean(log_ratio**2))),
    )
