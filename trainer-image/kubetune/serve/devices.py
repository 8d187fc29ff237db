"""Device facts for status, logs and metrics; torch is imported only if already loaded or present."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def _torch() -> Any | None:
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def gpu_available() -> bool:
    torch = _torch()
    return bool(torch is not None and torch.cuda.is_available())


def gpu_memory_used_bytes() -> int:
    """Memory held by this process's tensors on the current GPU (0 without one)."""
    torch = _torch()
    if torch is None or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.memory_allocated())


def format_gigabytes(value: int) -> str:
    """Seed 002 logs memory as "2.1GB"."""
    return f"{value / 1e9:.1f}GB"


def is_out_of_memory(error: BaseException) -> bool:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
