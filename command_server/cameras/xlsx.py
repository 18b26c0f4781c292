"""The camera spreadsheet: one format for the import template, export and import; headers in Chinese.

Pure functions over bytes and dicts (no database, no HTTP) so that openpyxl runs in a worker thread. Cells
may hold the codes (``ptz_dome``) or the Chinese labels (``云台球机``); a password cell is write-only (the
export leaves it empty, and an empty cell on import keeps the stored password).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from .schemas import KINDS, RECORDING_MODES, CameraIn, split_rtsp_url

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 10 * 1024 * 1024

COLUMNS: list[tuple[str, str]] = [
    ("名称", "name"),
    ("类型", "kind"),
    ("视频地址", "url"),
    ("传输方式", "transport"),
    ("用户名", "username"),
    ("密码", "password"),
    ("经度", "lon"),
    ("纬度", "lat"),
    ("位置", "address"),
    ("所属单位", "unit"),
    ("标签", "tags"),
    ("录像策略", "recording_mode"),
    ("保留天数", "retention_days"),
    ("H.265转码", "transcode_h265"),
    ("启用", "enabled"),
    ("备注", "description"),
]
HEADERS = [h for h, _ in COLUMNS]
LABELS = {f: h for h, f in COLUMNS}
REQUIRED_HEADERS = ("名称", "视频地址")
_WIDTHS = {"名称": 28, "类型": 12, "视频地址": 44, "位置": 30, "所属单位": 22, "标签": 20, "备注": 30}

KIND_ALIASES: dict[str, str] = {**{v: k for k, v in KINDS.items()}, **{k: k for k in KINDS},
                                "枪机": "fixed", "固定枪机": "fixed", "固定": "fixed", "球机": "ptz_dome",
                                "云台": "ptz_dome", "执法仪": "body_cam", "单兵": "body_cam", "车载": "vehicle",
                                "应急指挥车": "vehicle"}
MODE_ALIASES: dict[str, str] = {**{v: k for k, v in RECORDING_MODES.items()}, **{k: k for k in RECORDING_MODES},
                                "连续": "continuous", "紧急": "emergency", "紧急录像": "emergency", "无": "none"}
_TRUE = {"是", "true", "1", "y", "yes", "启用", "开", "√"}
_FALSE = {"否", "false", "0", "n", "no", "停用", "禁用", "关", "×"}


class NotXlsx(ValueError):
    """The bytes are not an XLSX workbook (rendered as 415)."""


class BadTemplate(ValueError):
    """An XLSX workbook, but not in the camera format (rendered as 422)."""


def build(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "摄像机"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            if isinstance(cell.value, str):
                cell.number_format = "@"
                cell.data_type = "s"  # never a formula (spreadsheet injection)
    for idx, header in enumerate(HEADERS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=idx).column_letter].width = _WIDTHS.get(header, 12)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def template() -> bytes:
    return build([["滨江化工园区北门", "云台球机", "rtsp://192.168.10.21:554/Streaming/Channels/101", "tcp",
                   "admin", "", 121.701, 30.884, "临港大道 88 号北门", "临港区生态环境分局", "化工园区,重点",
                   "连续录像", 30, "否", "是", ""]])


def export_row(c: dict[str, Any]) -> list[Any]:
    return [c["name"], KINDS.get(c["kind"], c["kind"]), c["url"], c["transport"], c.get("username") or "", "",
            c.get("lon"), c.get("lat"), c.get("address") or "", c.get("unit_name") or "", ",".join(c["tags"]),
            RECORDING_MODES.get(c["recording_mode"], c["recording_mode"]), c["retention_days"],
            "是" if c["transcode_h265"] else "否", "是" if c["enabled"] else "否", c.get("description") or ""]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def read(data: bytes) -> list[tuple[int, dict[str, str | None]]]:
    """(row number as Excel shows it, {field: text}) for every non-blank data row of the first sheet."""
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
        columns = dict(COLUMNS)
        fields = {i: columns[h] for i, h in enumerate(header) if h in columns}
        out: list[tuple[int, dict[str, str | None]]] = []
        for number, raw in enumerate(rows, start=2):
            values = {f: _text(raw[i]) if i < len(raw) else None for i, f in fields.items()}
            if not any(values.values()):
                continue
            out.append((number, values))
            if len(out) > MAX_IMPORT_ROWS:
                raise BadTemplate(f"at most {MAX_IMPORT_ROWS} rows can be imported at once")
        return out
    finally:
        wb.close()


def _bool(label: str, v: str) -> bool:
    low = v.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{label}: write 是 or 否")


def _number(label: str, v: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"{label}: not a number") from None


def row_to_camera(values: dict[str, Any], units: list[tuple[int, str, str | None]]) -> tuple[CameraIn, set[str]]:
    """A validated camera and the fields the sheet gave (others keep their value on an update).

    ``units`` are (id, name, code) rows; a unit cell may hold either. ValueError with a readable message
    (naming the column) when the row is not acceptable.
    """
    data: dict[str, Any] = {}
    given: set[str] = set()
    for field_name, raw in values.items():
        if raw is None or raw == "":
            continue
        label = LABELS.get(field_name, field_name)
        v = str(raw).strip()
        if field_name == "kind":
            if v not in KIND_ALIASES:
                raise ValueError(f"{label}: unknown type {v} (one of {', '.join(KINDS.values())})")
            data["kind"] = KIND_ALIASES[v]
        elif field_name == "recording_mode":
            if v not in MODE_ALIASES:
                raise ValueError(f"{label}: unknown policy {v} (one of {', '.join(RECORDING_MODES.values())})")
            data["recording_mode"] = MODE_ALIASES[v]
        elif field_name == "transport":
            data["transport"] = v.lower()
        elif field_name in ("lon", "lat"):
            data[field_name] = _number(label, v)
        elif field_name == "retention_days":
            n = _number(label, v)
            if not n.is_integer():
                raise ValueError(f"{label}: a whole number of days")
            data["retention_days"] = int(n)
        elif field_name in ("transcode_h265", "enabled"):
            data[field_name] = _bool(label, v)
        elif field_name == "tags":
            data["tags"] = [t for t in re.split(r"[,，、;；]\s*", v) if t.strip()]
        elif field_name == "unit":
            match = [u for u in units if u[1] == v or (u[2] and u[2] == v)]
            if not match:
                raise ValueError(f"{label}: no unit named {v}")
            if len(match) > 1:
                raise ValueError(f"{label}: {v} names several units; use the unit code")
            data["unit_id"] = match[0][0]
            given.add("unit_id")
            continue
        else:
            data[field_name] = v
        given.add(field_name)
    if "name" not in data:
        raise ValueError("名称: required")
    if "url" not in data:
        raise ValueError("视频地址: required")
    try:
        split_rtsp_url(data["url"])
    except ValueError as exc:
        raise ValueError(f"视频地址: {exc}") from None
    try:
        body = CameraIn.model_validate(data)
    except ValidationError as exc:
        raise ValueError("; ".join(_describe(e) for e in exc.errors(include_url=False))) from None
    given |= {f for f in ("username", "password") if getattr(body, f)}  # credentials taken out of the URL
    return body, given


def _describe(err: Any) -> str:
    loc = [str(x) for x in err.get("loc", ())]
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"{LABELS.get(loc[0], loc[0])}: {msg}" if loc else msg
