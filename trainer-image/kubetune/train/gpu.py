"""GPU readings through NVML (nvidia-ml-py), when a GPU exists; an empty list otherwise."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class GpuProbe:
    """Reads every visible GPU; initialises NVML once and fails soft forever after an error."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._broken = False

    def _init(self) -> Any:
        if self._nvml is None and not self._broken:
            try:
                import pynvml

                pynvml.nvmlInit()
                self._nvml = pynvml
            except Exception:  # no driver, no library, no GPU: all mean "no readings"
                self._broken = True
        return self._nvml

    def readings(self) -> list[dict[str, Any]]:
        """One ``GpuReading``-shaped dict (wire names) per device."""
        nvml = self._init()
        if nvml is None:
            return []
        out = []
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = nvml.nvmlDeviceGetName(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                reading: dict[str, Any] = {
                    "index": index,
                    "name": (name.decode() if isinstance(name, bytes) else str(name))[:128],
                    "utilizationPercent": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                    "memoryUsedMb": memory.used / 2**20,
                    "memoryTotalMb": memory.total / 2**20,
                    "temperatureC": float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
                }
                try:
                    reading["powerWatts"] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
                except Exception:  # some boards do not report power
                    log.debug("no power reading for GPU %d", index)
                out.append(reading)
        except Exception:
            log.warning("NVML readings failed; GPU readings disabled", exc_info=True)
            self._broken, self._nvml = True, None
            return []
        return out[:16]

    def status_fields(self) -> dict[str, Any]:
        """``{"gpu": [...]}`` when there are readings, else nothing."""
        readings = self.readings()
        return {"gpu": readings} if readings else {}
