"""Pixel features: dominant colours, brightness, contrast, saturation."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from kubetune.serve.errors import ApiError
from kubetune.serve.image_features import open_image, pixel_features

pytestmark = pytest.mark.unit


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_two_colour_image() -> None:
    image = Image.new("RGB", (100, 100), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 100, 30))  # 30% blue on top, 70% red
    features = pixel_features(open_image(_png(image), 10_000_000), color_count=2)
    assert features.colors == ["#FF0000", "#0000FF"]
    assert features.saturation == pytest.approx(1.0)


def test_black_and_white_halves_have_full_contrast_and_half_brightness() -> None:
    image = Image.new("RGB", (100, 100), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 50, 100))
    features = pixel_features(image)
    assert features.brightness == pytest.approx(0.5, abs=0.01)
    assert features.contrast == pytest.approx(1.0, abs=0.01)
    assert features.saturation == pytest.approx(0.0)


def test_grey_image_is_flat() -> None:
    features = pixel_features(Image.new("RGB", (10, 10), (128, 128, 128)))
    assert features.contrast == 0.0
    assert features.colors == ["#808080"]


def test_garbage_and_oversized_images_are_rejected() -> None:
    with pytest.raises(ApiError) as garbage:
        open_image(b"not an image", 1000)
    assert (garbage.value.status, garbage.value.code) == (400, "INVALID_IMAGE")
    with pytest.raises(ApiError) as huge:
        open_image(_png(Image.new("RGB", (100, 100))), max_pixels=100)
    assert huge.value.status == 413
