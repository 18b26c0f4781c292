"""The bundled chemical table and the levels-of-concern rules."""

import pytest

from dispersion import (
    UnknownChemicalError,
    default_levels,
    get_chemical,
    list_chemicals,
    mg_m3_to_ppm,
    ppm_to_mg_m3,
)

REQUIRED_CAS = {
    "7664-41-7", "7782-50-5", "7783-06-4", "7446-09-5", "7647-01-0", "7664-39-3", "71-43-2",
    "108-88-3", "50-00-0", "75-44-5", "74-90-8", "67-56-1", "107-13-1", "630-08-0", "10102-44-0",
    "7726-95-6", "75-21-8", "67-64-1", "100-42-5", "1330-20-7", "75-01-4", "624-83-9", "107-02-8",
    "75-15-0", "7803-51-2", "7784-42-1", "7782-41-4", "10028-15-6", "302-01-2", "7697-37-2",
    "7664-93-9", "141-78-6", "106-89-8", "67-66-3", "75-09-2", "79-01-6", "108-95-2", "62-53-3",
    "74-98-6", "106-99-0", "1333-74-0", "74-82-8",
}


def test_table_contents() -> None:
    chems = list_chemicals()
    assert len(chems) >= 40
    assert REQUIRED_CAS <= {c.cas for c in chems}
    assert len({c.cas for c in chems}) == len(chems)
    for c in chems:
        assert c.name_zh and c.name_en and c.molecular_weight > 0
        assert c.disposal_zh and c.first_aid_zh and c.summary_en
        for name, lv in c.levels.items():
            assert lv.value > 0 and lv.unit in ("ppm", "mg/m3") and lv.source, (c.name_en, name)
        # tiers must rise with severity within a family
        for fam in ("AEGL", "ERPG"):
            vals = [c.level(f"{fam}-{n}") for n in (1, 2, 3)]
            present = [v.value for v in vals if v is not None]
            assert present == sorted(present), (c.name_en, fam)


@pytest.mark.parametrize("key", ["7782-50-5", "Chlorine", "  CHLORINE ", "氯气", "液氯"])
def test_lookup(key: str) -> None:
    assert get_chemical(key).cas == "7782-50-5"


def test_unknown_chemical() -> None:
    with pytest.raises(UnknownChemicalError):
        get_chemical("unobtainium")
    with pytest.raises(ValueError):
        get_chemical("")


def test_units() -> None:
    # chlorine MW 70.90: 1 ppm = 70.90/24.45 = 2.89980 mg/m³
    assert float(ppm_to_mg_m3(1.0, 70.90)) == pytest.approx(2.899796, rel=1e-6)
    assert float(mg_m3_to_ppm(2.899796, 70.90)) == pytest.approx(1.0, rel=1e-6)


def test_default_levels_follow_aloha_order() -> None:
    cl = [lv.name for lv in default_levels(get_chemical("chlorine"))]
    assert cl == ["AEGL-3", "AEGL-2", "AEGL-1"]
    assert [lv.value for lv in default_levels(get_chemical("chlorine"))] == [20.0, 2.0, 0.5]
    # phosgene has no AEGL-1 (not recommended): two tiers only
    assert [lv.name for lv in default_levels(get_chemical("phosgene"))] == ["AEGL-3", "AEGL-2"]
    # toluene: no AEGL bundled → ERPG
    assert [lv.name for lv in default_levels(get_chemical("toluene"))] == ["ERPG-3", "ERPG-2", "ERPG-1"]
    # acetone: only IDLH; methane: only LEL
    assert [lv.name for lv in default_levels(get_chemical("acetone"))] == ["IDLH"]
    assert [lv.name for lv in default_levels(get_chemical("methane"))] == ["60% LEL", "10% LEL"]
    # PAC follows AEGL, then ERPG
    assert get_chemical("toluene").level("PAC-2").value == 300.0
    assert get_chemical("chlorine").level("PAC-2").value == 2.0
    assert default_levels(get_chemical("chlorine"), "ERPG")[0].value == 20.0
