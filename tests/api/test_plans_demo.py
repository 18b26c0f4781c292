"""The demo plan library: twelve valid plans on the demo city, found by Chinese search and by matching."""

from __future__ import annotations

from command_server.core.security import SystemActor
from command_server.core.services import services
from command_server.demo import plans as demo_plans
from command_server.demo.city import seed_city
from command_server.plans import matching
from tests.conftest import Api


async def test_demo_plans_seed_search_and_match(api: Api) -> None:
    svc = services(api.app)
    actor = SystemActor(username="seed")
    await seed_city(svc, actor)
    await demo_plans.seed(svc, actor)
    await demo_plans.seed(svc, actor)  # idempotent: a second run adds nothing
    op = await api.as_user("operator")
    page = await (await op.get("/api/v1/plans", params={"page_size": 100})).json()
    assert page["total"] == len(demo_plans.PLANS) >= 12
    titles = [p["title"] for p in page["items"]]
    for must in ("滨江市突发水污染事件应急预案", "液氨泄漏事故专项应急预案", "放射源丢失被盗辐射事故应急预案"):
        assert must in titles
    detail = [await (await op.get(f"/api/v1/plans/{p['id']}")).json() for p in page["items"]]
    for d in detail:
        assert 5 <= len(d["steps"]) <= 10 and d["guide"] and d["notifications"]
        assert all(lst["user_ids"] for lst in d["notifications"].values())  # commander/operator accounts
    hits = await (await op.get("/api/v1/plans", params={"q": "氨气泄漏"})).json()
    assert hits["items"][0]["title"] == "液氨泄漏事故专项应急预案"
    ammonia = next(d for d in detail if d["title"] == "液氨泄漏事故专项应急预案")
    assert "液氨储罐泄漏" in ammonia["guide"]
    # matching an ammonia leak in the chemical park puts the ammonia plan first
    from sqlalchemy import select

    from command_server.plans.models import Plan
    from command_server.plans.service import plan_facts

    async with svc.db.read() as s:
        facts = [plan_facts(p) for p in (await s.scalars(select(Plan))).all()]
    cold_store = matching.IncidentFacts(type="hazchem_leak", level="IV", pollutant="氨气", lon=121.45, lat=31.2,
                                        title="江北区某冷库氨气泄漏", description="制冷机房液氨管道破裂")
    ranked = matching.rank(cold_store, facts)
    assert ranked[0]["title"] == "液氨泄漏事故专项应急预案"
    assert ranked[-1]["factors"]["type"] == 0
    # in the chemical park the park's own plan (area match) and the ammonia plan lead the ranking
    park = matching.IncidentFacts(type="hazchem_leak", level="IV", pollutant="液氨", lon=121.70, lat=30.87,
                                  title="临港化工园区液氨储罐泄漏")
    top2 = {r["title"] for r in matching.rank(park, facts)[:2]}
    assert top2 == {"液氨泄漏事故专项应急预案", "临港化工园区突发环境事件应急预案"}
