"""GET/PUT /api/v1/admin/projects/{project_id}/quota: one project's ResourceQuota, for administrators.

The facade does not write the ResourceQuota: with the administrator's own authority it writes the
limits into the project's override ConfigMap in the platform's namespace (kubetune.crd.project_quota;
a project's own admins cannot write there) and stamps the project Namespace so the operator applies
them at once; the operator keeps the ResourceQuota as the chart's defaults plus that override
(handlers/project_quota.py). GET shows both: what was asked and what Kubernetes enforces.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Path
from kubernetes.client import ApiException

from kubetune.api import access
from kubetune.api.cluster import CONFIG_MAPS, NAMESPACES
from kubetune.api.cluster.resources import Res
from kubetune.api.context import AppContext
from kubetune.api.core.errors import error_responses
from kubetune.api.deps import AdminUser, ContextDep
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.quota import ProjectQuotaRead, ProjectQuotaUpdate
from kubetune.crd import labels as lbl
from kubetune.crd.project_quota import (
    OVERRIDE_KEY,
    QUOTA_NAME,
    REVISION_ANNOTATION,
    QuotaLimits,
    override_config_map_name,
    override_of,
)

router = APIRouter(prefix="/api/v1/admin", tags=["admin"],
                   responses=error_responses("platform", 401, 403, 404, 422))
RESOURCE_QUOTAS = Res("", "v1", "resourcequotas", "ResourceQuota", True)
ProjectRef = Annotated[str, Path(max_length=128, description="Numeric id, key or namespace of the project.")]


async def _get(ctx: AppContext, res: Res, name: str, namespace: str) -> Obj | None:
    try:
        return await ctx.cluster.get(res, name, namespace)
    except ApiException as exc:
        if exc.status in (403, 404):  # not made yet (or not readable): the request still answers
            return None
        raise


async def _read(ctx: AppContext, ns: Obj) -> ProjectQuotaRead:
    config_map = await _get(ctx, CONFIG_MAPS, override_config_map_name(meta.name(ns)), ctx.settings.system_namespace)
    limits, _ = override_of(config_map)
    quota = await _get(ctx, RESOURCE_QUOTAS, QUOTA_NAME, meta.name(ns))
    status = (quota or {}).get("status") or {}
    return ProjectQuotaRead(project_id=meta.numeric_id(ns) or None, project_key=access.project_key(ns),
                            overrides=limits.model_dump(exclude_unset=True) if limits else {},
                            hard=status.get("hard"), used=status.get("used"))


async def _write_override(ctx: AppContext, namespace: str, value: str | None) -> None:
    """Create, replace or remove the override ConfigMap (409 on create: it exists, so replace it)."""
    name, system = override_config_map_name(namespace), ctx.settings.system_namespace
    if value is None:
        try:
            await ctx.cluster.delete(CONFIG_MAPS, name, system)
        except ApiException as exc:
            if exc.status != 404:
                raise
        return
    body: Obj = {"metadata": {"name": name, "namespace": system, "labels": {lbl.MANAGED_BY: "kubetune-api"}},
                 "data": {OVERRIDE_KEY: value}}
    try:
        await ctx.cluster.create(CONFIG_MAPS, body, system)
    except ApiException as exc:
        if exc.status != 409:
            raise
        await ctx.cluster.patch(CONFIG_MAPS, name, {"data": {OVERRIDE_KEY: value}}, system)


@router.get("/projects/{project_id}/quota", response_model=ProjectQuotaRead, operation_id="admin_get_project_quota")
async def get_project_quota(ctx: ContextDep, admin: AdminUser, project_id: ProjectRef) -> ProjectQuotaRead:
    return await _read(ctx, access.project(ctx.cache, admin, project_id, ctx.settings.project_namespace_prefix))


@router.put("/projects/{project_id}/quota", response_model=ProjectQuotaRead, operation_id="admin_put_project_quota")
async def put_project_quota(ctx: ContextDep, admin: AdminUser, project_id: ProjectRef,
                            body: ProjectQuotaUpdate) -> ProjectQuotaRead:
    """Replace the project's limits; `{}` returns it to the chart's defaults. The operator applies it."""
    ns = access.project(ctx.cache, admin, project_id, ctx.settings.project_namespace_prefix)
    limits = QuotaLimits.model_validate(body.model_dump(exclude_unset=True))
    value = json.dumps(limits.model_dump(by_alias=True, exclude_unset=True), sort_keys=True) if \
        limits.model_fields_set else None
    await _write_override(ctx, meta.name(ns), value)
    # The stamp only makes the operator read the ConfigMap again (a Namespace event); it carries no limits.
    revision = hashlib.sha256((value or "").encode()).hexdigest()[:16]
    ns = ctx.cache.remember(NAMESPACES, await ctx.cluster.patch(
        NAMESPACES, meta.name(ns), {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}))
    return await _read(ctx, ns)
