"""GET/PUT /api/v1/admin/projects/{project_id}/quota: one project's ResourceQuota, for administrators.

The facade does not write the ResourceQuota: it writes the administrator's limits into the project
Namespace's kubetune.io/quota annotation (kubetune.crd.project_quota) with the administrator's own
authority, and the operator keeps the ResourceQuota as the chart's defaults plus that override
(handlers/project_quota.py). GET shows both: what was asked and what Kubernetes enforces.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path
from kubernetes.client import ApiException

from kubetune.api import access
from kubetune.api.cluster import NAMESPACES
from kubetune.api.cluster.resources import Res
from kubetune.api.context import AppContext
from kubetune.api.core.errors import error_responses
from kubetune.api.deps import AdminUser, ContextDep
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.quota import ProjectQuotaRead, ProjectQuotaUpdate
from kubetune.crd.project_quota import QUOTA_ANNOTATION, QUOTA_NAME, QuotaLimits

router = APIRouter(prefix="/api/v1/admin", tags=["admin"],
                   responses=error_responses("platform", 401, 403, 404, 422))
RESOURCE_QUOTAS = Res("", "v1", "resourcequotas", "ResourceQuota", True)
ProjectRef = Annotated[str, Path(max_length=128, description="Numeric id, key or namespace of the project.")]


def _overrides(ns: Obj) -> dict[str, int | str | None]:
    raw = meta.annotations_of(ns).get(QUOTA_ANNOTATION)
    if not raw:
        return {}
    try:
        limits = QuotaLimits.model_validate(json.loads(raw))
    except ValueError:
        return {}
    return limits.model_dump(exclude_unset=True)


async def _read(ctx: AppContext, ns: Obj) -> ProjectQuotaRead:
    status: dict[str, dict[str, str]] = {}
    try:
        quota = await ctx.cluster.get(RESOURCE_QUOTAS, QUOTA_NAME, meta.name(ns))
        status = quota.get("status") or {}
    except ApiException as exc:
        if exc.status not in (403, 404):  # not made yet (or not readable): the request still answers
            raise
    return ProjectQuotaRead(project_id=meta.numeric_id(ns) or None,
                            project_key=access.project_key(ns), overrides=_overrides(ns),
                            hard=status.get("hard"), used=status.get("used"))


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
    ns = ctx.cache.remember(NAMESPACES, await ctx.cluster.patch(
        NAMESPACES, meta.name(ns), {"metadata": {"annotations": {QUOTA_ANNOTATION: value}}}))
    return await _read(ctx, ns)
