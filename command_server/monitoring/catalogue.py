"""The metrics a source may report: code → (Chinese name, English name, unit). Units follow the national
standards the stations report under (GB 3838 surface water, GB 3095 ambient air)."""

from __future__ import annotations

from typing import NamedTuple


class MetricDef(NamedTuple):
    code: str
    name_zh: str
    name_en: str
    unit: str


_DEFS = [
    # water quality
    MetricDef("pH", "pH值", "pH", ""),
    MetricDef("DO", "溶解氧", "Dissolved oxygen", "mg/L"),
    MetricDef("CODMn", "高锰酸盐指数", "Permanganate index", "mg/L"),
    MetricDef("COD", "化学需氧量", "COD", "mg/L"),
    MetricDef("NH3-N", "氨氮", "Ammonia nitrogen", "mg/L"),
    MetricDef("TP", "总磷", "Total phosphorus", "mg/L"),
    MetricDef("TN", "总氮", "Total nitrogen", "mg/L"),
    MetricDef("turbidity", "浊度", "Turbidity", "NTU"),
    MetricDef("water_temp", "水温", "Water temperature", "℃"),
    # ambient air
    MetricDef("SO2", "二氧化硫", "SO2", "μg/m³"),
    MetricDef("NO2", "二氧化氮", "NO2", "μg/m³"),
    MetricDef("CO", "一氧化碳", "CO", "mg/m³"),
    MetricDef("O3", "臭氧", "O3", "μg/m³"),
    MetricDef("PM10", "可吸入颗粒物", "PM10", "μg/m³"),
    MetricDef("PM2.5", "细颗粒物", "PM2.5", "μg/m³"),
    MetricDef("VOCs", "挥发性有机物", "VOCs", "mg/m³"),
    MetricDef("NH3", "氨气", "Ammonia (gas)", "mg/m³"),
    MetricDef("Cl2", "氯气", "Chlorine", "mg/m³"),
    MetricDef("H2S", "硫化氢", "Hydrogen sulfide", "mg/m³"),
    # meteorology
    MetricDef("temperature", "气温", "Air temperature", "℃"),
    MetricDef("humidity", "相对湿度", "Relative humidity", "%"),
    MetricDef("pressure", "气压", "Air pressure", "hPa"),
    MetricDef("wind_speed", "风速", "Wind speed", "m/s"),
    MetricDef("wind_dir", "风向", "Wind direction", "°"),
    MetricDef("rainfall", "降雨量", "Rainfall", "mm"),
    # risk-source process monitoring
    MetricDef("tank_level", "储罐液位", "Tank level", "%"),
    MetricDef("tank_pressure", "储罐压力", "Tank pressure", "MPa"),
    MetricDef("tank_temp", "储罐温度", "Tank temperature", "℃"),
    MetricDef("discharge_flow", "排放流量", "Discharge flow", "m³/h"),
    MetricDef("equipment_state", "设备状态", "Equipment state (1 running, 0 stopped, -1 fault)", ""),
]

METRICS: dict[str, MetricDef] = {m.code: m for m in _DEFS}

# default metrics per feature kind (a source may list others from the catalogue)
DEFAULT_METRICS: dict[str, list[str]] = {
    "water_station": ["pH", "DO", "CODMn", "NH3-N", "TP", "TN"],
    "air_station": ["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"],
    "met_station": ["temperature", "humidity", "pressure", "wind_speed", "wind_dir", "rainfall"],
    "chemical_plant": ["VOCs", "NH3", "Cl2", "tank_pressure", "tank_temp", "equipment_state"],
    "hazardous_waste": ["VOCs", "H2S", "tank_temp", "equipment_state"],
    "sewage_plant": ["COD", "NH3-N", "pH", "TP", "discharge_flow", "equipment_state"],
}

# feature kind → category
CATEGORY_OF_KIND: dict[str, str] = {
    "water_station": "water",
    "air_station": "air",
    "met_station": "meteorology",
}
SOURCE_LAYERS = ("stations", "risk_sources")


def category_for(layer: str, kind: str) -> str:
    if layer == "risk_sources":
        return "risk_source"
    return CATEGORY_OF_KIND.get(kind, "water" if "water" in kind else "air" if "air" in kind else "meteorology")


def metric_unit(code: str) -> str:
    m = METRICS.get(code)
    return m.unit if m else ""


def metric_name(code: str) -> str:
    m = METRICS.get(code)
    return m.name_zh if m else code
