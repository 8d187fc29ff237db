"""A PNG loss curve drawn with Pillow (the runtime has no plotting library)."""

from __future__ import annotations

from pathlib import Path


def draw_loss_curve(points: list[tuple[int, float]], path: Path, width: int = 640, height: int = 360) -> None:
    from PIL import Image, ImageDraw

    margin = 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    x0, x1, y0, y1 = margin, width - margin // 2, margin // 2, height - margin
    draw.rectangle([x0, y0, x1, y1], outline="black")
    if len(points) >= 2:
        steps = [s for s, _ in points]
        losses = [v for _, v in points]
        lo, hi = min(losses), max(losses)
        span, run = (hi - lo) or 1.0, (steps[-1] - steps[0]) or 1

        def xy(step: float, loss: float) -> tuple[float, float]:
            return x0 + (step - steps[0]) / run * (x1 - x0), y1 - (loss - lo) / span * (y1 - y0)

        draw.line([xy(s, v) for s, v in points], fill=(200, 40, 40), width=2)
        draw.text((x0, y1 + 8), f"step {steps[0]}", fill="black")
        draw.text((x1 - 60, y1 + 8), f"step {steps[-1]}", fill="black")
        draw.text((4, y0), f"{hi:.2f}", fill="black")
        draw.text((4, y1 - 10), f"{lo:.2f}", fill="black")
    draw.text((margin, 4), "training loss", fill="black")
    image.save(path)
