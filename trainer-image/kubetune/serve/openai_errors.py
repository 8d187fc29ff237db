"""OpenAI's error body on the /v1 routes: ``{"error": {"message", "type", "param", "code"}}``.

The openai SDK reads exactly these four keys (``APIError.message/type/param/code``), so a client
sees why a request failed, which parameter was wrong, and a stable code. Seed 002's routes keep
their own body (errors.py); the same ApiError renders in either shape, chosen by path.
"""

from __future__ import annotations

from typing import Any

OPENAI_PREFIX = "/v1/"

# OpenAI's error types by status: what the SDK and OpenAI's own docs use.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX) or path == OPENAI_PREFIX.rstrip("/")


def openai_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """``code`` is kubetune's upper-case code (MODEL_NOT_FOUND); OpenAI's codes are lower snake case."""
    return {"error": {"message": message, "type": openai_type(status), "param": param, "code": code.lower()}}
