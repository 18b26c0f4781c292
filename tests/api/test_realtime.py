"""Socket.IO: authentication per namespace, live delivery by audience, gap-free ordered replay."""

from __future__ import annotations

import asyncio
import datetime as dt

import jwt
import pytest
import socketio

from command_server.core.api import SECRET
from tests.conftest import Api
from tests.realtime_client import Listener


def _url(api: Api) -> str:
    return str(api.client.make_url("/"))


async def test_connect_requires_valid_token(api: Api) -> None:
    lst = Listener(_url(api))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await lst.connect("not-a-token", wait_ready=False)
    assert lst.connect_error["data"]["code"] == "unauthorized"


async def test_expired_token_is_refused_with_its_own_code(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    token = jwt.encode({"iss": "ecs", "sub": "1", "sid": "x", "roles": ["admin"], "iat": now - dt.timedelta(hours=1),
                        "exp": now - dt.timedelta(minutes=1)}, api.app[SECRET], algorithm="HS256")
    lst = Listener(_url(api))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await lst.connect(token, wait_ready=False)
    assert lst.connect_error["data"]["code"] == "token_expired"


async def test_namespace_is_checked_by_role(api: Api) -> None:
    field = await api.login("field")
    lst = Listener(_url(api), "/console")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await lst.connect(field["access_token"], wait_ready=False)
    assert lst.connect_error["data"]["code"] == "forbidden"
    ok = Listener(_url(api), "/mobile")
    await ok.connect(field["access_token"])
    await ok.close()
    screen = await api.login("screen")
    scr = Listener(_url(api), "/screen")
    await scr.connect(screen["access_token"])
    await scr.close()


async def test_live_event_reaches_all_namespaces(api: Api) -> None:
    op = await api.as_user("operator")
    console = Listener(_url(api), "/console")
    await console.connect(op.tokens["access_token"])
    field = await api.login("field")
    mobile = Listener(_url(api), "/mobile")
    await mobile.connect(field["access_token"])
    r = await op.post("/api/v1/bulletins", json={"text": "北区化工园区演练 10:00 开始"})
    assert r.status == 201
    eid = (await r.json())["id"]
    for lst in (console, mobile):
        e = await lst.wait_for(lambda e: e["id"] == eid)
        assert e["type"] == "bulletin.posted"
        assert e["payload"]["text"] == "北区化工园区演练 10:00 开始"
        assert e["actor"]["username"] == "operator"
        await lst.close()


async def test_audience_limits_delivery(api: Api) -> None:
    op = await api.as_user("operator")
    cmd = await api.as_user("commander")
    lst_cmd = Listener(_url(api))
    await lst_cmd.connect(cmd.tokens["access_token"])
    # A login event is addressed to the user alone: the commander must not see the operator's.
    await api.login("operator")
    r = await op.post("/api/v1/bulletins", json={"text": "marker"})
    marker = (await r.json())["id"]
    await lst_cmd.wait_for(lambda e: e["id"] == marker)
    assert not [e for e in lst_cmd.events if e["type"] == "auth.login"]
    await lst_cmd.close()


async def test_reconnect_replays_missed_events_in_order_then_live(api: Api) -> None:
    op = await api.as_user("operator")
    lst = Listener(_url(api))
    await lst.connect(op.tokens["access_token"])
    start = lst.replay_done[-1]["last_id"]
    await lst.close()

    missed = []
    for i in range(12):
        r = await op.post("/api/v1/bulletins", json={"text": f"missed {i}"})
        missed.append((await r.json())["id"])

    # Writes keep arriving while the client reconnects and replays.
    async def writer() -> list[int]:
        ids = []
        for i in range(12):
            r = await op.post("/api/v1/bulletins", json={"text": f"during {i}"})
            ids.append((await r.json())["id"])
            await asyncio.sleep(0.005)
        return ids

    lst2 = Listener(_url(api))
    task = asyncio.create_task(writer())
    await lst2.connect(op.tokens["access_token"], last_event_id=start)
    during = await task
    await lst2.wait_for(lambda e: e["id"] == during[-1])
    got = [e["id"] for e in lst2.events if e["type"] == "bulletin.posted"]
    assert got == sorted(got), "events out of order"
    assert len(got) == len(set(got)), "duplicate delivery"
    assert got == missed + during, "gap: a bulletin was not delivered"
    all_ids = [e["id"] for e in lst2.events]
    assert all_ids == sorted(all_ids) and len(all_ids) == len(set(all_ids))
    assert lst2.replay_done[0]["replayed"] >= len(missed)
    await lst2.close()


async def test_bad_last_event_id_refused(api: Api) -> None:
    op = await api.login("operator")
    lst = Listener(_url(api))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await lst.sio.connect(_url(api), namespaces=["/console"], transports=["websocket"],
                              auth={"token": op["access_token"], "last_event_id": "abc"}, wait_timeout=5)
    assert lst.connect_error["data"]["code"] == "bad_request"


async def test_logout_disconnects_the_sessions_sockets(api: Api) -> None:
    t = await api.login("commander")
    lst = Listener(_url(api))
    await lst.connect(t["access_token"])
    r = await api.client.post("/api/v1/auth/logout", json={"refresh_token": t["refresh_token"]})
    assert r.status == 204
    async with asyncio.timeout(5):
        await lst.disconnected.wait()
    again = Listener(_url(api))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect(t["access_token"], wait_ready=False)
    assert again.connect_error["data"]["code"] == "session_revoked"


async def test_rest_history_matches_audience(api: Api) -> None:
    op = await api.as_user("operator")
    await op.post("/api/v1/bulletins", json={"text": "one"})
    await op.post("/api/v1/bulletins", json={"text": "two"})
    cmd = await api.as_user("commander")
    body = await (await cmd.get("/api/v1/events?type=bulletin.&limit=10")).json()
    texts = [e["payload"]["text"] for e in body["items"]]
    assert texts[:2] == ["two", "one"]  # newest first without a cursor
    first = body["items"][-1]["id"]
    after = await (await cmd.get(f"/api/v1/events?after={first - 1}&type=bulletin.")).json()
    assert [e["payload"]["text"] for e in after["items"]] == ["one", "two"]
    # The operator's own login events are not visible to the commander.
    all_cmd = await (await cmd.get("/api/v1/events?type=auth.login&limit=100")).json()
    assert all(e["actor"]["username"] == "commander" for e in all_cmd["items"])
