"""Errors the SDK raises: one per kind of failure the CLI maps to an exit code."""

from __future__ import annotations


class ApiError(Exception):
    """The API answered with an error status; `status` is the HTTP status, `detail` its message."""

    def __init__(self, status: int, detail: str, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path} -> {status}: {detail}".strip())
        self.status = status
        self.detail = detail


class AuthError(ApiError):
    """401/403: no token, an expired token, or the caller may not do this."""


class NotFoundError(ApiError):
    """404: the training, project or dataset does not exist (or is not visible to the caller)."""


def error_for(status: int, detail: str, method: str, path: str) -> ApiError:
    if status in (401, 403):
        return AuthError(status, detail, method, path)
    if status == 404:
        return NotFoundError(status, detail, method, path)
    return ApiError(status, detail, method, path)
