"""The roster as a spreadsheet: one row per shift and position, Chinese headers, Shanghai times.

Pure function over data so it runs in a worker thread (openpyxl is CPU work that must not stall the loop).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from .rotation import TZ

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = ["日期", "星期", "班次", "开始时间", "结束时间", "岗位", "应到人数", "实到人数", "值班人员", "联系电话",
           "缺员"]
_WIDTHS = [12, 8, 10, 17, 17, 12, 10, 10, 28, 34, 8]
WEEKDAYS = "一二三四五六日"
_GAP_FILL = PatternFill("solid", fgColor="FFF1F0")
_GAP_FONT = Font(color="C0392B", bold=True)


def filename(first: dt.date, last: dt.date) -> str:
    return f"值班表_{first:%Y%m%d}-{last:%Y%m%d}.xlsx"


def _local(value: dt.datetime) -> str:
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def build(shifts: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "值班表"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for sh in shifts:
        day: dt.date = sh["day"]
        for slot in sh["positions"]:
            people = slot["people"]
            ws.append([day.isoformat(), f"星期{WEEKDAYS[day.weekday()]}", sh["name"], _local(sh["starts_at"]),
                       _local(sh["ends_at"]), slot["name"], slot["count"], len(people),
                       "、".join(p["name"] for p in people),
                       "、".join(f"{p['name']} {p['mobile']}" for p in people if p["mobile"]),
                       slot["missing"] or None])
            row = ws.max_row
            for cell in ws[row]:
                # Text cells: a name like "=cmd()" must stay text (spreadsheet injection), a phone keeps its digits.
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                    cell.number_format = "@"
            if slot["missing"]:
                for cell in ws[row]:
                    cell.fill = _GAP_FILL
                ws.cell(row=row, column=len(HEADERS)).font = _GAP_FONT
    for idx, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=idx).column_letter].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
