"""POST /upload-dataset, POST /format-dataset, GET /download-dataset, GET /download_dataset_jsonl."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from kubetune.api import access
from kubetune.api import datasets as service
from kubetune.api.cluster import DATASETS
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import is_number
from kubetune.api.schemas.finetune import FormatRequest, FormatResponse, Upload
from kubetune.api.storage.keys import safe_key
from kubetune.formats import DEFAULT_SYSTEM_MESSAGE, output_file_name

router = APIRouter()
JSONL: dict[int | str, dict[str, Any]] = {200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
               "description": "The formatted dataset, one JSON object per line."}}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}}}}}}}
SYSTEM_MESSAGE_GENERATORS = {"default": DEFAULT_SYSTEM_MESSAGE}
ProjectRef = Annotated[str | None, Query(max_length=128, description="Project key or id; the caller's only "
                                                                     "project when omitted.")]


@router.post("/upload-dataset", response_model=Upload, status_code=201, operation_id="finetune_upload_dataset",
             openapi_extra=UPLOAD_BODY, responses={413: {"description": "Too large"}})
async def upload_dataset(request: Request, ctx: ContextDep, user: CurrentUser, project_id: ProjectRef = None,
                         task_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$")] = None,
                         format: Annotated[str | None, Query(max_length=64)] = None) -> Upload:
    ns = access.default_project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    return await service.upload(ctx, user, request, ns, task_id, format)


@router.post("/format-dataset", response_model=FormatResponse, operation_id="finetune_format_dataset")
async def format_dataset(ctx: ContextDep, user: CurrentUser, body: FormatRequest) -> FormatResponse:
    """Writes the formatted file into the project's store, line by line (never the whole file in memory)."""
    ns = access.default_project(ctx.cache, user, body.project_id, ctx.settings.project_namespace_prefix)
    namespace, key = meta.name(ns), safe_key(body.dataset_path)
    await ctx.authorizer.require(user, "create", DATASETS, namespace)  # it writes into the project's store
    formatting = await asyncio.to_thread(
        service.prepare_formatting, ctx, namespace, key, body.split_name, body.format_type, body.data_strategy,
        body.system_message, body.thinking_instructions, check_all=False)
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    out_key = f"formatted/{output_file_name(stem, body.split_name, body.format_type, body.data_strategy)}"
    await asyncio.to_thread(service.write_formatted, ctx, namespace, out_key, formatting)
    return FormatResponse(output_path=out_key)


def _download(formatting: service.Formatting, filename: str) -> StreamingResponse:
    # A sync iterator: Starlette pulls each chunk in a worker thread, so file reads stay off the loop.
    return StreamingResponse(formatting.chunks(), media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/download-dataset", operation_id="finetune_download_dataset", response_class=StreamingResponse,
            responses=JSONL)
async def download_dataset(ctx: ContextDep, user: CurrentUser,
                           dataset_path: Annotated[str, Query(min_length=1, max_length=1024)],
                           format_type: Annotated[str, Query(max_length=64)],
                           data_strategy: Annotated[str, Query(max_length=64)] = "final_only",
                           split_name: Annotated[str, Query(max_length=64)] = "train",
                           system_message: Annotated[str, Query(max_length=16384)] = DEFAULT_SYSTEM_MESSAGE,
                           thinking_instructions: Annotated[str | None, Query(max_length=16384)] = None,
                           project_id: ProjectRef = None) -> StreamingResponse:
    ns = access.default_project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    key = safe_key(dataset_path)
    formatting = await asyncio.to_thread(
        service.prepare_formatting, ctx, meta.name(ns), key, split_name, format_type, data_strategy, system_message,
        thinking_instructions, check_all=True)
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return _download(formatting, output_file_name(stem, split_name, format_type, data_strategy))


@router.get("/download_dataset_jsonl", operation_id="finetune_download_dataset_jsonl",
            response_class=StreamingResponse, responses=JSONL)
async def download_dataset_jsonl(
        ctx: ContextDep, user: CurrentUser, project_id: Annotated[str, Query(max_length=128)],
        task_id: Annotated[str, Query(max_length=63)], dataset_id: Annotated[str, Query(max_length=128)],
        split_name: Annotated[str, Query(max_length=64)] = "train",
        format_type: Annotated[str, Query(max_length=64)] = "openai_chat_jsonl",
        data_strategy: Annotated[str, Query(max_length=64)] = "final_only",
        system_message_generator: Annotated[str | None, Query(max_length=64)] = None,
        custom_system_message: Annotated[str | None, Query(max_length=16384)] = None,
        custom_thinking_instructions: Annotated[str | None, Query(max_length=16384)] = None) -> StreamingResponse:
    ns = access.project(ctx.cache, user, project_id, ctx.settings.project_namespace_prefix)
    ds = ctx.cache.datasets.by_uid(dataset_id) or ctx.cache.datasets.get(dataset_id, meta.name(ns)) or (
        ctx.cache.datasets.by_id(int(dataset_id)) if is_number(dataset_id) else None)
    if ds is None or meta.namespace(ds) != meta.name(ns):
        raise ApiError(404, f"dataset {dataset_id!r} not found in project {project_id!r}")
    key = service.dataset_key_of(ctx, ds)
    if system_message_generator is not None and system_message_generator not in SYSTEM_MESSAGE_GENERATORS:
        raise ApiError(422, f"unknown system_message_generator; known: {', '.join(SYSTEM_MESSAGE_GENERATORS)}")
    system = custom_system_message or SYSTEM_MESSAGE_GENERATORS.get(system_message_generator or "default")
    formatting = await asyncio.to_thread(
        service.prepare_formatting, ctx, meta.name(ns), key, split_name, format_type, data_strategy, system,
        custom_thinking_instructions, check_all=True)
    name = meta.spec(ds).get("displayName") or meta.name(ds)
    return _download(formatting, output_file_name(name.rsplit(".", 1)[0], split_name, format_type, data_strategy))
