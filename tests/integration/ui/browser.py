"""Debian's headless Chromium through its chromedriver, kept on loopback, and a non-blank check for screenshots."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@contextlib.contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium that can reach loopback only: names resolve to nothing, and anything else goes to a
    dead local proxy (loopback bypasses a proxy), so the browser's background services never leave the host."""
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--disable-domain-reliability", "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    # Both paths given: Selenium starts this chromedriver and never runs Selenium Manager (no download).
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def colours(png: bytes) -> int:
    """How many distinct colours a PNG holds (1 for a blank image)."""
    with Image.open(io.BytesIO(png)) as image:
        found = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(found) if found is not None else 1 << 20


def count_near(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels within tolerance of rgb (e.g. the loss curve's blue)."""
    with Image.open(io.BytesIO(png)) as image:
        raw = image.convert("RGB").tobytes()
    return sum(1 for i in range(0, len(raw), 3)
               if all(abs(raw[i + k] - rgb[k]) <= tolerance for k in range(3)))
