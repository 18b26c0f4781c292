"""Normalised Gaussian factors shared by the plume and puff models.

C = (mass or rate) × g_x × g_y × g_z, each g being a probability density (1/m). Keeping
them separate lets the grid code compute g_z once per downwind column and broadcast it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SQRT_2PI = float(np.sqrt(2.0 * np.pi))
# Reflections kept on each side of the mixed layer; at σz = 1.6·zi (where the well-mixed
# form takes over) the 5th image term is below 1e-5 of the first.
N_LID_IMAGES = 4
# ISC3: beyond σz = 1.6·zi the plume is treated as uniformly mixed below the lid.
WELL_MIXED_SIGMA_Z_OVER_ZI = 1.6


def horizontal_factor(d: NDArray[np.float64], sigma: NDArray[np.float64]) -> NDArray[np.float64]:
    """exp(−d²/2σ²)/(√(2π)σ)."""
    return np.exp(-0.5 * (d / sigma) ** 2) / (SQRT_2PI * sigma)


def vertical_factor(
    z: NDArray[np.float64],
    h: NDArray[np.float64],
    sigma_z: NDArray[np.float64],
    mixing_height: float | None,
) -> NDArray[np.float64]:
    """Vertical density with ground reflection and, with a lid, image sources (1/m).

    With a lid the plume is cut off (0) when the release or the receptor is above it,
    as ISC3 does for a plume that has penetrated the inversion.
    """
    if mixing_height is None:
        return (np.exp(-0.5 * ((z - h) / sigma_z) ** 2)
                + np.exp(-0.5 * ((z + h) / sigma_z) ** 2)) / (SQRT_2PI * sigma_z)
    zi = mixing_height
    total = np.zeros(np.broadcast_shapes(np.shape(z), np.shape(h), np.shape(sigma_z)))
    for n in range(-N_LID_IMAGES, N_LID_IMAGES + 1):
        shift = 2.0 * n * zi
        total = total + np.exp(-0.5 * ((z - h + shift) / sigma_z) ** 2)
        total = total + np.exp(-0.5 * ((z + h + shift) / sigma_z) ** 2)
    reflected = total / (SQRT_2PI * sigma_z)
    mixed = np.where(sigma_z > WELL_MIXED_SIGMA_Z_OVER_ZI * zi, 1.0 / zi, reflected)
    return np.where((h > zi) | (z > zi), 0.0, mixed)
