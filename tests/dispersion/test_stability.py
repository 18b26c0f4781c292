"""Pasquill–Turner classes: table cells and the NRI method."""

from datetime import UTC, datetime

import pytest

from dispersion import DispersionInputError, solar_altitude_deg, stability_class
from dispersion.stability import net_radiation_index, pasquill_class_exact


@pytest.mark.parametrize(
    ("u", "insolation", "expected", "printed"),
    [
        (1.0, "strong", "A", "A"),
        (1.0, "moderate", "B", "A-B"),  # intermediate → the more stable class
        (2.5, "strong", "B", "A-B"),
        (2.5, "slight", "C", "C"),
        (4.0, "moderate", "C", "B-C"),
        (5.5, "moderate", "D", "C-D"),
        (7.0, "strong", "C", "C"),
        (7.0, "slight", "D", "D"),
    ],
)
def test_day_table(u: float, insolation: str, expected: str, printed: str) -> None:
    assert stability_class(u, daytime=True, insolation=insolation) == expected
    assert pasquill_class_exact(u, daytime=True, insolation=insolation) == printed


@pytest.mark.parametrize(
    ("u", "cloud", "expected"),
    [(2.5, 6, "E"), (2.5, 3, "F"), (4.0, 6, "D"), (4.0, 2, "E"), (1.0, 2, "F"), (8.0, 0, "D"), (4.0, 10, "D")],
)
def test_night_table(u: float, cloud: float, expected: str) -> None:
    assert stability_class(u, daytime=False, cloud_cover_tenths=cloud) == expected


def test_overcast_day_is_neutral_and_missing_inputs_raise() -> None:
    assert stability_class(1.0, daytime=True, cloud_cover_tenths=10) == "D"
    with pytest.raises(DispersionInputError):
        stability_class(3.0, daytime=True)
    with pytest.raises(DispersionInputError):
        stability_class(3.0, daytime=False)
    with pytest.raises(DispersionInputError):
        stability_class(-1.0, daytime=True, insolation="strong")
    with pytest.raises(DispersionInputError):
        stability_class(3.0, daytime=True, insolation="blazing")
    with pytest.raises(DispersionInputError):
        stability_class(float("nan"), daytime=True, insolation="strong")


def test_nri_method() -> None:
    # high sun (65° → insolation 4), few clouds → NRI 4; 1 m/s = 1.9 kt → row 2–3 kt → class 1 (A)
    assert stability_class(1.0, daytime=True, cloud_cover_tenths=2, ceiling_m=3000, solar_altitude_deg=65) == "A"
    # 50° → 3, cloud 8/10 with ceiling 1500 m (< 7000 ft) → 3 − 2 = 1; 5 m/s = 9.7 → 10 kt row → D
    assert net_radiation_index(daytime=True, cloud_cover_tenths=8, ceiling_m=1500, solar_altitude_deg=50) == 1
    assert stability_class(5.0, daytime=True, cloud_cover_tenths=8, ceiling_m=1500, solar_altitude_deg=50) == "D"
    # night, ≤ 4/10 cloud → NRI −2; 1.5 m/s = 2.9 → 3 kt → class 7 (G) reported as F
    assert stability_class(1.5, daytime=False, cloud_cover_tenths=3, ceiling_m=9000) == "F"
    # night, > 4/10 → NRI −1; 3 m/s = 5.8 → 6 kt → class 5 (E)
    assert stability_class(3.0, daytime=False, cloud_cover_tenths=6, ceiling_m=3000) == "E"
    # overcast below 7000 ft → NRI 0 → D whatever the sun
    assert stability_class(1.0, daytime=True, cloud_cover_tenths=10, ceiling_m=1000, solar_altitude_deg=70) == "D"
    # 10/10 above 7000 ft but below 16000 ft: 4 − 1 − 1 = 2
    assert net_radiation_index(daytime=True, cloud_cover_tenths=10, ceiling_m=3000, solar_altitude_deg=70) == 2
    # no solar altitude: documented conservative default "slight" (2)
    assert net_radiation_index(daytime=True, cloud_cover_tenths=2, ceiling_m=3000) == 2


def test_solar_altitude() -> None:
    # equinox noon on the equator at Greenwich: sun near the zenith
    assert solar_altitude_deg(0.0, 0.0, datetime(2024, 3, 20, 12, 7, tzinfo=UTC)) > 88.0
    # Beijing (116.4E, 39.9N) summer solstice local solar noon ≈ 04:14 UTC: 90 − 39.9 + 23.44 = 73.5°
    alt = solar_altitude_deg(116.4, 39.9, datetime(2024, 6, 21, 4, 14, tzinfo=UTC))
    assert alt == pytest.approx(73.5, abs=0.5)
    assert solar_altitude_deg(116.4, 39.9, datetime(2024, 6, 21, 16, 0, tzinfo=UTC)) < 0
