"""Pasquill–Turner stability classes.

Two published schemes are implemented:

* Pasquill (1961) as tabulated in Turner's *Workbook of Atmospheric Dispersion Estimates*
  (1970), Table 1: 10 m wind speed with daytime insolation or night-time cloud cover.
* Turner's (1964) net-radiation-index (NRI) method, used when total cloud cover *and*
  ceiling height are known (the scheme behind the STAR program and EPA's meteorological
  monitoring guidance).

Pasquill's intermediate classes (A–B, B–C, C–D) are resolved to the *more stable* of the
pair: for the near-ground releases this system mostly models, a more stable class gives
higher ground-level concentrations and larger zones, i.e. the conservative side. The blank
night/<2 m/s cell of Pasquill's table is filled with F, which is what the NRI table gives
for the same conditions (its class 7 / "G" is also reported as F because the Briggs σ
formulas stop at F).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from .checks import as_float_array, non_negative_scalar
from .errors import DispersionInputError

_INSOLATION_COLUMNS = {"strong": 0, "moderate": 1, "slight": 2}

# Turner (1970) Table 1 as printed, rows by 10 m wind speed (upper bound, m/s).
_DAY_TABLE_EXACT: tuple[tuple[float, tuple[str, str, str]], ...] = (
    (2.0, ("A", "A-B", "B")),
    (3.0, ("A-B", "B", "C")),
    (5.0, ("B", "B-C", "C")),
    (6.0, ("C", "C-D", "D")),
    (math.inf, ("C", "D", "D")),
)
# Same table with every "X-Y" cell resolved to Y, the more stable class.
_DAY_TABLE: tuple[tuple[float, tuple[str, ...]], ...] = tuple(
    (upper, tuple(cell[-1] for cell in row)) for upper, row in _DAY_TABLE_EXACT
)
# Night columns: (thinly overcast or >= 4/8 low cloud, <= 3/8 cloud).
_NIGHT_TABLE: tuple[tuple[float, tuple[str, str]], ...] = (
    (2.0, ("F", "F")),
    (3.0, ("E", "F")),
    (5.0, ("D", "E")),
    (6.0, ("D", "D")),
    (math.inf, ("D", "D")),
)

# Turner (1964) NRI table: rows (max wind in whole knots, classes for NRI 4,3,2,1,0,-1,-2),
# class numbers 1..7 = A..G.
_NRI_TABLE: tuple[tuple[int, tuple[int, ...]], ...] = (
    (1, (1, 1, 2, 3, 4, 6, 7)),
    (3, (1, 2, 2, 3, 4, 6, 7)),
    (5, (1, 2, 3, 4, 4, 5, 6)),
    (6, (2, 2, 3, 4, 4, 5, 6)),
    (7, (2, 2, 3, 4, 4, 4, 5)),
    (9, (2, 3, 3, 4, 4, 4, 5)),
    (10, (3, 3, 4, 4, 4, 4, 5)),
    (11, (3, 3, 4, 4, 4, 4, 4)),
    (10**9, (3, 4, 4, 4, 4, 4, 4)),
)
_KNOTS_PER_MS = 3600.0 / 1852.0
_FT = 0.3048
_CEILING_LOW_M = 7000 * _FT
_CEILING_HIGH_M = 16000 * _FT
# Used for the insolation class when the NRI method runs without a solar altitude:
# "slight" is the conservative (more stable) guess for near-ground releases.
_INSOLATION_NUMBER = {"strong": 4, "moderate": 3, "slight": 2}
_DEFAULT_INSOLATION_NUMBER = 2


def stability_class(
    wind_speed_ms: float,
    *,
    daytime: bool,
    insolation: str | None = None,
    cloud_cover_tenths: float | None = None,
    ceiling_m: float | None = None,
    solar_altitude_deg: float | None = None,
) -> str:
    """Pasquill stability class A–F from routine surface observations.

    ``wind_speed_ms`` is the 10 m wind; 0 (calm) is accepted because the tables have a row
    for it. With ``cloud_cover_tenths`` *and* ``ceiling_m`` the NRI method is used; by day
    it needs the solar altitude — when ``solar_altitude_deg`` is absent the insolation class
    number is taken from ``insolation`` (strong 4, moderate 3, slight 2) or, failing that,
    assumed "slight" (2), the conservative choice. Otherwise Pasquill's table is used: by
    day ``insolation`` is required (unless cloud cover is 10/10, which is class D), at night
    ``cloud_cover_tenths`` is required.
    """
    u = non_negative_scalar(wind_speed_ms, "wind_speed_ms")
    if insolation is not None and insolation not in _INSOLATION_COLUMNS:
        raise DispersionInputError(
            f"insolation must be 'strong', 'moderate' or 'slight', got {insolation!r}"
        )
    cloud = None
    if cloud_cover_tenths is not None:
        cloud = float(as_float_array(cloud_cover_tenths, "cloud_cover_tenths"))
        if not 0.0 <= cloud <= 10.0:
            raise DispersionInputError("cloud_cover_tenths must be between 0 and 10")
    if ceiling_m is not None:
        ceiling_m = non_negative_scalar(ceiling_m, "ceiling_m")
    if solar_altitude_deg is not None:
        solar_altitude_deg = float(as_float_array(solar_altitude_deg, "solar_altitude_deg"))

    if cloud is not None and ceiling_m is not None:
        nri = net_radiation_index(
            daytime=daytime,
            cloud_cover_tenths=cloud,
            ceiling_m=ceiling_m,
            solar_altitude_deg=solar_altitude_deg,
            insolation=insolation,
        )
        return _class_from_nri(u, nri)
    return _pasquill(u, daytime=daytime, insolation=insolation, cloud=cloud)


def pasquill_class_exact(wind_speed_ms: float, *, daytime: bool, insolation: str | None = None,
                         cloud_cover_tenths: float | None = None) -> str:
    """Pasquill's table cell as printed, e.g. ``"A-B"`` — for display next to the used class."""
    u = non_negative_scalar(wind_speed_ms, "wind_speed_ms")
    if daytime:
        if cloud_cover_tenths is not None and cloud_cover_tenths >= 10:
            return "D"
        if insolation not in _INSOLATION_COLUMNS:
            raise DispersionInputError("daytime classification needs insolation")
        return _lookup(_DAY_TABLE_EXACT, u)[_INSOLATION_COLUMNS[insolation]]
    return _pasquill(u, daytime=False, insolation=None,
                     cloud=None if cloud_cover_tenths is None else float(cloud_cover_tenths))


def _pasquill(u: float, *, daytime: bool, insolation: str | None, cloud: float | None) -> str:
    if cloud is not None and cloud >= 10.0:
        return "D"  # Pasquill: overcast, day or night, is neutral.
    if daytime:
        if insolation is None:
            raise DispersionInputError(
                "daytime stability needs insolation ('strong'/'moderate'/'slight') "
                "or cloud cover with ceiling"
            )
        return _lookup(_DAY_TABLE, u)[_INSOLATION_COLUMNS[insolation]]
    if cloud is None:
        raise DispersionInputError("night-time stability needs cloud_cover_tenths")
    # >= 4/8 low cloud is >= 5/10 in tenths.
    return _lookup(_NIGHT_TABLE, u)[0 if cloud >= 5.0 else 1]


def _lookup(table, u):  # type: ignore[no-untyped-def]
    for upper, row in table:
        if u < upper:
            return row
    return table[-1][1]


def net_radiation_index(
    *,
    daytime: bool,
    cloud_cover_tenths: float,
    ceiling_m: float,
    solar_altitude_deg: float | None = None,
    insolation: str | None = None,
) -> int:
    """Turner's (1964) net radiation index, −2…4."""
    if cloud_cover_tenths >= 10.0 and ceiling_m < _CEILING_LOW_M:
        return 0
    if not daytime:
        return -2 if cloud_cover_tenths <= 4.0 else -1
    if solar_altitude_deg is not None:
        number = insolation_class_number(solar_altitude_deg)
    elif insolation is not None:
        number = _INSOLATION_NUMBER[insolation]
    else:
        number = _DEFAULT_INSOLATION_NUMBER
    if cloud_cover_tenths > 5.0:
        if ceiling_m < _CEILING_LOW_M:
            number -= 2
        elif ceiling_m < _CEILING_HIGH_M:
            number -= 1
        if cloud_cover_tenths >= 10.0:
            number -= 1  # only reached with ceiling >= 7000 ft (lower ones returned 0 above)
        number = max(number, 1)
    return number


def insolation_class_number(solar_altitude_deg: float) -> int:
    """Turner's insolation class from solar altitude: >60° 4, 35–60° 3, 15–35° 2, else 1."""
    if solar_altitude_deg > 60.0:
        return 4
    if solar_altitude_deg > 35.0:
        return 3
    if solar_altitude_deg > 15.0:
        return 2
    return 1


def _class_from_nri(u_ms: float, nri: int) -> str:
    knots = round(u_ms * _KNOTS_PER_MS)
    column = 4 - nri  # NRI 4 is column 0, NRI -2 is column 6
    for max_knots, row in _NRI_TABLE:
        if knots <= max_knots:
            number = row[column]
            break
    return "ABCDEFF"[number - 1]


def solar_altitude_deg(lon_deg: float, lat_deg: float, when: datetime) -> float:
    """Approximate solar altitude (±~0.5°, enough for Turner's 15/35/60° steps).

    Declination and equation of time from the usual low-order Fourier fits (Spencer 1971);
    a naive ``when`` is taken as UTC. No refraction correction.
    """
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    day = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60.0 + when.second / 3600.0
    g = 2.0 * math.pi / 365.0 * (day - 1 + (hours - 12.0) / 24.0)
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    eot_min = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                        - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    solar_time_min = hours * 60.0 + eot_min + 4.0 * lon_deg
    hour_angle = math.radians(solar_time_min / 4.0 - 180.0)
    lat = math.radians(lat_deg)
    sin_alt = (math.sin(lat) * math.sin(decl)
               + math.cos(lat) * math.cos(decl) * math.cos(hour_angle))
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_alt))))
