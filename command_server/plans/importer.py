"""Reading plans from import files: a JSON template and an XLSX workbook. Pure functions over bytes.

XLSX layout (headers in Chinese, see ``build_template``):
- sheet 预案 — one row per plan: 预案键 (links the other sheets), 预案名称, 预案编号, 预案类别 (综合/专项/部门/
  企业), 发布单位, 适用事件类型 (labels or codes, separated by 、), 适用级别 (I、II…), 污染物 (液氨(7664-41-7)、
  氨水), 适用区县 (unit names or codes), 处置要点, 所需资源 (吸附棉:200:件、围油栏:500:米);
- sheet 步骤 — 预案键, 序号, 处置措施, 责任角色, 责任单位, 时限(分钟);
- sheet 通知 — 预案键, 级别, 用户 (usernames), 角色, 单位.
Errors name the sheet and the row Excel shows.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException

from ..org.schemas import DUTY_ROLES
from .matching import TYPE_LABELS
from .schemas import KIND_LABELS
from .service import Candidate

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PLANS = 200
MAX_ROWS = 5000

PLAN_COLUMNS = [("预案键", "key"), ("预案名称", "title"), ("预案编号", "code"), ("预案类别", "kind"),
                ("发布单位", "issuing_unit"), ("适用事件类型", "event_types"), ("适用级别", "levels"),
                ("污染物", "pollutants"), ("适用区县", "districts"), ("处置要点", "guide"), ("所需资源", "resources")]
STEP_COLUMNS = [("预案键", "key"), ("序号", "order"), ("处置措施", "action"), ("责任角色", "role"),
                ("责任单位", "unit"), ("时限(分钟)", "deadline")]
NOTIFY_COLUMNS = [("预案键", "key"), ("级别", "level"), ("用户", "users"), ("角色", "roles"), ("单位", "units")]
SHEETS = {"预案": PLAN_COLUMNS, "步骤": STEP_COLUMNS, "通知": NOTIFY_COLUMNS}

_KIND_BY_LABEL = {**{v: k for k, v in KIND_LABELS.items()}, **{k: k for k in KIND_LABELS},
                  **{f"{v}预案": k for k, v in KIND_LABELS.items()}}
_TYPE_BY_LABEL = {**{v: k for k, v in TYPE_LABELS.items()}, **{k: k for k in TYPE_LABELS},
                  "水": "water", "大气": "air", "土壤": "soil", "危化品泄漏": "hazchem_leak",
                  "危险化学品": "hazchem_leak",
                  "危废": "hazardous_waste", "核与辐射": "radiation", "火灾爆炸": "fire_explosion"}
_ROLE_BY_LABEL = {**{v: k for k, v in DUTY_ROLES.items()}}
_LEVEL_BY_LABEL = {"I": "I", "II": "II", "III": "III", "IV": "IV", "Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III", "Ⅳ": "IV",
                   "1": "I", "2": "II", "3": "III", "4": "IV",
                   "特别重大": "I", "重大": "II", "较大": "III", "一般": "IV"}
_SPLIT = re.compile(r"[、,，;；\n]+")


class ImportFormatError(ValueError):
    """The file is not a plan template at all (rendered as 415/422 by the route)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# --- JSON ---------------------------------------------------------------------------------------------------


def parse_json(data: bytes) -> list[Candidate]:
    """One plan object, ``{"plans": [...]}``, an export document ``{"plan": {...}}`` or a list of plans."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise ImportFormatError("the file is not valid UTF-8 JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("plans"), list):
        items = doc["plans"]
    elif isinstance(doc, dict) and isinstance(doc.get("plan"), dict):
        items = [doc["plan"]]
    elif isinstance(doc, dict):
        items = [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        raise ImportFormatError("expected a plan object or a list of plans")
    if not items:
        raise ImportFormatError("the file contains no plan")
    if len(items) > MAX_PLANS:
        raise ImportFormatError(f"at most {MAX_PLANS} plans can be imported at once")
    out = []
    for i, item in enumerate(items):
        label = f"plans[{i}]"
        if not isinstance(item, dict):
            out.append(Candidate(label, {}, {}, {}, {}, [{"plan": label, "field": "", "message": "not an object"}]))
            continue
        raw = {k: v for k, v in item.items() if k not in ("id", "version", "status", "created_at", "updated_at")}
        usernames: dict[str, list[str]] = {}
        for lv, lst in (raw.get("notifications") or {}).items() if isinstance(raw.get("notifications"), dict) else ():
            if isinstance(lst, dict) and isinstance(lst.get("usernames"), list):
                usernames[lv] = [str(u) for u in lst.pop("usernames")]
        out.append(Candidate(label, raw, {}, usernames, {}, []))
    return out


# --- XLSX ---------------------------------------------------------------------------------------------------


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    t = str(v).strip()
    return t or None


def _rows(wb: Any, sheet: str, columns: list[tuple[str, str]], required: bool) -> list[tuple[int, dict[str, Any]]]:
    if sheet not in wb.sheetnames:
        if required:
            raise ImportFormatError(f"the workbook lacks the sheet {sheet!r}; sheets: 预案, 步骤, 通知")
        return []
    it = wb[sheet].iter_rows(values_only=True)
    header = [(_text(v) or "") for v in next(it, ())]
    names = dict(columns)
    missing = [h for h, f in columns if f == "key" and h not in header]
    if missing:
        raise ImportFormatError(f"sheet {sheet}: the header row lacks {', '.join(missing)}")
    idx = {i: names[h] for i, h in enumerate(header) if h in names}
    out = []
    for number, raw in enumerate(it, start=2):
        values = {f: _text(raw[i]) if i < len(raw) else None for i, f in idx.items()}
        if any(values.values()):
            out.append((number, values))
        if len(out) > MAX_ROWS:
            raise ImportFormatError(f"sheet {sheet}: at most {MAX_ROWS} rows")
    return out


def _split(v: str | None) -> list[str]:
    return [p.strip() for p in _SPLIT.split(v or "") if p.strip()]


def _pollutant(text: str) -> dict[str, Any]:
    m = re.fullmatch(r"(.*?)[(（]\s*([\d\-]+)\s*[)）]", text)
    if m:
        return {"name": m.group(1).strip(), "cas": m.group(2)}
    if re.fullmatch(r"\d{2,7}-\d{2}-\d", text):
        return {"name": "", "cas": text}
    return {"name": text}


def parse_xlsx(data: bytes) -> list[Candidate]:
    if not data.startswith(b"PK\x03\x04"):
        raise ImportFormatError("the file is not an XLSX workbook", status=415)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
        raise ImportFormatError("the file is not an XLSX workbook", status=415) from None
    try:
        plans = _rows(wb, "预案", PLAN_COLUMNS, True)
        steps = _rows(wb, "步骤", STEP_COLUMNS, False)
        notes = _rows(wb, "通知", NOTIFY_COLUMNS, False)
    finally:
        wb.close()
    if not plans:
        raise ImportFormatError("sheet 预案 contains no plan")
    if len(plans) > MAX_PLANS:
        raise ImportFormatError(f"at most {MAX_PLANS} plans can be imported at once")
    by_key: dict[str, Candidate] = {}
    out: list[Candidate] = []
    orphans: list[dict[str, Any]] = []
    for row, v in plans:
        key = v.get("key") or f"#{row}"
        label = f"预案!{row}"
        c = Candidate(label, {}, {"": label}, {}, {}, [])
        if key in by_key:
            c.errors.append({"plan": label, "sheet": "预案", "row": row, "field": "预案键",
                             "message": f"预案键 {key!r} is used twice (first on {by_key[key].label})"})
        by_key.setdefault(key, c)
        raw: dict[str, Any] = {"title": v.get("title") or "", "code": v.get("code"),
                               "issuing_unit": v.get("issuing_unit") or "", "guide": v.get("guide") or "",
                               "steps": [], "notifications": {}}
        kind = v.get("kind")
        raw["kind"] = _KIND_BY_LABEL.get(kind or "", kind)
        raw["event_types"] = [_TYPE_BY_LABEL.get(t, t) for t in _split(v.get("event_types"))]
        raw["levels"] = [_LEVEL_BY_LABEL.get(t.upper().removesuffix("级"), t) for t in _split(v.get("levels"))]
        raw["pollutants"] = [_pollutant(t) for t in _split(v.get("pollutants"))]
        resources = []
        for t in _split(v.get("resources")):
            parts = [p.strip() for p in re.split(r"[:：]", t)]
            res: dict[str, Any] = {"type": parts[0], "quantity": parts[1] if len(parts) > 1 else 1}
            if len(parts) > 2:
                res["unit"] = parts[2]
            resources.append(res)
        raw["resources"] = resources
        if v.get("districts"):
            c.unit_names["area"] = _split(v.get("districts"))
        c.raw = raw
        out.append(c)
    for row, v in steps:
        c = by_key.get(v.get("key") or "")
        if c is None:
            orphans.append({"plan": None, "sheet": "步骤", "row": row, "field": "预案键",
                            "message": f"预案键 {v.get('key')!r} is not on sheet 预案"})
            continue
        i = len(c.raw["steps"])
        role = v.get("role")
        step: dict[str, Any] = {"order": v.get("order"), "action": v.get("action") or "",
                                "responsible_role": _ROLE_BY_LABEL.get(role or "", role),
                                "deadline_minutes": v.get("deadline")}
        if v.get("unit"):
            c.unit_names[f"steps.{i}"] = v["unit"]
            step["responsible_unit_id"] = 0  # replaced by the resolved id (or an error)
        c.raw["steps"].append(step)
        c.locations[f"steps.{i}"] = f"步骤!{row}"
    for row, v in notes:
        c = by_key.get(v.get("key") or "")
        if c is None:
            orphans.append({"plan": None, "sheet": "通知", "row": row, "field": "预案键",
                            "message": f"预案键 {v.get('key')!r} is not on sheet 预案"})
            continue
        lv = _LEVEL_BY_LABEL.get((v.get("level") or "").upper().removesuffix("级"), v.get("level") or "?")
        lst = c.raw["notifications"].setdefault(lv, {"user_ids": [], "roles": [], "unit_ids": []})
        lst["roles"] += [_ROLE_BY_LABEL.get(r, r) for r in _split(v.get("roles"))]
        if v.get("users"):
            c.usernames.setdefault(lv, []).extend(_split(v.get("users")))
        if v.get("units"):
            c.unit_names[f"notifications.{lv}"] = [*c.unit_names.get(f"notifications.{lv}", []),
                                                   *_split(v.get("units"))]
        c.locations[f"notifications.{lv}"] = f"通知!{row}"
    if orphans:
        # Rows that belong to no plan: reported on their own, never silently dropped.
        out.append(Candidate("orphans", {}, {}, {}, {}, orphans))
    return out


def build_template() -> bytes:
    """An XLSX template with the three sheets and one example plan."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "预案"
    sheets = [ws, wb.create_sheet("步骤"), wb.create_sheet("通知")]
    examples = [
        [["P1", "某化工企业液氨泄漏现场处置预案", "QY-2026-01", "企业", "危险化学品泄漏、大气污染", "III、IV",
          "液氨(7664-41-7)", "临港区生态环境分局", "液氨储罐泄漏时，立即关闭紧急切断阀，下风向疏散。",
          "防化服:10:套、应急监测车:1:台"]],
        [["P1", 1, "接报后核实泄漏点位、泄漏量和气象条件", "值班员", None, 10],
         ["P1", 2, "派出应急监测组在厂界和下风向敏感点布点监测氨浓度", None, "应急管理处", 30]],
        [["P1", "IV", "operator", "带班领导", None], ["P1", "III", "commander、operator", None, "应急管理处"]],
    ]
    for sheet, (title, cols) in zip(sheets, SHEETS.items(), strict=True):
        assert sheet.title == title
        sheet.append([h for h, _ in cols])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for col in range(1, len(cols) + 1):
            sheet.column_dimensions[sheet.cell(row=1, column=col).column_letter].width = 18
    for sheet, rows in zip(sheets, examples, strict=True):
        for r in rows:
            sheet.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parse(data: bytes, filename: str | None, content_type: str | None) -> list[Candidate]:
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx") or (content_type or "").endswith("sheet"):
        return parse_xlsx(data)
    if name.endswith(".json") or "json" in (content_type or "") or data.lstrip()[:1] in (b"{", b"["):
        return parse_json(data)
    raise ImportFormatError("upload a JSON plan template or an XLSX workbook", status=415)
