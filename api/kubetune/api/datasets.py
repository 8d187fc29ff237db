"""Dataset files: streamed upload into the store plus a Dataset object; formatting via kubetune.formats.

Formatting never holds a file in memory: `formatting.py` reads it line by line, in passes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Request

from kubetune.api import formatting as fmt
from kubetune.api.access import project_key
from kubetune.api.auth.principal import Principal
from kubetune.api.cluster import DATASETS
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping import meta
from kubetune.api.mapping import platform as pm
from kubetune.api.mapping.meta import Obj, is_number
from kubetune.api.schemas.finetune import Upload
from kubetune.api.storage.detect import HEAD_LINES, detect_format
from kubetune.api.storage.keys import safe_filename, safe_key
from kubetune.api.storage.multipart import ENVELOPE_BYTES, MultipartFileReader
from kubetune.api.storage.store import NotTextError
from kubetune.crd import labels as lbl
from kubetune.crd.kinds import DATASET
from kubetune.formats import FORMATS as KNOWN_FORMATS
from kubetune.formats import STRATEGIES, DatasetError, iter_records

ALLOWED_SUFFIXES = (".jsonl", ".json")


async def upload(ctx: AppContext, user: Principal, request: Request, ns: Obj, task_id: str | None,
                 declared_format: str | None) -> Upload:
    length = request.headers.get("content-length")
    limit = ctx.settings.max_upload_bytes
    if length and is_number(length) and int(length) > limit + ENVELOPE_BYTES:
        raise ApiError(413, f"upload exceeds the limit of {limit} bytes")
    if declared_format is not None and declared_format not in KNOWN_FORMATS:
        raise ApiError(422, f"unknown format {declared_format!r}")
    namespace = meta.name(ns)
    await ctx.authorizer.require(user, "create", DATASETS, namespace)  # before a byte reaches the store
    reader = MultipartFileReader(request.headers.get("content-type", ""), request.stream())
    key = f"datasets/{uuid.uuid4().hex[:8]}/pending"
    size = await ctx.storage.write_stream(namespace, key, reader.file_chunks(), limit)
    filename = safe_filename(reader.filename)
    if not filename.endswith(ALLOWED_SUFFIXES):
        ctx.storage.remove(namespace, key)
        raise ApiError(400, "dataset files must be .jsonl or .json (JSON Lines)")
    final_key = key.rsplit("/", 1)[0] + "/" + filename
    store = ctx.storage
    await asyncio.to_thread(store.fs.mv, store.path(namespace, key), store.path(namespace, final_key))
    try:
        fmt = await asyncio.to_thread(_check, ctx, namespace, final_key, declared_format)
    except ApiError:
        await asyncio.to_thread(ctx.storage.remove, namespace, final_key)
        raise
    ident = await ctx.ids.allocate()
    spec = {"uri": ctx.storage.uri(namespace, final_key), "format": fmt, "displayName": filename,
            "description": f"uploaded by {user.username}"}
    labels = {lbl.PROJECT: project_key(ns), **({lbl.TASK: task_id} if task_id else {})}
    name = meta.object_name(filename.rsplit(".", 1)[0], uuid.uuid4().hex[:6])
    manifest = DATASET.manifest(name, spec, namespace, labels=labels)
    manifest["metadata"]["annotations"] = {lbl.NUMERIC_ID: str(ident), lbl.OWNER: user.username,
                                           lbl.SOURCE_API: "finetune", pm.DATASET_KEY: final_key}
    obj = ctx.cache.remember(DATASETS, await ctx.cluster.create(DATASETS, manifest, namespace))
    return Upload(filename=filename, path=final_key, dataset_id=meta.uid(obj), project_id=project_key(ns),
                  format=fmt, size=size)


def _check(ctx: AppContext, namespace: str, key: str, declared: str | None) -> str:
    """Detect (or confirm) the format from the head of the file and parse that head with it."""
    try:
        head = list(ctx.storage.read_lines(namespace, key, HEAD_LINES))
    except NotTextError as exc:
        raise ApiError(400, str(exc), code="INVALID_DATASET") from exc
    fmt = declared or detect_format(head)
    try:
        for _ in iter_records(head, fmt, source=key):
            pass
    except DatasetError as exc:
        raise ApiError(400, f"not a valid {fmt} file: {exc}", code="INVALID_DATASET") from exc
    return fmt


def dataset_for_key(ctx: AppContext, namespace: str, key: str) -> Obj | None:
    return next((d for d in ctx.cache.datasets.in_project(namespace)
                 if meta.annotations_of(d).get(pm.DATASET_KEY) == key), None)


def split_definitions(dataset: Obj | None) -> list[tuple[str, int]]:
    return [(s.get("name", "all"), int(s.get("seed", 42))) for s in meta.spec(dataset or {}).get("splits") or []]


def check_choices(format_type: str, strategy: str) -> None:
    if format_type not in KNOWN_FORMATS:
        raise ApiError(422, f"unknown format_type {format_type!r}; known: {', '.join(KNOWN_FORMATS)}")
    if strategy not in STRATEGIES:
        raise ApiError(422, f"unknown data_strategy {strategy!r}; known: {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class Formatting:
    """A checked request to format one stored file: how to reopen it, what to make, which rows."""

    open_lines: fmt.OpenLines
    job: fmt.FormatJob
    rows: fmt.Rows

    def chunks(self) -> Iterator[bytes]:
        """The output, rendered line by line and handed out in chunks (a download's body)."""
        return fmt.chunked(fmt.rendered(self.open_lines, self.job, self.rows))


def _invalid(exc: DatasetError | NotTextError) -> ApiError:
    line = exc.line
    return ApiError(422, str(exc), code="INVALID_DATASET", details={"line": line} if line is not None else None)


def prepare_formatting(ctx: AppContext, namespace: str, key: str, split_name: str, format_type: str,
                       strategy: str, system_message: str | None, thinking: str | None,
                       *, check_all: bool) -> Formatting:
    """Everything that can fail, before any output: 404, 422 for choices, splits and bad lines.

    With `check_all` every chosen line is parsed and rendered once (a download cannot change its
    status once streaming); without it only the split's row count is taken, when it is needed.
    """
    key = safe_key(key)
    if not ctx.storage.exists(namespace, key):
        raise ApiError(404, f"dataset {key!r} not found")
    if ctx.storage.is_dir(namespace, key):  # reading it would be an IsADirectoryError: a 500
        raise ApiError(400, f"dataset {key!r} is a directory; a file is expected here")
    check_choices(format_type, strategy)
    dataset = dataset_for_key(ctx, namespace, key)

    def open_lines() -> Iterator[str]:
        return ctx.storage.read_lines(namespace, key)

    try:
        input_fmt = (meta.spec(dataset).get("format") if dataset else None) or detect_format(
            ctx.storage.read_lines(namespace, key, HEAD_LINES))
        job = fmt.FormatJob(source=key, input_format=input_fmt, output_format=format_type, strategy=strategy,
                            system_message=system_message, thinking_instructions=thinking)
        rows = fmt.choose_rows(open_lines, job, split_name, split_definitions(dataset))
        if check_all:
            fmt.check(open_lines, job, rows)
    except KeyError as exc:
        raise ApiError(422, f"split {split_name!r} is not defined for this dataset") from exc
    except (DatasetError, NotTextError) as exc:
        raise _invalid(exc) from exc
    return Formatting(open_lines, job, rows)


def write_formatted(ctx: AppContext, namespace: str, out_key: str, formatting: Formatting) -> int:
    """Render into the store chunk by chunk; a bad line is a 422 and leaves no file behind."""
    try:
        return ctx.storage.write_chunks(namespace, out_key, formatting.chunks())
    except (DatasetError, NotTextError) as exc:
        raise _invalid(exc) from exc


def dataset_key_of(ctx: AppContext, ds: Obj) -> str:
    """The storage key of a Dataset's file: its annotation, or its uri when it lies in the project's prefix."""
    key = meta.annotations_of(ds).get(pm.DATASET_KEY) or ctx.storage.key_of_uri(
        meta.namespace(ds), meta.spec(ds).get("uri", ""))
    if not key:
        raise ApiError(422, "the dataset's file is not in the artifact store")
    return key
