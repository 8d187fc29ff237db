"""Reaching an InferenceService's server: lookup by `project/name` (or a unique name) and JSON calls."""

from __future__ import annotations

from typing import Any

import httpx

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.serving.wake import ensure_awake
from kubetune.crd import labels as lbl
from kubetune.crd import serving_keys


def find_service(ctx: AppContext, user: Principal, ref: str) -> Obj:
    """`project/name`, `project.name`, or a name unique among the caller's services."""
    cache = ctx.cache
    project, sep, name = ref.partition("/")
    if not sep:
        project, sep, name = ref.partition(".")
    if sep:
        ns = access.project(cache, user, project, ctx.settings.project_namespace_prefix)
        found = cache.inference_services.get(name, meta.name(ns))
        if found is None:
            raise ApiError(404, f"model {ref!r} not found")
        return found
    matches = [o for o in access.visible(cache, user, cache.inference_services.all()) if meta.name(o) == ref]
    if not matches:
        raise ApiError(404, f"model {ref!r} not found")
    if len(matches) > 1:
        raise ApiError(409, f"model name {ref!r} is ambiguous: use project/name")
    return matches[0]


def server_url(ctx: AppContext, isvc: Obj) -> str:
    st = meta.status(isvc)
    url = st.get("url")
    if st.get("phase") != "Ready" or not url:
        raise ApiError(503, f"model {meta.name(isvc)!r} is not ready (phase {st.get('phase') or 'Pending'})",
                       code="MODEL_NOT_READY")
    if ctx.settings.inference_routing == "pod":
        return pod_url(ctx, isvc)
    return str(url).rstrip("/")


def _ready(pod: Obj) -> bool:
    conditions = meta.status(pod).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_url(ctx: AppContext, isvc: Obj) -> str:
    """A ready server pod of this InferenceService, by IP and container port (from the pod cache)."""
    pods = [p for p in ctx.cache.pods.in_project(meta.namespace(isvc))
            if meta.labels(p).get(lbl.INFERENCE_SERVICE) == meta.name(isvc) and meta.status(p).get("podIP")
            and _ready(p)]
    if not pods:
        raise ApiError(503, f"model {meta.name(isvc)!r} has no ready server pod", code="MODEL_NOT_READY")
    pod = min(pods, key=meta.name)
    ports = [p.get("containerPort") for c in meta.spec(pod).get("containers") or [] for p in c.get("ports") or []]
    port = next((p for p in ports if p), 8080)
    return f"http://{meta.status(pod)['podIP']}:{port}"


def server_key(ctx: AppContext, isvc: Obj) -> str | None:
    """The key this service's server accepts from the facade: derived, never read from its Secret.

    The facade holds no right to read Secrets in project namespaces; the operator wrote the same
    derivation into the server's Secret (kubetune.crd.serving_keys). None for `auth: none`.
    """
    if meta.spec(isvc).get("auth") == "none":
        return None
    platform = ctx.settings.serving_key_secret
    if platform is not None:
        return serving_keys.facade_key(platform.get_secret_value(), meta.namespace(isvc), meta.name(isvc),
                                       meta.uid(isvc))
    fixed = ctx.settings.inference_api_key
    return fixed.get_secret_value() if fixed else None


def server_headers(ctx: AppContext, isvc: Obj) -> dict[str, str]:
    key = server_key(ctx, isvc)
    return {"Authorization": f"Bearer {key}"} if key else {}


async def call_server(ctx: AppContext, isvc: Obj, method: str, path: str, body: Any = None) -> dict[str, Any]:
    isvc = await ensure_awake(ctx, isvc)
    url = server_url(ctx, isvc) + path
    try:
        resp = await ctx.http.request(method, url, json=body, headers=server_headers(ctx, isvc))
    except httpx.HTTPError as exc:
        raise ApiError(502, f"inference server unreachable: {type(exc).__name__}") from exc
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if resp.status_code >= 400:
        message = data.get("message") or data.get("detail") if isinstance(data, dict) else None
        raise ApiError(resp.status_code if resp.status_code in (400, 404, 422, 429, 503, 507) else 502,
                       str(message or "inference failed"))
    if not isinstance(data, dict):
        raise ApiError(502, "inference server answered with an unexpected body")
    return data
