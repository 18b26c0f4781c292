"""Configuration a hot path reads on every call and people change rarely, remembered per process.

A readings batch needs its sources (to validate every row) and the warning rules for its metrics: two reads,
each a round trip and an ORM load, on every batch, for tables that change a few times a day. Here they are
read once per *generation* and kept.

The generation is the id of the newest committed event that changed watched configuration: the types the
owning packages declare with ``watch`` (``monitoring_source.``, ``warning_rule.``…). It moves forward

- at once, in the process that committed the change (``Writer.on_commit``): a rule saved and a batch sent
  right after it is evaluated against the new rule;
- when the event pump delivers the event, in every other process (a change made through another server
  process applies within the pump's latency, as for every cache listed in ``command_server/README.md``);
- in an offload worker, with each call: the server passes its generation (``offload.Offload.run``), so a
  worker never evaluates against configuration older than what the server has seen.

An entry read while the generation moved is kept under the generation it was read at, so the next call
reads it again: nothing older than the generation a call started with is ever answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigCache:
    def __init__(self) -> None:
        self.generation = 0
        self._watched: tuple[str, ...] = ()
        self._entries: dict[str, tuple[int, Any]] = {}
        self.loads = 0  # reads made, for tests and the benchmark's curiosity

    def watch(self, *prefixes: str) -> None:
        """Event types (by prefix) that change remembered configuration."""
        self._watched = tuple(dict.fromkeys((*self._watched, *prefixes)))

    def saw(self, events: Iterable[Any]) -> None:
        """Committed events (``Event`` rows, in id order): the newest watched one moves the generation."""
        watched = self._watched
        for ev in events:
            if ev.type.startswith(watched) and ev.id > self.generation:
                self.generation = ev.id

    async def on_events(self, batch: list[Any]) -> None:
        """Event pump subscriber."""
        self.saw(batch)

    def advance(self, generation: int) -> None:
        """The server's generation, handed to a worker with a call."""
        if generation > self.generation:
            self.generation = generation

    async def get(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """``name``'s value at the current generation: remembered, or read by ``load``. Callers that ask
        together while it is stale each read it (the first calls after a change; not worth coordinating)."""
        gen = self.generation
        entry = self._entries.get(name)
        if entry is not None and entry[0] == gen:
            return entry[1]  # type: ignore[no-any-return]
        value = await load()
        self.loads += 1
        current = self._entries.get(name)
        if current is None or current[0] <= gen:
            self._entries[name] = (gen, value)
        return value
