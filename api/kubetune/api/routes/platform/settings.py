"""GET /api/v1/settings/system and /api/v1/settings/storage: the chart's configuration and real usage."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.schemas.platform import StorageSettings, SystemSettings

router = APIRouter()
GB = 1024**3


@router.get("/settings/system", response_model=SystemSettings, operation_id="platform_system_settings")
async def system_settings(ctx: ContextDep, user: CurrentUser) -> SystemSettings:
    s = ctx.settings
    return SystemSettings(
        site_name=s.site_name, site_description=s.site_description, version=s.version, language=s.language,
        theme=s.theme, features={"gpu_monitoring": True, "distributed_training": True,
                                 "model_registry": True, "inference_service": True,
                                 "serve_by_default": s.serve_by_default})


@router.get("/settings/storage", response_model=StorageSettings, operation_id="platform_storage_settings")
async def storage_settings(ctx: ContextDep, user: CurrentUser) -> StorageSettings:
    used = await asyncio.to_thread(ctx.storage.usage_bytes)
    total = await asyncio.to_thread(ctx.storage.total_bytes)
    total_gb = round(total / GB, 3) if total else ctx.settings.storage_total_gb
    return StorageSettings(
        max_dataset_size_gb=round(ctx.settings.max_upload_bytes / GB, 3),
        max_model_size_gb=ctx.settings.max_model_size_gb, default_storage_path=ctx.settings.storage_root,
        used_storage_gb=round(used / GB, 6), total_storage_gb=total_gb)
