"""Notifications: the notify() function other modules call, the in-app list/ack, SMS through the adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from command_server.core.security import SystemActor
from command_server.core.services import SERVICES
from command_server.notify.service import dispatcher, notify
from command_server.notify.sms import FileSmsSender, HttpSmsSender, sender_from_env
from tests.conftest import Api


async def _ids(api: Api, *names: str) -> list[int]:
    out = []
    for n in names:
        c = await api.as_user(n)
        out.append((await (await c.get("/api/v1/auth/me")).json())["id"])
    return out


async def _commander_with_mobile(api: Api, mobile: str) -> int:
    """The commander's user id, linked to a person with this mobile number (SMS goes there)."""
    admin = await api.as_user("admin")
    (commander_id,) = await _ids(api, "commander")
    unit = (await (await admin.post("/api/v1/org/units", json={"name": "局", "kind": "city"})).json())["id"]
    r = await admin.post("/api/v1/people", json={"name": "赵", "unit_id": unit, "mobile": mobile,
                                                 "user_id": commander_id})
    assert r.status == 201, await r.text()
    return commander_id


async def test_notify_in_callers_unit_of_work(api: Api) -> None:
    svc = api.app[SERVICES]
    admin = await api.as_user("admin")
    commander_id, field_id = await _ids(api, "commander", "field")
    r = await admin.post("/api/v1/org/units", json={"name": "滨江市应急局", "kind": "city"})
    unit = (await r.json())["id"]
    r = await admin.post("/api/v1/people", json={"name": "王指挥", "unit_id": unit, "mobile": "13812345678",
                                                 "user_id": commander_id})
    assert r.status == 201, await r.text()
    # a rolled-back caller leaves nothing behind
    with pytest.raises(RuntimeError):
        async with svc.write(SystemActor()) as uow:
            await notify(uow, user_ids=[commander_id], title="不会发送", body="回滚")
            raise RuntimeError("caller failed")
    async with svc.write(SystemActor()) as uow:
        rows = await notify(uow, user_ids=[commander_id, field_id, commander_id, 9999], title="启动应急响应",
                            body="请按预案第3步集结", level="orange", subject_type="incident", subject_id=7,
                            incident_id=7)
    assert [n.user_id for n in rows] == [commander_id, field_id]  # deduplicated, unknown users skipped
    with pytest.raises(ValueError):
        async with svc.write(SystemActor()) as uow:
            await notify(uow, user_ids=[commander_id], title="x", body="y", channels=("pager",))
    await dispatcher(api.app).drain()  # (the background dispatcher may have sent it already)
    log = Path(svc.settings.var_dir) / "sms.log"
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1 and lines[0]["phone"] == "13812345678"  # only the commander has a mobile
    assert lines[0]["text"] == "【滨江环境应急】启动应急响应：请按预案第3步集结"
    assert await dispatcher(api.app).drain() == 0  # each SMS once
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1
    commander = await api.as_user("commander")
    body = await (await commander.get("/api/v1/notifications")).json()
    assert body["total"] == 1 and body["unread"] == 1
    n = body["items"][0]
    assert n["title"] == "启动应急响应" and n["level"] == "orange" and n["incident_id"] == 7
    assert n["subject"] == {"type": "incident", "id": "7"} and n["sms_status"] == "sent"
    field = await api.as_user("field")
    fn = (await (await field.get("/api/v1/notifications")).json())["items"][0]
    assert fn["sms_status"] == "skipped"
    # ack: own only, idempotent, filters
    assert (await field.post(f"/api/v1/notifications/{n['id']}/ack")).status == 404
    r = await commander.post(f"/api/v1/notifications/{n['id']}/ack")
    assert r.status == 200 and (await r.json())["acked_at"]
    assert (await commander.post(f"/api/v1/notifications/{n['id']}/ack")).status == 200
    assert (await (await commander.get("/api/v1/notifications", params={"unread": "true"})).json())["total"] == 0
    assert (await (await commander.get("/api/v1/notifications", params={"unread": "false"})).json())["total"] == 1
    assert (await commander.get("/api/v1/notifications", params={"unread": "maybe"})).status == 422
    assert (await commander.post("/api/v1/notifications/abc/ack")).status == 404
    ev = await (await commander.get("/api/v1/events", params={"type": "notification."})).json()
    assert [e["type"] for e in ev["items"]] == ["notification.acked", "notification.created"]
    assert (await api.client.get("/api/v1/notifications")).status == 401


async def test_file_sender(tmp_path: Path) -> None:
    sender = FileSmsSender(tmp_path / "var" / "sms.log")
    r = await sender.send("13900000000", "测试短信 \"quoted\"\n第二行")
    assert r.ok
    line = json.loads((tmp_path / "var" / "sms.log").read_text(encoding="utf-8"))
    assert line["phone"] == "13900000000" and line["text"] == "测试短信 \"quoted\"\n第二行" and line["at"]


async def test_http_sender_against_local_gateway(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    fail = {"on": False}

    async def handler(request: web.Request) -> web.Response:
        if fail["on"]:
            return web.Response(status=503, text="busy")
        received.append({"auth": request.headers.get("Authorization"), "ct": request.content_type,
                         "body": await request.text()})
        return web.Response(text="msg-123")

    app = web.Application()
    app.router.add_post("/sms/send", handler)
    server = TestServer(app)
    await server.start_server()
    try:
        url = str(server.make_url("/sms/send"))
        sender = sender_from_env(tmp_path, {
            "ECS_SMS_GATEWAY_URL": url, "ECS_SMS_GATEWAY_TOKEN": "t0ken",
            "ECS_SMS_GATEWAY_TEMPLATE": '{"to": "{phone}", "msg": "{text}", "sign": "ECS"}'})
        assert isinstance(sender, HttpSmsSender)
        r = await sender.send("13800000000", '红色预警："氨氮" 4.2mg/L')
        assert r.ok and r.provider_ref == "msg-123"
        assert received[0]["auth"] == "Bearer t0ken" and received[0]["ct"] == "application/json"
        assert json.loads(received[0]["body"]) == {"to": "13800000000", "msg": '红色预警："氨氮" 4.2mg/L',
                                                   "sign": "ECS"}
        fail["on"] = True
        r = await sender.send("13800000000", "x")
        assert not r.ok and "503" in (r.error or "")
        form = sender_from_env(tmp_path, {"ECS_SMS_SENDER": "http", "ECS_SMS_GATEWAY_URL": url,
                                          "ECS_SMS_GATEWAY_CONTENT_TYPE": "application/x-www-form-urlencoded",
                                          "ECS_SMS_GATEWAY_TEMPLATE": "mobile={phone}&content={text}"})
        assert isinstance(form, HttpSmsSender)
        assert form.render("138", "a&b 预警") == "mobile=138&content=a%26b%20%E9%A2%84%E8%AD%A6"
    finally:
        await server.close()
    down = HttpSmsSender("http://127.0.0.1:9/none", timeout_s=2)
    r = await down.send("13800000000", "x")
    assert not r.ok and "unreachable" in (r.error or "")


def test_sender_configuration(tmp_path: Path) -> None:
    assert isinstance(sender_from_env(tmp_path, {}), FileSmsSender)
    for env in ({"ECS_SMS_SENDER": "http"}, {"ECS_SMS_SENDER": "pigeon"},
                {"ECS_SMS_GATEWAY_URL": "ftp://x"},
                {"ECS_SMS_GATEWAY_URL": "http://x", "ECS_SMS_GATEWAY_TEMPLATE": "{phone}"}):
        with pytest.raises(ValueError):
            sender_from_env(tmp_path, env)


async def test_failed_sms_is_retried_then_marked_failed(api: Api) -> None:
    svc = api.app[SERVICES]
    commander_id = await _commander_with_mobile(api, "13712345678")

    class Down:
        name = "down"
        calls = 0

        async def send(self, phone: str, text: str) -> Any:
            from command_server.notify.sms import SmsResult

            Down.calls += 1
            return SmsResult(False, error="gateway down")

    d = dispatcher(api.app)
    original = d.sender
    d.sender = Down()
    try:
        async with svc.write(SystemActor()) as uow:
            await notify(uow, user_ids=[commander_id], title="t", body="b")
        for _ in range(4):
            await d.drain()
    finally:
        d.sender = original
    assert Down.calls == 3
    commander = await api.as_user("commander")
    n = (await (await commander.get("/api/v1/notifications")).json())["items"][0]
    assert n["sms_status"] == "failed"


@pytest.mark.parametrize("record_every_s, record_writes", [(60.0, 1), (0.0, 5)], ids=["batched", "slow-gateway"])
async def test_sms_outcomes_are_recorded_together(api: Api, monkeypatch: pytest.MonkeyPatch, record_every_s: float,
                                                  record_writes: int) -> None:
    """A batch of SMS costs one write transaction to claim and one to record the outcomes — not one per
    message, each taking the process's write lock — unless the gateway is slow: then outcomes are recorded
    every ``RECORD_EVERY_S``."""
    import datetime as dt

    from sqlalchemy import select

    from command_server.notify import service as notify_service
    from command_server.notify.models import Notification, SmsOutbox

    svc = api.app[SERVICES]
    commander_id = await _commander_with_mobile(api, "13612345678")
    d = dispatcher(api.app)
    await d.stop()  # drained by hand below
    async with svc.write(SystemActor()) as uow:
        for k in range(5):
            await notify(uow, user_ids=[commander_id], title=f"预警{k}", body="请确认")
    writes = 0
    write = svc.db.write

    def counting(*args: Any, **kw: Any) -> Any:
        nonlocal writes
        writes += 1
        return write(*args, **kw)

    monkeypatch.setattr(svc.db, "write", counting)
    monkeypatch.setattr(notify_service, "RECORD_EVERY_S", record_every_s)
    before = dt.datetime.now(dt.UTC)
    assert await d.drain() == 5
    assert writes == 1 + record_writes + 1  # claim, record, and the claim that finds nothing left
    async with svc.db.read() as s:
        rows = (await s.execute(select(SmsOutbox.status, SmsOutbox.sent_at, SmsOutbox.claim,
                                       SmsOutbox.provider_ref))).all()
        statuses = (await s.scalars(select(Notification.sms_status))).all()
    assert [r.status for r in rows] == ["sent"] * 5 and all(r.claim is None for r in rows)
    assert all(r.sent_at is not None and before <= r.sent_at <= dt.datetime.now(dt.UTC) for r in rows)
    assert {r.provider_ref for r in rows} == {"file:sms.log"}
    assert list(statuses) == ["sent"] * 5
    log = Path(svc.settings.var_dir) / "sms.log"
    assert sorted(json.loads(x)["text"][-7:-4] for x in log.read_text(encoding="utf-8").splitlines()) == \
        [f"预警{k}" for k in range(5)]
