"""How a torchrun process ends: with its code and its output flushed, but without the interpreter's
teardown (where a surviving gloo thread can abort a finished run); any other process ends normally."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# An atexit handler stands for the interpreter's teardown: it runs only when the teardown does.
PROGRAM = """
import atexit, logging, sys
import torch.distributed
from kubetune.train.cli import end_process
atexit.register(lambda: print("teardown ran", flush=True))
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
logging.getLogger("run").info("logged before the end")
print("printed before the end", end="")  # no newline, no flush: still buffered when it ends
end_process(75)
"""


def _end(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")}
    return subprocess.run(
        [sys.executable, "-c", PROGRAM], env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_a_torchrun_process_exits_with_its_code_and_output_but_skips_the_teardown() -> None:
    done = _end({"LOCAL_RANK": "1", "TORCHELASTIC_RUN_ID": "run"})
    assert done.returncode == 75
    assert done.stdout == "printed before the end"
    assert "logged before the end" in done.stderr


def test_a_process_outside_torchrun_ends_normally() -> None:
    done = _end({})
    assert done.returncode == 75
    assert done.stdout == "printed before the end" + "teardown ran\n"
