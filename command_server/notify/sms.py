"""SMS adapters. ``FileSmsSender`` (default) appends one JSON line per message to ``var/sms.log``;
``HttpSmsSender`` posts to a gateway. Configuration (read here, environment only):

- ``ECS_SMS_SENDER``: ``file`` (default) or ``http`` (implied when ``ECS_SMS_GATEWAY_URL`` is set)
- ``ECS_SMS_GATEWAY_URL``: the gateway endpoint (POST)
- ``ECS_SMS_GATEWAY_TEMPLATE``: the request body with ``{phone}`` and ``{text}`` placeholders, JSON-escaped
  when the content type is JSON; default ``{"mobile": "{phone}", "content": "{text}"}``
- ``ECS_SMS_GATEWAY_CONTENT_TYPE``: default ``application/json``
- ``ECS_SMS_GATEWAY_TOKEN``: sent as ``Authorization: Bearer <token>`` when set
- ``ECS_SMS_GATEWAY_TIMEOUT_S``: default 10
- ``ECS_SMS_SIGNATURE``: prefixed to every text, default ``【滨江环境应急】``
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import aiohttp

DEFAULT_TEMPLATE = '{"mobile": "{phone}", "content": "{text}"}'
DEFAULT_SIGNATURE = "【滨江环境应急】"


@dataclass(frozen=True)
class SmsResult:
    ok: bool
    provider_ref: str | None = None
    error: str | None = None


class SmsSender(Protocol):
    name: str

    async def send(self, phone: str, text: str) -> SmsResult: ...


class FileSmsSender:
    """Appends ``{"at", "phone", "text"}`` lines to a file: the default, and what tests read."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def send(self, phone: str, text: str) -> SmsResult:
        line = json.dumps({"at": dt.datetime.now(dt.UTC).isoformat(), "phone": phone, "text": text},
                          ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return SmsResult(True, provider_ref=f"file:{self.path.name}")

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


class HttpSmsSender:
    """POSTs the body template to a gateway URL; a 2xx answer is success, anything else an error."""

    name = "http"

    def __init__(self, url: str, *, template: str = DEFAULT_TEMPLATE, content_type: str = "application/json",
                 token: str | None = None, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("ECS_SMS_GATEWAY_URL must start with http:// or https://")
        if "{phone}" not in template or "{text}" not in template:
            raise ValueError("ECS_SMS_GATEWAY_TEMPLATE must contain {phone} and {text}")
        self.url = url
        self.template = template
        self.content_type = content_type
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def render(self, phone: str, text: str) -> str:
        if "json" in self.content_type:
            esc = lambda s: json.dumps(s, ensure_ascii=False)[1:-1]  # noqa: E731
        elif "x-www-form-urlencoded" in self.content_type:
            esc = quote
        else:
            esc = str
        return self.template.replace("{phone}", esc(phone)).replace("{text}", esc(text))

    async def send(self, phone: str, text: str) -> SmsResult:
        headers = {"Content-Type": self.content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session, session.post(
                    self.url, data=self.render(phone, text).encode("utf-8"), headers=headers) as resp:
                body = (await resp.text())[:200]
                if 200 <= resp.status < 300:
                    return SmsResult(True, provider_ref=body[:128] or None)
                return SmsResult(False, error=f"gateway answered HTTP {resp.status}: {body}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SmsResult(False, error=f"gateway unreachable: {type(exc).__name__} {exc}"[:500])


def sender_from_env(var_dir: Path, env: Mapping[str, str] | None = None) -> SmsSender:
    env = os.environ if env is None else env
    url = env.get("ECS_SMS_GATEWAY_URL", "").strip()
    kind = env.get("ECS_SMS_SENDER", "http" if url else "file").strip().lower()
    if kind == "file":
        return FileSmsSender(Path(var_dir) / "sms.log")
    if kind != "http":
        raise ValueError(f"ECS_SMS_SENDER must be file or http, not {kind!r}")
    if not url:
        raise ValueError("ECS_SMS_SENDER=http needs ECS_SMS_GATEWAY_URL")
    return HttpSmsSender(url, template=env.get("ECS_SMS_GATEWAY_TEMPLATE") or DEFAULT_TEMPLATE,
                         content_type=env.get("ECS_SMS_GATEWAY_CONTENT_TYPE") or "application/json",
                         token=env.get("ECS_SMS_GATEWAY_TOKEN") or None,
                         timeout_s=float(env.get("ECS_SMS_GATEWAY_TIMEOUT_S") or 10))


def signature(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("ECS_SMS_SIGNATURE", DEFAULT_SIGNATURE)
