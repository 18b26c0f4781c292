"""Alarm intake settings. Module constants: they change with a release, not at run time."""

from __future__ import annotations

import datetime as dt

# Duplicate suggestion (ALM-1): an open alarm of the same type this close in space and time is offered for
# merging. Distance is geodesic on WGS-84; time compares each alarm's best-known event time.
DUPLICATE_RADIUS_M = 1000.0
DUPLICATE_WINDOW = dt.timedelta(hours=2)
DUPLICATE_LIMIT = 10

# Public-opinion screening of complaints (ALM-5, 002 §5.1.1.1): words that suggest media attention, a crowd,
# or harm to people. A flagged complaint is shown first to the district and can be unflagged by staff.
OPINION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "media": ("媒体", "记者", "曝光", "报道", "电视台", "网络", "微博", "抖音", "朋友圈", "热搜", "舆情", "网帖"),
    "crowd": ("聚集", "群体", "围堵", "上访", "信访", "联名", "多名居民", "大量居民", "村民"),
    "harm": ("中毒", "死亡", "住院", "昏迷", "呕吐", "头晕", "死鱼", "鱼死"),
    "repeat": ("多次投诉", "反复投诉", "长期", "一直没人管", "无人处理", "屡次"),
}
