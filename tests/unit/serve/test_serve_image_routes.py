"""/infer/image on a real tiny ViT-style classifier: data: URIs, uploads, embeddings."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from serve_helpers import serve

from kubetune.serve.engines.loader import load_runtime
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 40), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def settings(tiny_image_classifier: Path, tmp_path: Path) -> ServeSettings:
    return ServeSettings(model_uri=str(tiny_image_classifier), task="image-classification", image_tmp_dir=tmp_path)


async def test_data_uri_request(settings: ServeSettings) -> None:
    uri = "data:image/png;base64," + base64.b64encode(_png((44, 62, 80))).decode()
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post(
            "/infer/image",
            json={"image_url": uri, "task": "style_analysis", "options": {"extract_features": True}},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["style"] in {"modern", "classic", "rustic"}
    assert body["colors"] == ["#2C3E50"]
    assert set(body["features"]) == {"brightness", "contrast", "saturation"}
    assert body["features"]["contrast"] == 0.0
    assert 0 < body["confidence"] <= 1
    assert "embeddings" not in body


async def test_upload_with_embeddings(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        response = await client.post(
            "/infer/image",
            files={"file": ("room.png", _png((236, 240, 241)), "image/png")},
            data={"return_embeddings": "true", "extract_features": "false"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["colors"] == ["#ECF0F1"]
    assert "features" not in body
    assert len(body["embeddings"]) == 64  # the tiny model's hidden size


async def test_blocked_and_broken_images(settings: ServeSettings) -> None:
    async with serve(settings, load_runtime) as (client, _):
        blocked = await client.post("/infer/image", json={"image_url": "http://169.254.169.254/latest/meta-data"})
        broken = await client.post("/infer/image", json={"image_url": "data:image/png;base64,aGVsbG8="})
        no_file = await client.post("/infer/image", files={"other": ("x", b"x")})
    assert (blocked.status_code, blocked.json()["error"]) == (400, "IMAGE_URL_NOT_ALLOWED")
    assert (broken.status_code, broken.json()["error"]) == (400, "INVALID_IMAGE")
    assert no_file.status_code == 400
    assert settings.image_tmp_dir is not None
    assert list(settings.image_tmp_dir.iterdir()) == []
