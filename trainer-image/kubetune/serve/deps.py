"""FastAPI dependencies: the engine, the settings and the API-key check.

All are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread,
two thread hand-offs per request that cost the event loop more than the work itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kubetune.serve.auth import ApiKeyFile, bearer_token
from kubetune.serve.engine import InferenceEngine
from kubetune.serve.errors import ApiError
from kubetune.serve.settings import ServeSettings


async def get_engine(request: Request) -> InferenceEngine:
    engine: InferenceEngine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.engine.settings
    return settings


async def require_api_key(request: Request) -> None:
    """Check the bearer key when a key file is configured (a stat of a local file: fine on the loop)."""
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
