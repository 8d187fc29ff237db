"""Pixel statistics of an image: dominant colours and brightness / contrast / saturation.

Computed from the pixels with Pillow alone, so they are the same whatever model
is served. Every feature is in [0, 1].
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageStat

from kubetune.serve.errors import ApiError

# Statistics of a 128-pixel thumbnail differ from the full image's by well under a percent.
_THUMBNAIL = (128, 128)


@dataclass(frozen=True)
class PixelFeatures:
    colors: list[str]
    brightness: float
    contrast: float
    saturation: float


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode ``data`` as an RGB image, refusing non-images and decompression bombs."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise ApiError(
                413,
                "IMAGE_TOO_LARGE",
                f"The image has {width * height} pixels; the limit is {max_pixels}.",
                {"max_pixels": max_pixels},
            )
        image.load()
    except ApiError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ApiError(400, "INVALID_IMAGE", f"The data is not a readable image: {error}") from error
    return image.convert("RGB")


def dominant_colors(image: Image.Image, count: int = 3) -> list[str]:
    """The ``count`` most common colours after median-cut quantisation, as #RRGGBB."""
    small = image.copy()
    small.thumbnail(_THUMBNAIL)
    quantized = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts = sorted(quantized.getcolors() or [], reverse=True)
    colors = []
    for _, index in counts[:count]:
        assert isinstance(index, int)  # a palette image's colours are palette indices
        red, green, blue = palette[3 * index : 3 * index + 3]
        colors.append(f"#{red:02X}{green:02X}{blue:02X}")
    return colors


def pixel_features(image: Image.Image, color_count: int = 3) -> PixelFeatures:
    small = image.copy()
    small.thumbnail(_THUMBNAIL)
    luma = ImageStat.Stat(small.convert("L"))
    saturation = ImageStat.Stat(small.convert("HSV").getchannel("S"))
    return PixelFeatures(
        colors=dominant_colors(image, color_count),
        brightness=round(luma.mean[0] / 255, 4),
        # The largest possible standard deviation of 8-bit values is 127.5 (half black, half white).
        contrast=round(min(1.0, luma.stddev[0] / 127.5), 4),
        saturation=round(saturation.mean[0] / 255, 4),
    )
