"""TensorBoard event files from the run's JSONL metric log, written without TensorBoard or TensorFlow.

An event file is a TFRecord stream (length, masked CRC-32C of the length, payload, masked CRC-32C of the
payload) of `Event` protocol buffers: a first one with file_version "brain.Event:2", then one per record
with a `Summary` of simple values. The few protobuf fields needed are encoded here by hand (field numbers
from tensorboard's event.proto and summary.proto), so the runtime image gains no dependency.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from pathlib import Path

from kubetune.crd.runconfig import TrainRunConfig

DIR = "tensorboard"
_CRC_TABLE: list[int] = []


def _crc32c(data: bytes) -> int:
    if not _CRC_TABLE:
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC_TABLE.append(c)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", _masked(length)) + payload + struct.pack("<I", _masked(payload))


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, body: bytes) -> bytes:
    return _varint(number << 3 | wire) + body


def _bytes(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def event(wall_time: float, step: int, *, version: str | None = None, values: dict[str, float] | None = None) -> bytes:
    """Event{wall_time=1 (double), step=2 (int64), file_version=3 | summary=5{value=1{tag=1, simple_value=2}}}."""
    body = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if version is not None:
        body += _bytes(3, version.encode())
    if values:
        summary = b"".join(_bytes(1, _bytes(1, tag.encode()) + _field(2, 5, struct.pack("<f", value)))
                           for tag, value in values.items())
        body += _bytes(5, summary)
    return body


def write_events(metrics_log: Path, target: Path) -> Path | None:
    """One event file under target from the JSONL log (each record's finite numbers at its step)."""
    if not metrics_log.is_file():
        return None
    target.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path = target / f"events.out.tfevents.{int(now)}.{socket.gethostname()}.kubetune"
    with path.open("wb") as handle:
        handle.write(_record(event(now, 0, version="brain.Event:2")))
        for line in metrics_log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            values = {k: float(v) for k, v in entry.items() if k != "step" and isinstance(v, int | float)
                      and not isinstance(v, bool) and math.isfinite(v)}
            if values:
                handle.write(_record(event(now, int(entry.get("step", 0)), values=values)))
    return path


def write_for(config: TrainRunConfig, output: Path, metrics_log: Path) -> Path | None:
    """spec.tracking.tensorboard: the event file under output/tensorboard (uploaded with the rest of the output)."""
    if config.tracking is None or not config.tracking.tensorboard:
        return None
    return write_events(metrics_log, output / DIR)
