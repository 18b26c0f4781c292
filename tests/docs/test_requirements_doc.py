"""docs/requirements.md stays true: a row for every requirement ID, and every named test exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "REQUIREMENTS.md"
DOC = ROOT / "docs" / "requirements.md"
ID = re.compile(r"^[A-Z]+-\d+$")


def _rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and ID.match(cells[0]):
            assert cells[0] not in rows, f"two rows for {cells[0]}"
            rows[cells[0]] = dict(zip(("id", "req", "status", "where", "tests"), cells, strict=True))
    return rows


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/REQUIREMENTS.md not beside the checkout")
def test_every_requirement_id_has_one_row() -> None:
    ids = re.findall(r"^- ([A-Z]+-\d+) ", SHARED.read_text(encoding="utf-8"), flags=re.M)
    assert len(ids) > 50
    rows = _rows()
    assert sorted(rows) == sorted(ids)


def test_statuses_are_known_and_done_rows_name_existing_tests() -> None:
    for rid, row in _rows().items():
        assert row["status"] in {"done", "partial", "planned"}, rid
        if row["status"] in {"done", "partial"}:
            assert row["tests"], f"{rid} is {row['status']} but names no test"
            for path in re.findall(r"`(tests/[^`:]+)", row["tests"]):
                assert (ROOT / path).exists(), f"{rid} names {path}, which does not exist"
