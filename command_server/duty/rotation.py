"""Fair rotation: who fills which position of which shift. Pure (no database), so the API and the demo seed
use the same planner and a test can reason about it.

Rule, shift by shift in time order, position by position (most constrained first): among the eligible people
(a duty role the position accepts, not excluded, not on an overlapping shift) take the one with the fewest
shifts so far in this pool; among equals prefer someone who has rested ``MIN_REST`` since their last shift,
then the one whose last shift ended longest ago, then a fixed order. Always taking a minimum count keeps the
counts of a pool within one of each other whenever everyone in it is available; when nobody is, the slot
stays empty and shows as a gap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .schemas import minutes, span_minutes

TZ = ZoneInfo("Asia/Shanghai")
MIN_REST = dt.timedelta(hours=8)
_NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def shift_bounds(day: dt.date, start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    """UTC start and end of a shift that starts on ``day`` (Shanghai wall time)."""
    m = minutes(start)
    starts = dt.datetime.combine(day, dt.time(m // 60, m % 60), tzinfo=TZ)
    ends = starts + dt.timedelta(minutes=span_minutes(start, end))
    return starts.astimezone(dt.UTC), ends.astimezone(dt.UTC)


def local_day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of Shanghai midnight at the start of ``first`` and the end of ``last``."""
    a = dt.datetime.combine(first, dt.time(), tzinfo=TZ)
    b = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=TZ)
    return a.astimezone(dt.UTC), b.astimezone(dt.UTC)


@dataclass
class Candidate:
    person_id: int
    roles: frozenset[str]
    order: int  # stable tie-break (directory order)


@dataclass
class PlannedShift:
    day: dt.date
    definition: dict[str, Any]
    starts_at: dt.datetime
    ends_at: dt.datetime
    picks: list[tuple[str, int]] = field(default_factory=list)  # (position key, person id)

    def missing(self) -> int:
        have: dict[str, int] = defaultdict(int)
        for key, _ in self.picks:
            have[key] += 1
        return sum(max(0, p["count"] - have[p["key"]]) for p in self.definition["positions"])


@dataclass
class Plan:
    shifts: list[PlannedShift]
    counts: dict[str, dict[int, int]]  # position key → person → shifts given

    @property
    def assignments(self) -> int:
        return sum(len(s.picks) for s in self.shifts)

    @property
    def gaps(self) -> int:
        return sum(1 for s in self.shifts if s.missing())


def plan_roster(shift_defs: list[dict[str, Any]], first: dt.date, last: dt.date, people: list[Candidate],
                busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] | None = None) -> Plan:
    """Plan every shift from ``first`` to ``last`` (inclusive). ``busy``: intervals people are already on."""
    busy_map: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for pid, spans in (busy or {}).items():
        busy_map[pid].extend(spans)
    last_end: dict[int, dt.datetime] = {}
    # Fairness is counted per pool (the set of roles a position accepts), so leaders rotate among leaders
    # and officers among officers even when the two positions have different names on different shifts.
    pool_counts: dict[frozenset[str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    shifts: list[PlannedShift] = []
    day = first
    while day <= last:
        for sdef in shift_defs:
            starts, ends = shift_bounds(day, sdef["start"], sdef["end"])
            shifts.append(PlannedShift(day, sdef, starts, ends))
        day += dt.timedelta(days=1)
    shifts.sort(key=lambda s: s.starts_at)

    for ps in shifts:
        on_shift: set[int] = set()
        positions = sorted(ps.definition["positions"],
                           key=lambda p: (sum(1 for c in people if c.roles & set(p["roles"])), p["key"]))
        for pos in positions:
            accepted = frozenset(pos["roles"])
            tally = pool_counts[accepted]
            for _ in range(pos["count"]):
                eligible = [c for c in people if c.roles & accepted and c.person_id not in on_shift
                            and not _overlaps(busy_map[c.person_id], ps.starts_at, ps.ends_at)]
                if not eligible:
                    break

                chosen = min(eligible, key=lambda c, t=tally, at=ps.starts_at: _rank(c, t, last_end, at))
                pid = chosen.person_id
                ps.picks.append((pos["key"], pid))
                on_shift.add(pid)
                tally[pid] += 1
                counts[pos["key"]][pid] += 1
                busy_map[pid].append((ps.starts_at, ps.ends_at))
                last_end[pid] = max(last_end.get(pid, _NEVER), ps.ends_at)
    return Plan(shifts, {k: dict(v) for k, v in counts.items()})


def _rank(c: Candidate, tally: dict[int, int], last_end: dict[int, dt.datetime], starts: dt.datetime
          ) -> tuple[int, int, dt.datetime, int]:
    prev = last_end.get(c.person_id, _NEVER)
    rested = 0 if starts - prev >= MIN_REST else 1
    return tally[c.person_id], rested, prev, c.order


def _overlaps(spans: list[tuple[dt.datetime, dt.datetime]], a: dt.datetime, b: dt.datetime) -> bool:
    return any(s < b and a < e for s, e in spans)
