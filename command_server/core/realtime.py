"""Socket.IO: authenticated namespaces, rooms by entitlement, live events and gap-free replay.

A client connects to ``/console``, ``/mobile`` or ``/screen`` with ``auth={token, last_event_id}``. The
pump delivers each committed event to the rooms in its audience. On connect the client's rooms are joined
inside a pump job that first replays every entitled event after ``last_event_id`` — so replayed events come
first, in order, and live ones follow with no gap and no duplicate. With Redis, rooms are shared through
python-socketio's Redis manager; event delivery stays local to each process (every process runs a pump),
hence ``ignore_queue=True``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from engineio import async_socket as eio_async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from .api import SECRET, SESSION_GUARD
from .errors import ApiError
from .events import Event, event_out, events_after
from .permissions import NAMESPACE_ROLES
from .pump import EventPump
from .security import Actor, decode_access_token

log = logging.getLogger("ecs.realtime")

RoomResolver = Callable[[Actor], Awaitable[list[str]]]
SocketHandler = Callable[[str, Actor, Any], Awaitable[Any]]


def _refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    # The client sees {message, data: {code, message}} in its connect_error handler.
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})


def base_rooms(actor: Actor) -> list[str]:
    return ["all", f"user:{actor.user_id}", *[f"role:{r}" for r in actor.roles]]


class Realtime:
    def __init__(self, app: web.Application, pump: EventPump, *, redis_url: str | None, replay_limit: int) -> None:
        self.app = app
        self.pump = pump
        self.replay_limit = replay_limit
        mgr = socketio.AsyncRedisManager(redis_url, channel="ecs-socketio") if redis_url else None
        self.sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=mgr, cors_allowed_origins=[],
                                        logger=False, engineio_logger=False, max_http_buffer_size=1_000_000)
        self.sio.attach(app)
        self.room_resolver: RoomResolver | None = None
        self._handlers: dict[str, tuple[str, SocketHandler]] = {}
        for ns in NAMESPACE_ROLES:
            self._register_namespace(ns)
        pump.subscribe(self._deliver)

    # --- client events --------------------------------------------------------------------------
    def on(self, event: str, perm: str) -> Callable[[SocketHandler], SocketHandler]:
        """Register a client→server event handler for every namespace, checked against ``perm``."""

        def deco(fn: SocketHandler) -> SocketHandler:
            self._handlers[event] = (perm, fn)
            return fn

        return deco

    def _register_namespace(self, ns: str) -> None:
        sio = self.sio

        @sio.on("connect", namespace=ns)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            await self._connect(ns, sid, environ, auth)

        @sio.on("*", namespace=ns)
        async def any_event(event: str, sid: str, data: Any = None) -> Any:
            return await self._dispatch_client_event(ns, event, sid, data)

    async def _connect(self, ns: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or not isinstance(auth.get("token"), str):
            raise _refused("unauthorized", "token required")
        request = environ.get("aiohttp.request")
        ip = request.remote if request is not None else None
        try:
            actor = decode_access_token(self.app[SECRET], auth["token"], ip=ip)
            guard = self.app.get(SESSION_GUARD)
            if guard is not None:
                await guard(self.app, actor)
        except ApiError as exc:
            raise _refused(exc.code, exc.message) from None
        if not set(actor.roles) & NAMESPACE_ROLES[ns]:
            raise _refused("forbidden", f"role may not use namespace {ns}")
        last = auth.get("last_event_id")
        if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
            raise _refused("bad_request", "last_event_id must be a non-negative integer")
        rooms = await self.room_resolver(actor) if self.room_resolver else base_rooms(actor)
        await self.sio.save_session(sid, {"actor": actor, "rooms": rooms}, namespace=ns)
        self.pump.schedule(lambda cursor: self._join_and_replay(ns, sid, rooms, last, cursor))

    async def _join_and_replay(self, ns: str, sid: str, rooms: list[str], last: int | None, cursor: int) -> None:
        if not self.sio.manager.is_connected(sid, ns):
            return
        for room in rooms:
            await self.sio.enter_room(sid, room, namespace=ns)
        replayed = 0
        truncated = False
        if last is not None and last < cursor:
            wanted = set(rooms)
            after = last
            while after < cursor and not truncated:
                async with self.pump.db.read() as s:
                    batch = await events_after(s, after, 500, upto_id=cursor)
                if not batch:
                    break
                for e in batch:
                    if wanted.intersection(e.audience):
                        if replayed >= self.replay_limit:
                            truncated = True
                            break
                        await self.sio.emit("event", event_out(e), to=sid, namespace=ns, ignore_queue=True)
                        replayed += 1
                after = batch[-1].id
        await self.sio.emit("replay_done", {"last_id": cursor, "replayed": replayed, "truncated": truncated},
                            to=sid, namespace=ns, ignore_queue=True)

    async def _dispatch_client_event(self, ns: str, event: str, sid: str, data: Any) -> Any:
        entry = self._handlers.get(event)
        if entry is None:
            return {"error": {"code": "unknown_event", "message": f"unknown event {event}"}}
        perm, fn = entry
        session = await self.sio.get_session(sid, namespace=ns)
        actor: Actor = session["actor"]
        if not actor.can(perm):
            return {"error": {"code": "forbidden", "message": f"permission {perm} required"}}
        try:
            return await fn(sid, actor, data)
        except ApiError as exc:
            return exc.body()
        except Exception:
            log.exception("socket handler %s failed", event)
            return {"error": {"code": "internal_error", "message": "internal server error"}}

    # --- delivery -------------------------------------------------------------------------------
    async def _deliver(self, events: list[Event]) -> None:
        for e in events:
            if e.type == "auth.session_revoked":
                await self._drop_session(str(e.payload.get("session_id")))
            data = event_out(e)
            for ns in NAMESPACE_ROLES:
                await self._fan_out(ns, e.audience, data)

    async def _fan_out(self, ns: str, rooms: list[str], data: dict[str, Any]) -> None:
        """Send one event to this process's sockets in ``rooms``: encoded once, queued in a plain loop.

        python-socketio's own ``emit`` creates one task per recipient and waits for all of them; at 1,000
        sockets that task churn was a quarter of the server's CPU per event (bench/realtime_fanout.py). Each
        send only appends to the socket's queue, so a loop does the same work without the tasks.
        """
        if ns not in self.sio.manager.rooms:
            return
        encoded = self.sio.packet_class(sio_packet.EVENT, namespace=ns, data=["event", data]).encode()
        pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list) else [encoded])]
        frames = [p.encode() for p in pkts]
        sockets = self.sio.eio.sockets
        for _sid, eio_sid in list(self.sio.manager.get_participants(ns, rooms)):
            sock = sockets.get(eio_sid)
            ws = getattr(sock, "_ecs_ws", None)
            # Straight onto the websocket when nothing is queued for it (so order is kept): no queue, no
            # writer-task wake-up, no per-socket encode. Anything else takes engineio's normal path.
            if ws is not None and sock.upgraded and not sock.upgrading and not sock.closed and sock.queue.empty():
                try:
                    for frame in frames:
                        await ws.send(frame)
                except Exception:  # a socket closing under us: engineio's own reader notices and cleans up
                    log.debug("direct send to %s failed", eio_sid)
                continue
            for pkt in pkts:
                await self.sio._send_eio_packet(eio_sid, pkt)

    async def _drop_session(self, session_id: str) -> None:
        for ns in NAMESPACE_ROLES:
            for sid, _eio in list(self.sio.manager.get_participants(ns, None)):
                try:
                    session = await self.sio.get_session(sid, namespace=ns)
                except KeyError:
                    continue
                actor = session.get("actor")
                if actor is not None and actor.session_id == session_id:
                    await self.sio.disconnect(sid, namespace=ns, ignore_queue=True)


async def _poll_without_task(self: Any) -> list[Any]:
    """engineio's AsyncSocket.poll, using ``asyncio.timeout`` instead of ``asyncio.wait_for``.

    On Python 3.11 ``wait_for`` wraps every wait in a new task and timer; the per-socket writer calls it for
    every message, which profiling showed as another quarter of the fan-out cost. Same behaviour otherwise.
    """
    try:
        async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
            packets = [await self.queue.get()]
        self.queue.task_done()
    except (TimeoutError, asyncio.CancelledError):
        raise eio_exceptions.QueueEmpty() from None
    if packets == [None]:
        return []
    while True:
        try:
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        except asyncio.QueueEmpty:
            break
    return packets


_original_websocket_handler = eio_async_socket.AsyncSocket._websocket_handler


async def _remember_websocket(self: Any, ws: Any) -> Any:
    """Keep the socket's websocket reachable for the direct fan-out path in ``Realtime._fan_out``."""
    self._ecs_ws = ws
    try:
        return await _original_websocket_handler(self, ws)
    finally:
        self._ecs_ws = None


eio_async_socket.AsyncSocket._websocket_handler = _remember_websocket  # type: ignore[method-assign]

# Only replace the library's poll while it is the wait_for version we measured (python-engineio 4.x on 3.11).
if "wait_for" in eio_async_socket.AsyncSocket.poll.__code__.co_names:
    eio_async_socket.AsyncSocket.poll = _poll_without_task  # type: ignore[method-assign]
