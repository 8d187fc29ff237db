"""/api/v1/inference-services/{name}/{path}: pass-through to an InferenceService's server (seed 002).

`name` is `project.name` or a name unique among the caller's services. The body streams both
ways (SSE included); the caller's token is replaced by the key the facade derives for that server
(kubetune.crd.serving_keys). A service scaled to zero is woken first (kubetune.api.serving.wake).
Under `{name}/v1/` the facade's own errors use OpenAI's body, like the server's, so the openai SDK
pointed at `.../inference-services/{name}/v1` shows every failure's message.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from kubetune.api.core.errors import ApiError, error_responses
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.inference import find_service, server_headers, server_url
from kubetune.api.serving.wake import ensure_awake

router = APIRouter(prefix="/api/v1/inference-services", tags=["inference"],
                   responses=error_responses("inference", 401, 403, 404, 502, 503))
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host",
              "authorization", "content-length", "proxy-authorization", "proxy-authenticate"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def proxy(request: Request, ctx: ContextDep, user: CurrentUser, name: str, path: str) -> StreamingResponse:
    if ".." in path.split("/"):
        raise ApiError(400, "path must not contain '..'")
    isvc = await ensure_awake(ctx, find_service(ctx, user, name))
    url = f"{server_url(ctx, isvc)}/{path}"
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.update(server_headers(ctx, isvc))
    upstream_request = ctx.http.build_request(request.method, url, params=request.query_params, headers=headers,
                                              content=request.stream())
    try:
        upstream = await ctx.http.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        raise ApiError(502, f"inference server unreachable: {type(exc).__name__}") from exc
    # aiter_bytes undoes any content-encoding, so that header must not be passed on.
    passed = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
    return StreamingResponse(upstream.aiter_bytes(), status_code=upstream.status_code, headers=passed,
                             background=BackgroundTask(upstream.aclose))


for _method in METHODS:
    router.add_api_route(
        "/{name}/{path:path}", proxy, methods=[_method], operation_id=f"inference_proxy_{_method.lower()}",
        response_class=StreamingResponse,
        responses={200: {"description": "The inference server's response, passed through.",
                         "content": {"application/json": {"schema": {"type": "object"}},
                                     "text/event-stream": {"schema": {"type": "string"}}}}})
