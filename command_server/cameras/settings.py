"""Media settings: environment variables prefixed ``ECS_MEDIA_`` (and ``.env``), validated when the app is built.

They live here rather than in ``core/config.py`` so that the cameras domain stays one folder; a bad value
stops the start with one line naming the variable, like the core settings.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..core.config import ConfigError


class MediaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECS_MEDIA_", env_file=".env", extra="ignore")

    # Run the media gateway inside the command server process (the embedded default).
    enabled: bool = True
    # Recording segment length; the gateway cuts MP4 segments at the first keyframe after this.
    segment_s: float = Field(300.0, ge=5, le=3600)
    # A source nobody watches or records is released after this many seconds.
    idle_timeout_s: float = Field(30.0, ge=1, le=3600)
    # No packet for this long counts as a disconnect (camera.offline).
    stall_timeout_s: float = Field(5.0, ge=0.5, le=120)
    # Connection test of cameras that no viewer or recorder keeps open, so that the device tree shows a
    # status for every camera (0: off).
    health_interval_s: float = Field(300.0, ge=0)
    # How often recordings past their retention are deleted, and the disk quota for recordings (0: none).
    retention_interval_s: float = Field(3600.0, ge=10)
    quota_gb: float = Field(0.0, ge=0)
    # Worker processes the cameras are sharded over, each with its own GIL (0: every camera in the server
    # process; unset: the gateway's default, one per core, 2-4). See media_gateway/README.md.
    workers: int | None = Field(None, ge=0, le=16)
    # gateway.start() must finish within this; otherwise media is reported unavailable.
    start_timeout_s: float = Field(20.0, ge=1)


def load_media_settings() -> MediaSettings:
    try:
        return MediaSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ()) if p]
        var = "ECS_MEDIA_" + loc[0].upper() if loc else "ECS_MEDIA_*"
        msg = err.get("msg", "invalid value").removeprefix("Value error, ")
        raise ConfigError(f"configuration error: {var}: {msg}") from None
