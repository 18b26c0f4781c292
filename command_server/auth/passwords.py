"""Password hashing with argon2id, off the event loop (one hash costs tens of milliseconds of CPU)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verifying against this keeps the time of "no such user" equal to "wrong password".
        self._dummy = self._ph.hash("dummy-password-0")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._ph.hash, password)

    def hash_sync(self, password: str) -> str:
        return self._ph.hash(password)

    async def verify(self, stored: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._ph.verify(stored or self._dummy, password) and stored is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)
