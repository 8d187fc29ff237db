"""FastAPI dependencies: the engine, the settings and the API-key check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kubetune.serve.auth import ApiKeyFile, bearer_token
from kubetune.serve.engine import InferenceEngine
from kubetune.serve.errors import ApiError
from kubetune.serve.settings import ServeSettings


def get_engine(request: Request) -> InferenceEngine:
    engine: InferenceEngine = request.app.state.engine
    return engine


def get_settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.engine.settings
    return settings


def require_api_key(request: Request) -> None:
    """Check the bearer key when a key file is configured."""
    keys: ApiKeyFile | None = request.app.state.api_keys
    if keys is None:
        return
    token = bearer_token(request.headers.get("authorization"))
    if token is None or not keys.accepts(token):
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "A valid API key is required (Authorization: Bearer <key>).",
            headers={"WWW-Authenticate": "Bearer"},
        )


Engine = Annotated[InferenceEngine, Depends(get_engine)]
Settings = Annotated[ServeSettings, Depends(get_settings)]
