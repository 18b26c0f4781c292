"""The incident list's ``q=`` through the character-bigram index (incidents/search.py on core/textsearch.py).

The index may only narrow what the substring search (``ILIKE`` over title, address and pollutant, ``%`` and ``_``
literal) finds, never change it: every test compares with that search or with what it must find; and the
index must follow every insert and edit, be refilled by ``rebuild`` and by migration 0006.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, text

from command_server.core.db import Database
from command_server.core.like import contains
from command_server.core.migrate import upgrade
from command_server.core.services import SERVICES
from command_server.incidents import search, service
from command_server.incidents.models import Incident
from command_server.incidents.schemas import IncidentsQuery
from tests.conftest import PG_URL, Api, AuthedApi


async def _new(client: AuthedApi, title: str, address: str | None = None, pollutant: str | None = None,
               type_: str = "water") -> int:
    r = await client.post("/api/v1/incidents", json={"type": type_, "title": title, "address": address,
                                                      "pollutant": pollutant})
    assert r.status == 201, await r.text()
    return int((await r.json())["id"])


async def _found(client: AuthedApi, q: str, among: set[int]) -> set[int]:
    """The ids among ``among`` that the list finds for ``q``; the page's total must count the same matches."""
    r = await client.get("/api/v1/incidents", params={"q": q, "limit": 500})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["total"] == len(body["items"]), q
    return {x["id"] for x in body["items"]} & among


async def _index_sql(api: Api, sql: str, **params: Any) -> None:
    db = api.app[SERVICES].db
    async with db.write() as s:
        await s.execute(text(sql), params)


def _key(api: Api) -> str:
    """The search table's id column: FTS5's rowid on SQLite, ``incident_id`` on PostgreSQL."""
    return "rowid" if api.app[SERVICES].db.is_sqlite else search.INDEX.key


# (query, which of the three incidents below it finds: "a", "b", "c")
SUBSTRING_CASES: list[tuple[str, str]] = [
    # Chinese, two characters and longer, in any field
    ("储罐", "a"), ("液氨储罐泄漏", "a"), ("化工园区", "a"), ("江北区", "b"), ("废水", "c"), ("工业园", "c"),
    ("泄漏现场", ""), ("区内河水", "b"), ("区江北", ""),
    # Latin and digits, case-insensitive; punctuation and spaces matched literally
    ("plant-7", "c"), ("Plant", "c"), ("riverside RD", "b"), ("riverside-rd", ""), ("12号", "b"), ("cod", "b"),
    ("cr6+", "c"), ("纬三路 8 号", "a"), ("纬三路8号", ""),
    # % and _ mean themselves (core/like.py), not wildcards: "a%b" would match "a_b", "5_%" would match "50%"
    ("50%", "c"), ("%", "c"), ("a_b", "c"), ("_", "c"), ("a%b", ""), ("5_%", ""), ("区_江", ""),
    # one character: the index cannot serve it, the scan does
    ("氨", "a"), ("黑", "b"), ("7", "c"),
    # the query is trimmed, as before the index
    ("  储罐 ", "a"),
]


async def test_text_search_finds_substrings_through_the_index(api: Api) -> None:
    op = await api.as_user("operator")
    made = {"a": await _new(op, "滨江化工园区液氨储罐泄漏", "临港区化工园区纬三路 8 号", "氨", "hazchem_leak"),
            "b": await _new(op, "江北区内河水体发黑", "江北区 Riverside Rd 12号", "COD"),
            "c": await _new(op, "PLANT-7 废水 50% 超标", "a_b 工业园", "Cr6+")}
    every = set(made.values())
    for q, expected in SUBSTRING_CASES:
        assert await _found(op, q, every) == {made[k] for k in expected}, q


async def test_the_list_consults_the_index_and_rebuild_refills_it(api: Api) -> None:
    """Proof that the two-character search goes through the index (a missing entry hides the incident, which a
    scan would still find) and that ``rebuild`` indexes every incident again."""
    op = await api.as_user("operator")
    a = await _new(op, "滨江化工园区液氨储罐泄漏", "纬三路", "氨")
    b = await _new(op, "码头储罐区原油外溢", None, "原油")
    every = {a, b}
    assert await _found(op, "储罐", every) == {a, b}
    await _index_sql(api, f"DELETE FROM {search.INDEX.table} WHERE {_key(api)} = :id", id=a)
    assert await _found(op, "储罐", every) == {b}
    assert await _found(op, "液氨储罐", every) == set()
    assert await _found(op, "罐", every) == {a, b}  # one character scans the incidents, not the index
    db = api.app[SERVICES].db
    async with db.write() as s:
        n = await s.run_sync(lambda sync: search.INDEX.rebuild(sync.connection()))
    async with db.read() as s:
        assert n == await s.scalar(select(func.count()).select_from(Incident))
    assert await _found(op, "储罐", every) == {a, b}
    assert await _found(op, "液氨储罐", every) == {a}


async def test_an_edit_is_found_by_its_new_text_not_its_old(api: Api) -> None:
    op = await api.as_user("operator")
    a = await _new(op, "滨江化工园区液氨储罐泄漏", "临港区纬三路 8 号", "液氨")
    b = await _new(op, "江北区内河水体发黑", "江北区", "COD")
    every = {a, b}
    r = await op.patch(f"/api/v1/incidents/{a}", json={"title": "滨江码头原油外溢", "address": "外高桥港区",
                                                       "pollutant": "原油"})
    assert r.status == 200, await r.text()
    # Chinese-only queries are answered by the index alone: a stale entry would still match the old text
    for old in ("储罐泄漏", "液氨", "纬三路"):
        assert await _found(op, old, every) == set(), old
    for new in ("原油外溢", "外高桥", "原油", "码头"):
        assert await _found(op, new, every) == {a}, new
    # an edit of other fields keeps the entry (the index is rewritten only when a searched field changes)
    r = await op.patch(f"/api/v1/incidents/{b}", json={"evacuated": 120})
    assert r.status == 200, await r.text()
    assert await _found(op, "水体发黑", every) == {b}
    r = await op.patch(f"/api/v1/incidents/{b}", json={"address": None})
    assert r.status == 200, await r.text()
    assert await _found(op, "江北区", every) == {b}  # still in the title
    assert await _found(op, "内河", every) == {b}


# A varied data set: Chinese, Latin in every case, digits, full-width letters, accents, punctuation, % and _.
_PLACES = ["滨江化工园区", "江北区", "临港区纬三路 8 号", "Riverside Rd 12号", "青山县", "B座-3F", "a_b工业园",
           "外高桥港区", "No.12 Hǎi Road", "东湖（南岸）"]
_EVENTS = ["液氨储罐泄漏", "内河水体发黑", "PLANT-7 废水超标", "尾矿库溃坝", "Café 油烟扰民", "ＰＨ值异常 pH 3.5",
           "100% 死鱼", "苯系物 VOCs 超标", "油罐车侧翻，柴油泄漏", "氨氮 NH3-N 超标 2 倍"]
_POLLUTANTS = ["氨", "COD", "Cr6+", "NH3-N", "苯", "柴油", "50%硫酸", "pm2_5", None]


def _queries(values: list[str], rnd: random.Random) -> list[str]:
    """Substrings of the data of one to six characters (as typed and in swapped case), plus edge cases."""
    subs: set[str] = set()
    for v in values:
        for n in range(1, 7):
            subs.update(v[i:i + n] for i in range(len(v) - n + 1))
    picked = rnd.sample(sorted(subs), min(260, len(subs)))
    picked += [s.swapcase() for s in picked[:60]]
    return [*picked, "%", "_", "\\", "a%b", "5_%", "50%", " ", "，", "储罐 泄漏", "PLANT_7", "cafe", "ph值",
            "no.12", "12号", "pm2", "不存在的文字", "riverside rd 12"]


async def test_results_equal_a_plain_ilike_scan(api: Api) -> None:
    """Every query over a varied data set returns exactly what the pre-index ILIKE scan returns, in the same
    order, with the same total (SQLite folds ASCII case only, PostgreSQL all of Unicode: the scan decides)."""
    op = await api.as_user("operator")
    rnd = random.Random(20261206)
    made: list[int] = []
    for _ in range(36):
        made.append(await _new(op, f"{rnd.choice(_PLACES)}{rnd.choice(_EVENTS)}",
                               rnd.choice([*_PLACES, None]), rnd.choice(_POLLUTANTS)))
    for i in made[:6]:  # edited incidents too
        r = await op.patch(f"/api/v1/incidents/{i}", json={"title": f"{rnd.choice(_EVENTS)}（更正）",
                                                           "pollutant": rnd.choice(_POLLUTANTS)})
        assert r.status == 200, await r.text()
    svc = api.app[SERVICES]
    async with svc.db.read() as s:
        rows = (await s.execute(select(Incident.title, Incident.address, Incident.pollutant))).all()
    values = [v for row in rows for v in row if v]
    now = dt.datetime.now(dt.UTC)
    checked = with_hits = 0
    for q in _queries(values, rnd):
        got = await service.list_incidents(svc, IncidentsQuery.model_validate({"q": q, "limit": 500}), now)
        t = q.strip()  # the scan as it was before the index
        async with svc.db.read() as s:
            want = list((await s.scalars(
                select(Incident.id).where(or_(contains(Incident.title, t), contains(Incident.address, t),
                                              contains(Incident.pollutant, t)))
                .order_by(Incident.created_at.desc(), Incident.id.desc()))).all())
        assert [x["id"] for x in got["items"]] == want, q
        assert got["total"] == len(want), q
        checked += 1
        with_hits += bool(want)
    assert checked > 300 and with_hits > 200  # the data set really exercised the index, not only misses


async def test_migration_0006_indexes_the_incidents_that_existed_before_it(
        db_backend: str, pg_schema: str | None, tmp_path: Path) -> None:
    url = PG_URL if db_backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'ecs.db'}"
    db = Database(url, schema=pg_schema)
    try:
        await upgrade(db.engine, "0005")
        now = dt.datetime.now(dt.UTC)
        async with db.engine.begin() as c:  # Core inserts: no mapper events, as rows written before 0006
            await c.execute(insert(Incident.__table__), [
                {"id": 1, "title": "滨江化工园区液氨储罐泄漏", "type": "hazchem_leak", "address": "纬三路 8 号",
                 "pollutant": "氨", "created_at": now},
                {"id": 2, "title": "江北区内河水体发黑", "type": "water", "address": None, "pollutant": "COD",
                 "created_at": now},
                {"id": 3, "title": "PLANT-7 废水超标", "type": "water", "address": "码头储罐区", "pollutant": None,
                 "created_at": now}])
        await upgrade(db.engine)
        dialect = db.engine.dialect.name

        def found(q: str) -> Any:
            return select(Incident.id).where(*search.INDEX.conditions(dialect, q)).order_by(Incident.id)

        async with db.engine.connect() as c:
            assert (await c.scalars(found("储罐"))).all() == [1, 3]
            assert (await c.scalars(found("水体发黑"))).all() == [2]
            assert (await c.scalars(found("cod"))).all() == [2]
            assert (await c.scalars(found("plant-7"))).all() == [3]
            # the index alone (no ILIKE) answers Chinese queries: these ids come from incident_search
            hits = search.INDEX.hits(dialect, "储罐")
            assert hits is not None
            assert sorted((await c.execute(hits)).scalars().all()) == [1, 3]
            if dialect == "postgresql":  # compacted as the alarms' index: no fast-update pending list
                opts = await c.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'ix_incident_search_grams' "
                                           "AND relnamespace = current_schema()::regnamespace"))
                assert opts is not None and "fastupdate=off" in opts
    finally:
        await db.dispose()


async def test_rebuild_compacts_the_index(api: Api) -> None:
    """After a bulk rebuild the index is in the shape where single inserts stay cheap: one FTS5 segment on
    SQLite (no merge paid by a later commit), GIN without a fast-update list on PostgreSQL."""
    op = await api.as_user("operator")
    db = api.app[SERVICES].db
    t = search.INDEX.table
    segments = text(f"SELECT count(DISTINCT segid) FROM {t}_idx")
    if db.is_sqlite:  # no automatic merging: each commit below leaves a segment of its own
        await _index_sql(api, f"INSERT INTO {t}({t}, rank) VALUES ('automerge', 0)")
    else:
        await _index_sql(api, f"ALTER INDEX ix_{t}_grams SET (fastupdate = on)")
    for i in range(3):
        await _new(op, f"第{i}号排口废水超标")
    if db.is_sqlite:
        async with db.read() as s:
            assert (await s.scalar(segments) or 0) >= 3
    async with db.write() as s:
        await s.run_sync(lambda sync: search.INDEX.rebuild(sync.connection()))
    async with db.read() as s:
        if db.is_sqlite:
            assert await s.scalar(segments) == 1
        else:
            opts = await s.scalar(text(f"SELECT reloptions FROM pg_class WHERE relname = 'ix_{t}_grams' "
                                       "AND relnamespace = current_schema()::regnamespace"))
            assert opts is not None and "fastupdate=off" in opts
