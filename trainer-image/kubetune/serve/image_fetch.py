"""Fetching the image of an ``/infer/image`` request: ``data:`` URIs and http(s) URLs only.

http(s) downloads go through the guarded network backend (no loopback,
link-local or private targets unless allowed), follow redirects one hop at a
time so that every hop is vetted again, stop at a size and a time limit, and
land in a temporary file that is deleted as soon as the image is decoded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import httpcore

from kubetune.serve.errors import ApiError
from kubetune.serve.net_guard import (
    AddressPolicy,
    BlockedAddressError,
    GuardedBackend,
    Resolver,
    literal_addresses,
    system_resolver,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_seconds: float
    max_redirects: int
    tmp_dir: Path | None = None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_IMAGE_URL", message)


def _blocked(message: str) -> ApiError:
    return ApiError(400, "IMAGE_URL_NOT_ALLOWED", message)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "IMAGE_TOO_LARGE", f"The image exceeds {limit} bytes.", {"max_bytes": limit})


def decode_data_uri(uri: str, max_bytes: int) -> bytes:
    """The payload of ``data:[<mediatype>][;base64],<data>``, within the size limit."""
    header, sep, payload = uri[len("data:") :].partition(",")
    if not sep:
        raise _invalid("A data: URI needs a comma before its payload.")
    # Base64 grows data by 4/3: refuse oversized payloads before decoding them.
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise _too_large(max_bytes)
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as error:
        raise _invalid(f"The data: URI payload is not valid base64: {error}") from error
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def check_http_url(url: str, policy: AddressPolicy) -> None:
    """Cheap checks before any connection: scheme, host, credentials, literal addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _invalid("Only http, https and data: image URLs are accepted.")
    if not parts.hostname:
        raise _invalid("The image URL has no host.")
    if parts.username or parts.password:
        raise _invalid("Credentials in image URLs are not accepted.")
    try:
        _ = parts.port
    except ValueError as error:
        raise _invalid(f"Bad port in image URL: {error}") from error
    for address in literal_addresses(parts.hostname):
        if not policy.allows(address):
            raise _blocked(f"Fetching from {address} is not allowed.")


async def _download_once(
    pool: httpcore.AsyncConnectionPool, url: str, limits: FetchLimits, sink: BinaryIO
) -> str | None:
    """GET one URL into ``sink``; returns the redirect target instead when there is one."""
    timeouts = {key: limits.timeout_seconds for key in ("connect", "read", "write", "pool")}
    async with pool.stream(
        "GET",
        url,
        headers=[(b"Accept", b"image/*"), (b"User-Agent", b"kubetune-serve")],
        extensions={"timeout": timeouts},
    ) as response:
        if response.status in REDIRECTS:
            location = dict((k.lower(), v) for k, v in response.headers).get(b"location")
            if not location:
                raise ApiError(400, "IMAGE_FETCH_FAILED", "Redirect without a Location header.")
            return urljoin(url, location.decode("latin-1"))
        if response.status != 200:
            raise ApiError(
                400,
                "IMAGE_FETCH_FAILED",
                f"The image server answered {response.status}.",
                {"status": response.status},
            )
        length = dict((k.lower(), v) for k, v in response.headers).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limits.max_bytes:
            raise _too_large(limits.max_bytes)
        received = 0
        async for chunk in response.aiter_stream():
            received += len(chunk)
            if received > limits.max_bytes:
                raise _too_large(limits.max_bytes)
            sink.write(chunk)
    return None


async def _download(url: str, policy: AddressPolicy, limits: FetchLimits, resolver: Resolver, path: Path) -> None:
    backend = GuardedBackend(policy, resolver)
    async with httpcore.AsyncConnectionPool(network_backend=backend, retries=0) as pool:
        for _hop in range(limits.max_redirects + 1):
            check_http_url(url, policy)
            with path.open("wb") as sink:
                target = await _download_once(pool, url, limits, sink)
            if target is None:
                return
            url = target
    raise ApiError(400, "IMAGE_FETCH_FAILED", f"More than {limits.max_redirects} redirects.")


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def fetch_image_bytes(
    url: str, policy: AddressPolicy, limits: FetchLimits, resolver: Resolver = system_resolver
) -> bytes:
    """The bytes of the image at ``url`` (data:, http or https), within the limits."""
    if url.startswith("data:"):
        return decode_data_uri(url, limits.max_bytes)
    check_http_url(url, policy)
    descriptor, name = tempfile.mkstemp(prefix="kubetune-image-", dir=limits.tmp_dir)
    os.close(descriptor)
    path = Path(name)
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            await _download(url, policy, limits, resolver, path)
        return await asyncio.to_thread(path.read_bytes)
    except BlockedAddressError as error:
        raise _blocked(str(error)) from error
    except TimeoutError as error:
        raise ApiError(
            400, "IMAGE_FETCH_TIMEOUT", f"Fetching the image took over {limits.timeout_seconds}s."
        ) from error
    except (httpcore.ConnectError, httpcore.TimeoutException, httpcore.ProtocolError, httpcore.NetworkError) as error:
        raise ApiError(400, "IMAGE_FETCH_FAILED", f"Could not fetch the image: {error}") from error
    finally:
        await asyncio.to_thread(_remove, path)
