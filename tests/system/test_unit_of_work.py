"""What a unit of work records (core/uow.py), on SQLite and PostgreSQL (where the order lock and the last ids are
one function call, and the event and audit rows one statement): consecutive ids, the rows as emitted —
non-ASCII text, nulls, several per write, events without audit and audit without events — and an audit chain
that verifies."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from command_server.core.audit import AuditEntry, verify_chain
from command_server.core.events import Event
from command_server.core.security import SystemActor
from command_server.core.services import services
from tests.conftest import Api


async def _rows(svc, model, after: int) -> list:  # type: ignore[no-untyped-def]
    async with svc.db.read() as s:
        return list((await s.scalars(select(model).where(model.id > after).order_by(model.id))).all())


async def test_records_are_stored_as_emitted_and_the_chain_verifies(api: Api) -> None:
    svc = services(api.app)
    actor = SystemActor(username="记录测试")
    async with svc.db.read() as s:
        first_event = (await s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))) or 0
        first_audit = (await s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))) or 0

    async with svc.write(actor) as uow:
        uow.emit("test.first", subject_type="alarm", subject_id=7, incident_id=None, audience=["all"],
                 payload={"text": "液氨储罐泄漏", "n": 1.5, "list": [1, None, "二"], "nested": {"b": True}})
        uow.emit("test.second", payload={}, audience=("role:operator", "user:3"), incident_id=12, audit=False)
        uow.audit("test.audit_only", target_type="plan", target_id=None, detail={"原因": "测试"})
    async with svc.write(actor) as uow:
        uow.audit("test.audit_only_write", detail={})
    async with svc.write(actor) as uow:
        uow.emit("test.event_only", payload={"k": "v"}, audit=False)

    events = await _rows(svc, Event, first_event)
    assert [e.id for e in events] == list(range(first_event + 1, first_event + 4))
    assert [e.type for e in events] == ["test.first", "test.second", "test.event_only"]
    e1, e2, _ = events
    assert (e1.subject_type, e1.subject_id, e1.incident_id, e1.audience) == ("alarm", "7", None, ["all"])
    assert e1.payload == {"text": "液氨储罐泄漏", "n": 1.5, "list": [1, None, "二"], "nested": {"b": True}}
    assert (e2.subject_type, e2.subject_id, e2.incident_id) == (None, None, 12)
    assert e2.audience == ["role:operator", "user:3"] and e2.payload == {}
    assert e1.actor_name == "记录测试" and e1.at.tzinfo is not None

    audit = await _rows(svc, AuditEntry, first_audit)
    assert [a.id for a in audit] == list(range(first_audit + 1, first_audit + 4))
    assert [a.action for a in audit] == ["test.first", "test.audit_only", "test.audit_only_write"]
    assert audit[1].detail == {"原因": "测试"} and audit[1].target_type == "plan" and audit[1].target_id is None
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(audit))
    async with svc.db.read() as s:
        result = await verify_chain(s)
    assert result.ok, result
