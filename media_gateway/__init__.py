"""Media gateway: RTSP cameras → stream hub → WebRTC viewers, recorder, snapshots, playback (no transcoding on the
viewing path). The command server uses :class:`MediaGateway` only."""

from .errors import (
    BadRequest,
    BadSdp,
    CameraOffline,
    MediaError,
    ProbeError,
    UnknownCamera,
    UnknownRecording,
    UnknownSession,
    UnsupportedCodec,
)
from .gateway import MediaGateway

__all__ = [
    "BadRequest",
    "BadSdp",
    "CameraOffline",
    "MediaError",
    "MediaGateway",
    "ProbeError",
    "UnknownCamera",
    "UnknownRecording",
    "UnknownSession",
    "UnsupportedCodec",
]
