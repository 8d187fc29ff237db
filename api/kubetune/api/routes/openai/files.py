"""POST/GET /v1/files, GET/DELETE /v1/files/{file_id}, GET /v1/files/{file_id}/content.

A file is a Dataset in the caller's project whose data lies in the project's prefix of the store. An
upload streams into the store, is validated line by line as the Dataset controller does (a bad line is
a 400 naming it, and nothing is left behind), then becomes a Dataset named `file-<hex>`: its id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from kubernetes.client import ApiException

from kubetune.api.access import project_key
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import DATASETS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.deps import ContextDep, CurrentUser
from kubetune.api.mapping import meta
from kubetune.api.mapping import openai_names as names
from kubetune.api.mapping import platform as pm
from kubetune.api.mapping.meta import Obj, is_number
from kubetune.api.mapping.openai_files import file_object, purpose
from kubetune.api.routes.openai.common import After, ProjectHeader, invalid, page, project
from kubetune.api.schemas.openai import FileDeleted, FileList, FileObject
from kubetune.api.storage.detect import HEAD_LINES, detect_format
from kubetune.api.storage.keys import safe_filename
from kubetune.api.storage.multipart import ENVELOPE_BYTES, MultipartFileReader
from kubetune.api.storage.store import NotTextError
from kubetune.crd import labels as lbl
from kubetune.crd.kinds import DATASET
from kubetune.formats import DatasetError, iter_records

router = APIRouter()
PURPOSES = ("fine-tune",)  # the one purpose a fine-tuning platform stores
CHUNK = 1 << 16


def find_file(ctx: AppContext, ns: Obj, file_id: str, param: str | None = None) -> Obj:
    found = ctx.cache.datasets.get(file_id, meta.name(ns)) if file_id else None
    if found is None:
        raise invalid(f"No such File object: {file_id}", param, code="file_not_found", status=404)
    return found


def validate(ctx: AppContext, namespace: str, key: str, filename: str) -> tuple[str, int]:
    """Every line parsed with the detected format: (format, rows). A 400 naming the line otherwise."""
    store = ctx.storage
    try:
        fmt = detect_format(store.read_lines(namespace, key, HEAD_LINES))
        rows = sum(1 for _ in iter_records(store.read_lines(namespace, key), fmt, source=filename))
    except ApiError as exc:  # detect_format's refusals name the line already
        raise invalid(f"Invalid file {filename}: {exc.message}", "file", code="invalid_file") from exc
    except (DatasetError, NotTextError) as exc:
        reason = exc.reason if isinstance(exc, DatasetError) else str(exc)
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise ApiError(400, f"Invalid file {filename}: {where}{reason}", code="invalid_file",
                       details={"param": "file", "line": exc.line}) from exc
    if rows == 0:
        raise invalid(f"Invalid file {filename}: it holds no examples", "file", code="invalid_file")
    return fmt, rows


async def upload(ctx: AppContext, user: Principal, request: Request, ns: Obj) -> Obj:
    length = request.headers.get("content-length")
    limit = ctx.settings.max_upload_bytes
    if length and is_number(length) and int(length) > limit + ENVELOPE_BYTES:
        raise invalid(f"the file exceeds the limit of {limit} bytes", "file", status=413)
    namespace = meta.name(ns)
    await ctx.authorizer.require(user, "create", DATASETS, namespace)  # before a byte reaches the store
    reader = MultipartFileReader(request.headers.get("content-type", ""), request.stream())
    name = f"file-{uuid.uuid4().hex[:16]}"
    key = f"openai-files/{name}/upload"
    size = await ctx.storage.write_stream(namespace, key, reader.file_chunks(), limit)
    store = ctx.storage
    try:
        wanted = reader.fields.get("purpose", "")
        if wanted not in PURPOSES:
            raise invalid(f"purpose {wanted!r} is not supported here: kubetune stores files with purpose "
                          f"{', '.join(PURPOSES)}", "purpose")
        filename = safe_filename(reader.filename)
        if not filename.endswith(".jsonl"):
            raise invalid(f"Invalid file format {filename!r}: fine-tuning files are JSON Lines (.jsonl)", "file",
                          code="invalid_file")
        final_key = f"openai-files/{name}/{filename}"
        await asyncio.to_thread(store.fs.mv, store.path(namespace, key), store.path(namespace, final_key))
        key = final_key
        fmt, _ = await asyncio.to_thread(validate, ctx, namespace, key, filename)
        spec = {"uri": store.uri(namespace, key), "format": fmt, "displayName": filename,
                "description": f"uploaded by {user.username} through the OpenAI files API"}
        manifest = DATASET.manifest(name, spec, namespace, labels={lbl.PROJECT: project_key(ns)})
        manifest["metadata"]["annotations"] = {
            lbl.OWNER: user.username, lbl.SOURCE_API: names.SOURCE_API, pm.DATASET_KEY: key,
            names.PURPOSE: wanted, names.BYTES: str(size)}
        return ctx.cache.remember(DATASETS, await ctx.cluster.create(DATASETS, manifest, namespace))
    except BaseException:
        await asyncio.to_thread(discard, ctx, namespace, key)
        raise


def discard(ctx: AppContext, namespace: str, key: str) -> None:
    """Remove an upload's folder (`openai-files/<id>/`, which holds only that upload)."""
    folder = ctx.storage.path(namespace, key.rsplit("/", 1)[0])
    if ctx.storage.fs.exists(folder):
        ctx.storage.fs.rm(folder, recursive=True)


@router.post("/files", response_model=FileObject, operation_id="openai_create_file",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file", "purpose"],
                 "properties": {"file": {"type": "string", "format": "binary"},
                                "purpose": {"type": "string", "enum": list(PURPOSES)}}}}}}})
async def create_file(request: Request, ctx: ContextDep, user: CurrentUser,
                      openai_project: ProjectHeader = None) -> FileObject:
    """Upload a JSONL training file (multipart: `file`, `purpose=fine-tune`), validated line by line."""
    return file_object(await upload(ctx, user, request, project(ctx, user, openai_project)))


@router.get("/files", response_model=FileList, operation_id="openai_list_files")
async def list_files(ctx: ContextDep, user: CurrentUser, openai_project: ProjectHeader = None,
                     purpose_filter: Annotated[str | None, Query(alias="purpose", max_length=64)] = None,
                     limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
                     order: Literal["asc", "desc"] = "desc", after: After = None) -> FileList:
    ns = project(ctx, user, openai_project)
    found = sorted(ctx.cache.datasets.in_project(meta.name(ns)), key=lambda d: (meta.created(d), meta.name(d)),
                   reverse=order == "desc")
    files = [file_object(d) for d in found if purpose_filter in (None, purpose(d))]
    chosen, more = page(files, after, limit)
    return FileList(data=chosen, has_more=more, first_id=chosen[0].id if chosen else None,
                    last_id=chosen[-1].id if chosen else None)


@router.get("/files/{file_id}", response_model=FileObject, operation_id="openai_get_file")
async def get_file(ctx: ContextDep, user: CurrentUser, file_id: str,
                   openai_project: ProjectHeader = None) -> FileObject:
    return file_object(find_file(ctx, project(ctx, user, openai_project), file_id))


def _chunks(ctx: AppContext, namespace: str, key: str) -> Iterator[bytes]:
    with ctx.storage.fs.open(ctx.storage.path(namespace, key), "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def key_of(ctx: AppContext, ds: Obj) -> str:
    key = meta.annotations_of(ds).get(pm.DATASET_KEY) or ctx.storage.key_of_uri(
        meta.namespace(ds), str(meta.spec(ds).get("uri", "")))
    if not key or not ctx.storage.exists(meta.namespace(ds), key):
        raise invalid("the file's content is not in the project's store", code="file_not_found", status=404)
    return key


@router.get("/files/{file_id}/content", operation_id="openai_get_file_content", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}},
                             "description": "The file's bytes."}})
async def file_content(ctx: ContextDep, user: CurrentUser, file_id: str,
                       openai_project: ProjectHeader = None) -> StreamingResponse:
    ds = find_file(ctx, project(ctx, user, openai_project), file_id)
    key = key_of(ctx, ds)
    return StreamingResponse(_chunks(ctx, meta.namespace(ds), key), media_type="application/octet-stream")


def copy_beside(ctx: AppContext, source: Obj, target: Obj, name: str) -> str:
    """Copy `source`'s bytes next to `target`'s file as `<name>.jsonl`: a split the trainer finds there
    (kubetune.train.data reads a file Dataset's other splits from its siblings). Returns the new key."""
    folder = key_of(ctx, target).rpartition("/")[0]
    key = f"{folder}/{name}.jsonl" if folder else f"{name}.jsonl"
    store, namespace = ctx.storage, meta.namespace(target)
    store.fs.copy(store.path(namespace, key_of(ctx, source)), store.path(namespace, key))
    return key


@router.delete("/files/{file_id}", response_model=FileDeleted, operation_id="openai_delete_file")
async def delete_file(ctx: ContextDep, user: CurrentUser, file_id: str,
                      openai_project: ProjectHeader = None) -> FileDeleted:
    """Deletes the Dataset (as the caller); the bytes too when this API uploaded them."""
    ds = find_file(ctx, project(ctx, user, openai_project), file_id)
    namespace = meta.namespace(ds)
    try:
        await ctx.cluster.delete(DATASETS, meta.name(ds), namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
    ctx.cache.forget(DATASETS, ds)
    key = meta.annotations_of(ds).get(pm.DATASET_KEY)
    if meta.annotations_of(ds).get(lbl.SOURCE_API) == names.SOURCE_API and key:
        await asyncio.to_thread(discard, ctx, namespace, key)
    return FileDeleted(id=file_id, deleted=True)
