"""One configuration object for the whole server.

Values come from environment variables prefixed ``ECS_`` (and a ``.env`` file in the working directory);
``DATABASE_URL`` and ``REDIS_URL`` are also recognised without the prefix because that is what every
deployment tool already sets. A bad value stops the start with one line naming the variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "ecs-demo-secret-change-me-in-production-0000"
DEFAULT_SM4_KEY = "0123456789abcdeffedcba9876543210"
DEFAULT_DEMO_PASSWORD = "Demo@2026"


class ConfigError(SystemExit):
    """Raised for an unusable configuration; its message is the one line we print."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECS_", env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["demo", "development", "test", "production"] = "demo"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    var_dir: Path = Path("var")
    database_url: str | None = Field(None, validation_alias=AliasChoices("ECS_DATABASE_URL", "DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("ECS_REDIS_URL", "REDIS_URL"))
    # PostgreSQL schema to use (search_path); lets several deployments or test runs share one database.
    db_schema: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    secret_key: str = Field(DEFAULT_SECRET, min_length=32)
    sm4_key: str = Field(DEFAULT_SM4_KEY, description="128-bit SM4 key as 32 hex digits")
    demo_password: str = Field(DEFAULT_DEMO_PASSWORD, min_length=8)
    seed_demo: bool = True
    seed_demo_city: bool = True

    access_token_ttl_s: int = Field(900, ge=30, le=86400)
    refresh_token_ttl_s: int = Field(7 * 86400, ge=300)
    login_max_failures: int = Field(5, ge=1, le=100)
    lockout_s: int = Field(900, ge=1)
    # argon2 cost; tests lower it so that a suite with hundreds of logins stays quick.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=1024)

    upload_max_bytes: int = Field(50 * 1024 * 1024, ge=1)
    upload_allowed_types: str = (
        "image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain,text/csv,"
        "video/mp4,audio/mpeg,audio/wav,audio/ogg,audio/webm,video/webm,application/zip,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/octet-stream"
    )
    web_dist: Path | None = None
    # Base map tiles for the console (none: the offline map of district outlines and rivers). A GCJ-02 tile
    # source (AMap, Tencent) makes the console shift WGS-84 data onto it.
    map_tile_url: str | None = None
    map_tile_crs: Literal["wgs84", "gcj02"] | None = None
    map_tile_subdomains: str = ""
    map_tile_attribution: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Events replayed to a reconnecting socket at most; beyond it the client reloads via REST.
    replay_limit: int = Field(2000, ge=1)
    # Freeze the objects alive after start-up out of the garbage collector's reach, and collect the middle
    # generation less often (``core/heap.py``). Off in the tests, which start hundreds of apps in one process:
    # frozen cycles of a torn-down app are never freed.
    gc_freeze: bool = True
    # The event-loop stall recorder (system/loopwatch.py): a heartbeat every tick; a beat later than
    # loop_stall_ms is recorded with the loop thread's stack (GET /api/v1/system/loop). 0 turns it off.
    loop_tick_ms: float = Field(10.0, ge=1, le=1000)
    loop_stall_ms: float = Field(50.0, ge=0, le=60_000)
    # A ``Server-Timing`` header on every API response: where the request waited (core/timing.py). A
    # diagnostic — it tells a client how long the server's locks and queries took — so off unless asked for.
    server_timing: bool = False
    # Worker processes for requests whose CPU would hold the event loop (core/offload.py): none given, two on
    # PostgreSQL (one per core, at most two), none on SQLite, whose writers only one process can order.
    offload_workers: int | None = Field(None, ge=0, le=16)

    @field_validator("sm4_key")
    @classmethod
    def _sm4_hex(cls, v: str) -> str:
        try:
            raw = bytes.fromhex(v)
        except ValueError as exc:
            raise ValueError("must be 32 hexadecimal digits") from exc
        if len(raw) != 16:
            raise ValueError("must be 32 hexadecimal digits (128 bits)")
        return v.lower()

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        if not (v.startswith("postgresql+asyncpg://") or v.startswith("sqlite+aiosqlite://")):
            raise ValueError("must be postgresql+asyncpg://… or sqlite+aiosqlite://…")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @model_validator(mode="after")
    def _offload_needs_postgres(self) -> Settings:
        if self.offload_workers and self.is_sqlite:
            raise ValueError("ECS_OFFLOAD_WORKERS: worker processes need PostgreSQL (DATABASE_URL); on SQLite "
                             "only one process may write")
        return self

    @model_validator(mode="after")
    def _production_guard(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEFAULT_SECRET:
                raise ValueError("ECS_SECRET_KEY: the default secret may not be used in production")
            if self.sm4_key == DEFAULT_SM4_KEY:
                raise ValueError("ECS_SM4_KEY: the default SM4 key may not be used in production")
            if self.seed_demo or self.demo_password == DEFAULT_DEMO_PASSWORD:
                raise ValueError(
                    "ECS_SEED_DEMO/ECS_DEMO_PASSWORD: demo accounts or the default demo password "
                    "may not be used in production"
                )
        return self

    # --- derived values -------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'ecs.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def offload_worker_count(self) -> int:
        if self.offload_workers is not None:
            return self.offload_workers
        return 0 if self.is_sqlite else max(1, min(2, os.cpu_count() or 1))

    @property
    def files_dir(self) -> Path:
        return self.var_dir / "files"

    @property
    def allowed_types(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.upload_allowed_types.split(",") if t.strip())

    @property
    def web_dist_dir(self) -> Path:
        return self.web_dist or (Path(__file__).resolve().parents[2] / "web_console" / "dist")


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation failure into one readable line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ()) if p]
        var = "ECS_" + loc[0].upper() if loc else ""
        msg = err.get("msg", "invalid value").removeprefix("Value error, ")
        if msg.startswith("ECS_"):
            raise ConfigError(f"configuration error: {msg}") from None
        raise ConfigError(f"configuration error: {var}: {msg}") from None


def random_secret() -> str:
    return secrets.token_urlsafe(48)
