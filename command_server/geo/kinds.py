"""Chinese labels for layers and feature kinds (table headers, exports, the console's legend)."""

from __future__ import annotations

LAYER_LABELS = {
    "sensitive": "环境敏感目标",
    "resources": "应急资源",
    "risk_sources": "风险源",
    "stations": "监测站点",
    "facilities": "涉水设施",
    "districts": "行政区划",
    "rivers": "河流",
}

KIND_LABELS = {
    # sensitive
    "school": "学校",
    "kindergarten": "幼儿园",
    "hospital": "医院",
    "nursing_home": "养老院",
    "residential": "居民区",
    "water_source_protection": "饮用水水源保护区",
    "nature_reserve": "自然保护区",
    # resources
    "depot": "应急物资库",
    "team": "救援队伍",
    "vehicle": "应急车辆",
    "monitoring_equipment": "监测设备",
    # risk sources
    "chemical_plant": "化工企业",
    "hazardous_waste": "危废处置场所",
    "sewage_plant": "污水处理厂",
    # stations
    "air_station": "空气自动监测站",
    "water_station": "水质自动监测站",
    "met_station": "气象站",
    # river facilities
    "water_intake": "取水口",
    "monitoring_section": "监测断面",
    "dam": "拦河坝",
    "gate": "水闸",
    "emergency_pond": "应急池",
    # districts
    "district": "行政区",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)
