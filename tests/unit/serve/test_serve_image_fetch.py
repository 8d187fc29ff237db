"""SSRF-safe image fetching: schemes, blocked addresses (also behind redirects), limits, temp files."""

from __future__ import annotations

import base64
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kubetune.serve.errors import ApiError
from kubetune.serve.image_fetch import FetchLimits, decode_data_uri, fetch_image_bytes
from kubetune.serve.net_guard import AddressPolicy

pytestmark = pytest.mark.unit

# The test server listens on 127.0.0.2: exempted by the policy below, while 127.0.0.1 stays blocked.
SERVER_HOST = "127.0.0.2"
POLICY = AddressPolicy.from_strings(False, ["127.0.0.2/32"])


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
        elif self.path == "/image.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the limit must hold while streaming
            self.wfile.write(b"x" * 5000)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer((SERVER_HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{SERVER_HOST}:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def limits(tmp_path: Path) -> FetchLimits:
    return FetchLimits(max_bytes=4096, timeout_seconds=10, max_redirects=3, tmp_dir=tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://192.168.1.1/x.png",
        "http://100.64.0.1/x.png",
        "http://0.0.0.0/x.png",
    ],
)
async def test_private_targets_are_blocked(url: str, limits: FetchLimits) -> None:
    with pytest.raises(ApiError) as blocked:
        await fetch_image_bytes(url, POLICY, limits)
    assert (blocked.value.status, blocked.value.code) == (400, "IMAGE_URL_NOT_ALLOWED")


async def test_host_names_resolving_to_private_addresses_are_blocked(limits: FetchLimits) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {"cdn.example.com": ["93.184.216.34", "10.1.2.3"]}.get(host, ["127.0.0.1"])

    for url in ("http://localhost/x.png", "http://cdn.example.com/x.png"):
        with pytest.raises(ApiError) as blocked:
            await fetch_image_bytes(url, POLICY, limits, resolver=resolver)
        assert blocked.value.code == "IMAGE_URL_NOT_ALLOWED"


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/x", "http://169.254.169.254/", "http://10.0.0.1/x"])
async def test_redirects_to_private_targets_are_blocked(server: str, target: str, limits: FetchLimits) -> None:
    Handler.hits.clear()
    with pytest.raises(ApiError) as blocked:
        await fetch_image_bytes(f"{server}/redirect?to={target}", POLICY, limits)
    assert blocked.value.code == "IMAGE_URL_NOT_ALLOWED"
    assert Handler.hits == [f"/redirect?to={target}"]  # the first hop happened, the second never did


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.png", "gopher://x", "/etc/passwd"])
async def test_other_schemes_are_refused(url: str, limits: FetchLimits) -> None:
    with pytest.raises(ApiError) as refused:
        await fetch_image_bytes(url, POLICY, limits)
    assert refused.value.code == "INVALID_IMAGE_URL"


async def test_allowed_fetch_follows_redirects_and_deletes_its_temp_file(server: str, limits: FetchLimits) -> None:
    data = await fetch_image_bytes(f"{server}/redirect?to=/image.png", POLICY, limits)
    assert data == PNG
    assert limits.tmp_dir is not None
    assert list(limits.tmp_dir.iterdir()) == []


async def test_size_limit_while_streaming(server: str, limits: FetchLimits) -> None:
    with pytest.raises(ApiError) as too_big:
        await fetch_image_bytes(f"{server}/big", POLICY, limits)
    assert too_big.value.status == 413
    assert limits.tmp_dir is not None
    assert list(limits.tmp_dir.iterdir()) == []


async def test_upstream_errors_and_redirect_loops(server: str, limits: FetchLimits) -> None:
    with pytest.raises(ApiError) as missing:
        await fetch_image_bytes(f"{server}/missing", POLICY, limits)
    assert missing.value.details == {"status": 404}
    with pytest.raises(ApiError) as looping:
        await fetch_image_bytes(
            f"{server}/redirect?to=/redirect?to=/redirect?to=/redirect?to=/image.png", POLICY, limits
        )
    assert "redirects" in looping.value.message


async def test_private_targets_allowed_when_configured(server: str, limits: FetchLimits) -> None:
    data = await fetch_image_bytes(f"{server}/image.png", AddressPolicy(allow_private=True), limits)
    assert data == PNG


def test_data_uris() -> None:
    encoded = base64.b64encode(PNG).decode()
    assert decode_data_uri(f"data:image/png;base64,{encoded}", 4096) == PNG
    with pytest.raises(ApiError) as too_big:
        decode_data_uri(f"data:image/png;base64,{encoded}", 10)
    assert too_big.value.status == 413
    with pytest.raises(ApiError) as broken:
        decode_data_uri("data:image/png;base64,@@@", 4096)
    assert broken.value.code == "INVALID_IMAGE_URL"
