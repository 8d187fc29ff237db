"""Quiet pod logs: kubetune's own lines, not a request line per status PATCH or a progress bar per shard.

`kubectl logs` of a trainer pod should read as the run's story (started, steps, evaluations, checkpoints,
the end). Libraries add noise there: httpx logs every request at INFO (one per status patch), Hugging Face
draws tqdm bars into a file that is not a terminal, and transformers prints advisory warnings. Set up before
transformers is imported; a terminal (a person running kubetune-train by hand) keeps its bars.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import MutableMapping

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Libraries whose INFO lines are per request or per file: kept at WARNING and above.
NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "filelock", "fsspec", "s3fs", "aiobotocore", "botocore")
# Progress bars and advisory notices of the Hugging Face libraries, off unless on a terminal.
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def configure(level: str, *, environ: MutableMapping[str, str] | None = None, interactive: bool | None = None) -> None:
    environ = os.environ if environ is None else environ
    interactive = sys.stderr.isatty() if interactive is None else interactive
    logging.basicConfig(level=level.upper(), format=FORMAT)
    floor = max(logging.WARNING, logging.getLogger().level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(floor)
    if not interactive:
        for key, value in QUIET_ENV.items():
            environ.setdefault(key, value)  # a value the Trainer's env sets wins
    # A one-process run saving a DCP checkpoint is the normal case, not something to warn about.
    warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)
