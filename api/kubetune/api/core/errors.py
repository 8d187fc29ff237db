"""The one place where failures become HTTP error bodies.

Every API family keeps its own error shape (see docs/api.md):

- sktai (seed 000, /api/v1/trainings, /api/v1/trainers): Spring-style
  ``{"status", "error", "code", "message", "path", "timestamp", "details"}``
- finetune (seed 001, /api/finetune): ``{"error": {"code", "message", "details"}}``
- platform (seed 003, the rest of /api/v1): ``{"detail": "..."}``
- aitems (seed 004, /api/v1/services): NCP-style ``{"error": {"errorCode", "message", "details"}}``
- inference (seed 002, /api/v1/inference-services): ``{"error", "message", "details"}``
- openai (the OpenAI fine-tuning API and model gateway, /v1): ``{"error": {"message", "type", "param", "code"}}``

Kubernetes ApiException statuses keep their meaning (404, 409, 422, 403, 400);
anything the control plane fails with otherwise is a 502, never a bare 500.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kubernetes.client import ApiException
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

Family = Literal["sktai", "finetune", "platform", "aitems", "inference", "health", "openai"]

CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT", 507: "INSUFFICIENT_STORAGE",
}
# Kubernetes statuses that mean the same thing to the client; the rest is the control plane's problem.
KUBE_PASSTHROUGH = {400, 403, 404, 409, 422, 429}


class ApiError(Exception):
    """A failure with an HTTP status, raised anywhere in the facade and rendered per family."""

    def __init__(self, status: int, message: str, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "ERROR")
        self.details = details
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


_OPENAI_PROXIED = re.compile(r"^/api/v1/inference-services/[^/]+/v1(/|$)")


def family_for_path(path: str) -> Family:
    if path.startswith(("/api/v1/trainings", "/api/v1/trainers")):
        return "sktai"
    if path.startswith("/api/finetune"):
        return "finetune"
    if path.startswith("/api/v1/services/"):
        return "aitems"
    if path.startswith("/api/v1/inference-services"):
        # A service's own OpenAI routes, proxied: the facade's errors there match the server's.
        return "openai" if _OPENAI_PROXIED.match(path) else "inference"
    if path.startswith(("/healthz", "/readyz")):
        return "health"
    if path == "/v1" or path.startswith("/v1/"):
        return "openai"
    return "platform"


def from_api_exception(exc: ApiException) -> ApiError:
    """Translate a Kubernetes API error, keeping its status where it means the same to the client."""
    status = int(exc.status or 0)
    message = _kube_message(exc)
    if status in KUBE_PASSTHROUGH:
        return ApiError(status, message)
    if status == 410:
        return ApiError(409, message, code="GONE")
    return ApiError(502, "the control plane could not complete the request", details={"status": status})


def _kube_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or exc.reason or HTTPStatus(int(exc.status or 500)).phrase)


# Response models so every route documents its error shape in OpenAPI.
class SktaiError(BaseModel):
    status: int
    error: str
    code: str
    message: str
    path: str
    timestamp: datetime
    details: Any = None


class FinetuneErrorInner(BaseModel):
    code: str
    message: str
    details: Any = None


class FinetuneError(BaseModel):
    error: FinetuneErrorInner


class PlatformError(BaseModel):
    detail: str


class AitemsErrorInner(BaseModel):
    error_code: str = Field(alias="errorCode")
    message: str
    details: Any = None


class AitemsError(BaseModel):
    error: AitemsErrorInner


class InferenceError(BaseModel):
    error: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class OpenAIErrorInner(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorInner


ERROR_MODELS: dict[Family, type[BaseModel]] = {
    "sktai": SktaiError, "finetune": FinetuneError, "platform": PlatformError, "aitems": AitemsError,
    "inference": InferenceError, "health": PlatformError, "openai": OpenAIError,
}


def openai_type(status: int) -> str:
    """OpenAI's error `type` for a status (its SDK picks the exception class from the status)."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def error_responses(family: Family, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting a family's error body for the given statuses."""
    model = ERROR_MODELS[family]
    codes = statuses or (400, 401, 403, 404, 409, 422)
    return {code: {"model": model, "description": HTTPStatus(code).phrase} for code in codes}


def error_body(family: Family, error: ApiError, path: str) -> dict[str, Any]:
    if family == "sktai":
        return {
            "status": error.status, "error": HTTPStatus(error.status).phrase, "code": error.code,
            "message": error.message, "path": path, "timestamp": datetime.now(UTC).isoformat(),
            "details": error.details,
        }
    if family == "finetune":
        return {"error": {"code": error.code, "message": error.message, "details": error.details}}
    if family == "aitems":
        return {"error": {"errorCode": str(error.status), "message": error.message, "details": error.details}}
    if family == "inference":
        details = error.details if isinstance(error.details, dict) else {}
        return {"error": error.code, "message": error.message, "details": details}
    if family == "openai":
        found = error.details if isinstance(error.details, list) and error.details else [error.details]
        first = found[0] if isinstance(found[0], dict) else {}
        return {"error": {"message": error.message, "type": openai_type(error.status),
                          "param": first.get("param") or first.get("field") or None, "code": error.code.lower()}}
    return {"detail": error.message}


def render(request: Request, error: ApiError) -> JSONResponse:
    path = request.url.path
    family = family_for_path(path)
    status = 400 if family == "openai" and error.status == 422 else error.status  # OpenAI answers 400 there
    return JSONResponse(error_body(family, error, path), status_code=status, headers=error.headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    details = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path"))
        details.append({"field": loc, "message": str(err.get("msg", "invalid"))})
    message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
    return message or "invalid request", details


def install(app: FastAPI) -> None:
    """Register the handlers; after this no exception leaves the app in FastAPI's default shape."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return render(request, exc)

    async def on_kube_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiException)
        return render(request, from_api_exception(exc))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, details = _validation_message(exc)
        return render(request, ApiError(422, message, details=details))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return render(request, ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, ApiError(500, "internal error"))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(ApiException, on_kube_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
