"""The contacts spreadsheet: one format for export and import, headers in Chinese.

Pure functions over bytes (no database, no HTTP) so they can run in a worker thread: openpyxl is CPU work
that must not stall the event loop for a large directory.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FILENAME = "通讯录.xlsx"
MAX_IMPORT_ROWS = 5000

# Header label → field name; the order is the column order of an export.
COLUMNS: list[tuple[str, str]] = [
    ("姓名", "name"),
    ("单位", "unit"),
    ("职务", "position"),
    ("手机", "mobile"),
    ("办公电话", "office_phone"),
    ("邮箱", "email"),
    ("身份证号", "id_number"),
    ("值班角色", "duty_roles"),
    ("备注", "remark"),
]
HEADERS = [h for h, _ in COLUMNS]
LABELS = dict((f, h) for h, f in COLUMNS)
REQUIRED_HEADERS = ("姓名", "单位")
_WIDTHS = {"姓名": 10, "单位": 28, "职务": 14, "手机": 15, "办公电话": 17, "邮箱": 26, "身份证号": 21,
           "值班角色": 18, "备注": 30}


class NotXlsx(ValueError):
    """The bytes are not an XLSX workbook at all (rendered as 415)."""


class BadTemplate(ValueError):
    """An XLSX workbook, but not in the contacts format (rendered as 422)."""


@dataclass(frozen=True)
class SheetRow:
    row: int  # the row number Excel shows, so error reports point at the right line
    values: dict[str, str | None]


def build(rows: list[list[str | None]]) -> bytes:
    """An XLSX with the Chinese header row and one row per person; every cell is text."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "通讯录"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            # Text cells: Excel must not turn an 18-digit ID into 4.4E+17 or drop a landline's leading zero,
            # and a remark like "=HYPERLINK(…)" must stay text, never become a formula (spreadsheet injection).
            cell.number_format = "@"
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for idx, header in enumerate(HEADERS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=idx).column_letter].width = _WIDTHS.get(header, 14)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed into Excel as a number
    text = str(value).strip()
    return text or None


def read(data: bytes) -> list[SheetRow]:
    """The data rows of the first sheet, keyed by field name; blank rows are skipped."""
    if not data.startswith(b"PK\x03\x04"):
        raise NotXlsx("the file is not an XLSX workbook")
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise NotXlsx("the file is not an XLSX workbook") from exc
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise BadTemplate("the workbook has no sheet")
        rows = ws.iter_rows(values_only=True)
        header = [(_text(v) or "") for v in next(rows, ())]
        missing = [h for h in REQUIRED_HEADERS if h not in header]
        if missing:
            raise BadTemplate(f"the header row lacks {', '.join(missing)}; expected: {', '.join(HEADERS)}")
        fields = {i: dict(COLUMNS)[h] for i, h in enumerate(header) if h in dict(COLUMNS)}
        out: list[SheetRow] = []
        for number, raw in enumerate(rows, start=2):
            values = {f: _text(raw[i]) if i < len(raw) else None for i, f in fields.items()}
            if not any(values.values()):
                continue
            out.append(SheetRow(number, values))
            if len(out) > MAX_IMPORT_ROWS:
                raise BadTemplate(f"at most {MAX_IMPORT_ROWS} rows can be imported at once")
        return out
    finally:
        wb.close()
