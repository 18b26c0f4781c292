"""API errors: one JSON shape for every failure, never a stack trace to a client."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the client caused or must know about; rendered as {"error": {code, message, details}}."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found", {"resource": what, "id": ident})


def conflict(code: str, message: str, details: Any = None) -> ApiError:
    return ApiError(409, code, message, details)


def bad_request(code: str, message: str, details: Any = None) -> ApiError:
    return ApiError(400, code, message, details)


def unprocessable(message: str, errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, "validation_error", message, {"errors": errors})


def integrity_conflict() -> ApiError:
    """A uniqueness race the service's own check could not see (two writers at once): the loser gets a
    conflict, never a 500. Services check first so that the usual case has a specific message."""
    return ApiError(409, "conflict", "the change conflicts with existing data")
