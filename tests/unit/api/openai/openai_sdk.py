"""The real `openai` SDK over the facade's ASGI app (unit tests: no server, no sockets)."""

from __future__ import annotations

import httpx
import openai
from api_env import Env


def sdk(env: Env, user: str, project: str | None = None) -> openai.AsyncOpenAI:
    transport = httpx.ASGITransport(app=env.app)
    return openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=env.tokens[user], project=project,
                              http_client=httpx.AsyncClient(transport=transport), max_retries=0)
