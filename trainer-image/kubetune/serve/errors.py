"""Seed 002's error body, used for every error the server returns outside /v1.

``{"error": CODE, "message": text, "details": {...}}``: one shape whether the
error comes from our own code, from FastAPI's validation (422), from routing
(404/405) or from an unexpected exception (500). Under /v1 the same errors use
OpenAI's body (openai_errors.py), so the openai SDK shows their message.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kubetune.serve.openai_errors import is_openai_path, openai_error_body

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its HTTP status and seed-002 code, raised anywhere below the routes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message, details)


def unsupported_parameter(param: str, why: str) -> ApiError:
    """A 400 naming the parameter: a parameter accepted and then ignored would lie to the caller."""
    return ApiError(400, "UNSUPPORTED_PARAMETER", f"{param}: {why}", {"param": param})


def unsupported_task(endpoint: str, task: str) -> ApiError:
    return ApiError(400, "UNSUPPORTED_TASK", f"{endpoint} is not available for a {task} model", {"task": task})


def unsupported_engine_task(endpoint: str, why: str) -> ApiError:
    """The served task could, but the engine running it cannot (``param`` model: this model, served so)."""
    return ApiError(400, "UNSUPPORTED_TASK", f"{endpoint} is not available here: {why}",
                    {"task": endpoint.rsplit("/", 1)[-1], "param": "model"})


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def error_response(error: ApiError, path: str = "") -> JSONResponse:
    if is_openai_path(path):
        param = error.details.get("param")
        body = openai_error_body(error.status, error.code, error.message, param if isinstance(param, str) else None)
    else:
        body = error_body(error.code, error.message, error.details)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "ERROR"


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc, request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _status_code_name(exc.status_code)
    error = ApiError(
        exc.status_code, _status_code_name(exc.status_code), message, headers=getattr(exc, "headers", None)
    )
    return error_response(error, request.url.path)


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # The offending input can be large or sensitive; location, type and message say enough.
    return {key: error[key] for key in ("loc", "msg", "type") if key in error}


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_clean(error) for error in exc.errors()]
    # A body that is not JSON at all is a malformed request (400), not a schema mismatch (422).
    if any(error.get("type") == "json_invalid" for error in errors):
        invalid = ApiError(
            400, "BAD_REQUEST", "The request body is not valid JSON.", {"errors": jsonable_encoder(errors)}
        )
        return error_response(invalid, request.url.path)
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    details: dict[str, Any] = {"errors": jsonable_encoder(errors)}
    if is_openai_path(request.url.path):
        # OpenAI answers a bad value with 400 invalid_request_error naming the parameter.
        param = where.split(".")[0] if where else None
        return error_response(ApiError(400, "INVALID_VALUE", message, {**details, "param": param}), request.url.path)
    return error_response(ApiError(422, "VALIDATION_ERROR", message, details), request.url.path)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(ApiError(500, "INTERNAL_ERROR", "Internal server error."), request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
