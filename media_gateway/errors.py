"""Exceptions the command server maps to HTTP 4xx (never a stack trace to the client)."""

from __future__ import annotations


class MediaError(Exception):
    """Base class. ``code`` is a stable machine-readable reason; ``status`` the suggested HTTP status."""

    code = "media_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownCamera(MediaError):
    code = "unknown_camera"
    status = 404


class UnknownSession(MediaError):
    code = "unknown_session"
    status = 404


class UnknownRecording(MediaError):
    code = "unknown_recording"
    status = 404


class CameraOffline(MediaError):
    code = "camera_offline"
    status = 409


class BadSdp(MediaError):
    code = "bad_sdp"
    status = 400


class UnsupportedCodec(MediaError):
    """E.g. an H.265 camera viewed over WebRTC without ``transcode_h265``."""

    code = "unsupported_codec"
    status = 415


class BadRequest(MediaError):
    code = "bad_request"
    status = 422


class ProbeError(MediaError):
    """A connection test failed. ``code`` is one of unreachable | auth_failed | not_rtsp | no_video | timeout."""

    status = 422
    CODES = ("unreachable", "auth_failed", "not_rtsp", "no_video", "timeout")

    def __init__(self, code: str, message: str) -> None:
        assert code in self.CODES, code
        super().__init__(message)
        self.code = code  # type: ignore[misc]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
