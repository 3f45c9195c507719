"""The API's errors: each becomes a JSON body ``{"error": {"type", "message"}}`` with its HTTP status."""

from __future__ import annotations

from starlette.responses import JSONResponse

from wfe_core.errors import WfeError


class ApiError(WfeError):
    """A request the API refuses; ``status`` is the HTTP status, ``kind`` the error type in the body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def bad_request(message: str) -> ApiError:
    """400: the input is malformed; ``message`` names the field."""
    return ApiError(400, "BadRequest", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def conflict(message: str) -> ApiError:
    """409: the request is well-formed but does not apply to the target in its current state."""
    return ApiError(409, "Conflict", message)


def unprocessable(message: str) -> ApiError:
    """422: the body is JSON of the right shape whose values the host refuses (e.g. workflow data)."""
    return ApiError(422, "ValidationError", message)


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)
