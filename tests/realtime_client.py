"""A small Socket.IO test client that records what it receives, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio


class Listener:
    def __init__(self, url: str, namespace: str = "/console") -> None:
        self.url = url
        self.ns = namespace
        self.events: list[dict[str, Any]] = []
        self.replay_done: list[dict[str, Any]] = []
        self.connect_error: Any = None
        self.disconnected = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace=namespace)
        self.sio.on("replay_done", self._on_replay_done, namespace=namespace)
        self.sio.on("connect_error", self._on_connect_error, namespace=namespace)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)
        self._ready = asyncio.Event()

    async def _on_event(self, data: dict[str, Any]) -> None:
        self.events.append(data)

    async def _on_replay_done(self, data: dict[str, Any]) -> None:
        self.replay_done.append(data)
        self._ready.set()

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(self, token: str, last_event_id: int | None = None, wait_ready: bool = True) -> None:
        self._ready.clear()
        await self.sio.connect(self.url, namespaces=[self.ns], transports=["websocket"],
                               auth={"token": token, "last_event_id": last_event_id}, wait_timeout=5)
        if wait_ready:
            async with asyncio.timeout(10):
                await self._ready.wait()

    async def wait_for(self, predicate: Any, within_s: float = 5.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            for e in self.events:
                if predicate(e):
                    return e
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching event within {within_s}s; got {[e['type'] for e in self.events]}")

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
