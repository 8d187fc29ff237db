"""The OpenAI fine-tuning API and model gateway under /v1 (docs/openai.md).

Authenticated with the facade's API keys (or any facade token) as the OpenAI `api_key`; errors in
OpenAI's body (`{"error": {"message", "type", "param", "code"}}`, core/errors.py's openai family).
"""

from fastapi import APIRouter

from kubetune.api.core.errors import error_responses
from kubetune.api.routes.openai import files, fine_tuning, gateway

router = APIRouter(prefix="/v1", tags=["openai"], responses=error_responses("openai", 400, 401, 403, 404, 409))
for module in (files, fine_tuning, gateway):
    router.include_router(module.router)
