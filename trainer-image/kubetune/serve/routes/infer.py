"""Seed 002's inference routes: /infer, /infer/batch and /infer/image."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from kubetune.serve.deps import Engine
from kubetune.serve.engine import image_digest
from kubetune.serve.errors import ApiError, bad_request
from kubetune.serve.image_features import open_image, pixel_features
from kubetune.serve.image_fetch import FetchLimits, fetch_image_bytes
from kubetune.serve.net_guard import AddressPolicy
from kubetune.serve.schemas import (
    BatchRequest,
    BatchResponse,
    BatchResult,
    ImageFeatures,
    ImageInferRequest,
    ImageInferResponse,
    ImageOptions,
    InferRequest,
    InferResponse,
)
from kubetune.serve.settings import ServeSettings

router = APIRouter(tags=["inference"])

# Both text models score text: the classifier by its head, the causal LM by inverse perplexity.
TEXT_TASKS = ("sequence-classification", "causal-lm")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "Bad request format.",
        401: "Missing or unknown API key.",
        422: "Invalid field values.",
        429: "Concurrent-request limit exceeded.",
        500: "Inference error.",
        503: "Model not ready.",
        504: "Request timed out.",
        507: "GPU memory exhausted.",
    }.items()
}


@router.post("/infer", response_model=InferResponse, responses=ERRORS)
async def infer(body: InferRequest, engine: Engine) -> InferResponse:
    started = time.perf_counter()
    engine.require_task("/infer", *TEXT_TASKS)
    adapter = engine.resolve_adapter(body.model)
    [result] = await engine.score_texts([body.text], adapter)
    return InferResponse(
        score=result.score,
        confidence=result.confidence,
        processing_time=round(time.perf_counter() - started, 4),
        model_version=engine.settings.model_version,
    )


@router.post("/infer/batch", response_model=BatchResponse, responses=ERRORS)
async def infer_batch(body: BatchRequest, engine: Engine) -> BatchResponse:
    started = time.perf_counter()
    limit = engine.settings.max_batch_items
    if len(body.items) > limit:
        raise bad_request(f"A batch holds at most {limit} items; got {len(body.items)}.", max_items=limit)
    engine.require_task("/infer/batch", *TEXT_TASKS)
    adapter = engine.resolve_adapter(body.model)
    scores = await engine.score_texts([item.text for item in body.items], adapter, chunk=body.batch_size)
    return BatchResponse(
        results=[
            BatchResult(id=item.id, score=score.score, confidence=score.confidence)
            for item, score in zip(body.items, scores, strict=True)
        ],
        total_processed=len(scores),
        processing_time=round(time.perf_counter() - started, 4),
        model_version=engine.settings.model_version,
    )


def fetch_policy(settings: ServeSettings) -> tuple[AddressPolicy, FetchLimits]:
    policy = AddressPolicy.from_strings(settings.allow_private_image_urls, settings.image_allowed_networks)
    limits = FetchLimits(
        settings.image_max_bytes,
        settings.image_fetch_timeout_seconds,
        settings.image_max_redirects,
        settings.image_tmp_dir,
    )
    return policy, limits


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


async def _from_upload(request: Request, settings: ServeSettings) -> tuple[bytes, ImageOptions, str | None]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.image_max_bytes + 64 * 1024:
        raise ApiError(413, "IMAGE_TOO_LARGE", f"The upload exceeds {settings.image_max_bytes} bytes.")
    async with request.form(max_files=1, max_fields=16) as form:
        upload = form.get("file") or form.get("image")
        if not isinstance(upload, UploadFile):
            raise bad_request("A multipart request needs the image in a 'file' part.")
        # The spooled upload is deleted when the form closes, at the end of this block.
        data = await upload.read(settings.image_max_bytes + 1)
        if len(data) > settings.image_max_bytes:
            raise ApiError(413, "IMAGE_TOO_LARGE", f"The upload exceeds {settings.image_max_bytes} bytes.")
        options = ImageOptions(
            extract_features=_flag(form.get("extract_features"), True),
            return_embeddings=_flag(form.get("return_embeddings"), False),
        )
        model = form.get("model")
        return data, options, model if isinstance(model, str) else None


async def _from_json(request: Request, settings: ServeSettings) -> tuple[bytes, ImageOptions, str | None]:
    try:
        body = ImageInferRequest.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error
    policy, limits = fetch_policy(settings)
    data = await fetch_image_bytes(body.image_url, policy, limits)
    return data, body.options, body.model


IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": ImageInferRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "extract_features": {"type": "boolean"},
                        "return_embeddings": {"type": "boolean"},
                        "model": {"type": "string"},
                    },
                }
            },
        },
        "required": True,
    }
}


@router.post(
    "/infer/image",
    response_model=ImageInferResponse,
    response_model_exclude_none=True,
    responses={**ERRORS, 413: {"description": "Image too large."}},
    openapi_extra=IMAGE_BODY,
)
async def infer_image(request: Request, engine: Engine) -> ImageInferResponse:
    """Classify an image given as an http(s) URL, a data: URI (JSON body) or a multipart upload."""
    started = time.perf_counter()
    settings = engine.settings
    engine.require_task("/infer/image", "image-classification")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        data, options, model = await _from_upload(request, settings)
    else:
        data, options, model = await _from_json(request, settings)
    adapter = engine.resolve_adapter(model)
    image = await asyncio.to_thread(open_image, data, settings.image_max_pixels)
    features = await asyncio.to_thread(pixel_features, image)
    result = await engine.classify_image(image, image_digest(data), adapter, options.return_embeddings)
    return ImageInferResponse(
        style=result.label,
        colors=features.colors,
        features=ImageFeatures(
            brightness=features.brightness, contrast=features.contrast, saturation=features.saturation
        )
        if options.extract_features
        else None,
        confidence=result.confidence,
        processing_time=round(time.perf_counter() - started, 4),
        model_version=settings.model_version,
        embeddings=result.embedding if options.return_embeddings else None,
    )
