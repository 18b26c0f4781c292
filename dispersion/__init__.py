"""Atmospheric and river dispersion models for the emergency command system.

Pure computation: no HTTP, no storage. See README.md in this folder for the entry points.
"""

from .chemicals import Chemical, LevelValue, get_chemical, list_chemicals
from .errors import (
    DispersionInputError,
    UnknownChemicalError,
    UnknownStabilityClassError,
)
from .levels import LevelOfConcern, default_levels
from .plume import crosswind_integrated_concentration, plume_concentration
from .plume_rise import StackParameters, briggs_final_rise, effective_height
from .puff import puff_concentration, puff_dose, puff_peak_concentration
from .river import RiverSpill, river_spill
from .scenario import Met, Release, ground_field
from .sigmas import briggs_sigmas
from .stability import solar_altitude_deg, stability_class
from .units import mg_m3_to_ppm, ppm_to_mg_m3
from .wind import power_law_exponent, wind_at_height
from .zones import Zone, direction_uncertainty_deg, threat_zones

__all__ = [
    "Chemical",
    "DispersionInputError",
    "LevelOfConcern",
    "LevelValue",
    "Met",
    "Release",
    "RiverSpill",
    "StackParameters",
    "UnknownChemicalError",
    "UnknownStabilityClassError",
    "Zone",
    "briggs_final_rise",
    "briggs_sigmas",
    "crosswind_integrated_concentration",
    "default_levels",
    "direction_uncertainty_deg",
    "effective_height",
    "get_chemical",
    "ground_field",
    "list_chemicals",
    "mg_m3_to_ppm",
    "plume_concentration",
    "power_law_exponent",
    "ppm_to_mg_m3",
    "puff_concentration",
    "puff_dose",
    "puff_peak_concentration",
    "river_spill",
    "solar_altitude_deg",
    "stability_class",
    "threat_zones",
    "wind_at_height",
]
