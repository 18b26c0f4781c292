"""CAP 1.2 (OASIS Common Alerting Protocol) export of a warning."""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from ..monitoring.catalogue import metric_name
from .engine import LEVEL_ZH
from .models import WarningRecord

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_SENDER = "ecs@binjiang-eeb.gov.cn"
RADIUS_KM = {"blue": 1.0, "yellow": 2.0, "orange": 3.0, "red": 5.0}
# level → (urgency, severity, certainty)
MAPPING = {
    "blue": ("Future", "Minor", "Possible"),
    "yellow": ("Expected", "Moderate", "Likely"),
    "orange": ("Expected", "Severe", "Likely"),
    "red": ("Immediate", "Extreme", "Observed"),
}


def cap_time(t: dt.datetime) -> str:
    """CAP dateTime: local time with an explicit offset, no fractional seconds (e.g. 2026-03-16T08:00:00+08:00)."""
    return t.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def warning_to_cap(w: WarningRecord, *, sender: str | None = None) -> bytes:
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        if text is not None:
            el.text = text
        return el

    sender = sender or os.environ.get("ECS_CAP_SENDER") or DEFAULT_SENDER
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    sub(alert, "identifier", f"ECS-WARNING-{w.id}-{int(w.created_at.timestamp())}")
    sub(alert, "sender", sender)
    sub(alert, "sent", cap_time(w.created_at))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", "Cancel" if w.state == "closed" else "Alert")
    sub(alert, "scope", "Public")
    if w.state == "closed":
        sub(alert, "note", w.close_reason or "warning closed")
    urgency, severity, certainty = MAPPING[w.level]
    info = sub(alert, "info")
    sub(info, "language", "zh-CN")
    sub(info, "category", "Env")
    sub(info, "event", f"环境监测{LEVEL_ZH[w.level]}预警：{metric_name(w.metric)}")
    sub(info, "responseType", "Monitor")
    sub(info, "urgency", urgency)
    sub(info, "severity", severity)
    sub(info, "certainty", certainty)
    ec = sub(info, "eventCode")
    sub(ec, "valueName", "ECS_LEVEL")
    sub(ec, "value", w.level)
    sub(info, "effective", cap_time(w.observed_at or w.created_at))
    sub(info, "senderName", "滨江市生态环境应急指挥中心")
    sub(info, "headline", w.title[:160])
    sub(info, "description", w.message)
    sub(info, "instruction", "请责任单位立即核实现场情况并按应急预案处置。")
    for name, value in (("source", w.source_name), ("metric", w.metric),
                        ("value", "" if w.value is None else f"{w.value:g}"),
                        ("threshold", "" if w.threshold is None else f"{w.threshold:g}"), ("unit", w.unit)):
        p = sub(info, "parameter")
        sub(p, "valueName", name)
        sub(p, "value", value)
    area = sub(info, "area")
    sub(area, "areaDesc", w.address or w.source_name)
    if w.lat is not None and w.lon is not None:
        sub(area, "circle", f"{w.lat:.6f},{w.lon:.6f} {RADIUS_KM[w.level]:.1f}")
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)
