"""Which failures can succeed on retry: the exit code tells the Job's podFailurePolicy.

Errors raised while the run is being prepared (model and data resolved, the configuration checked,
the model loaded, the data encoded) that say the input is wrong are permanent: retrying the same
Training cannot fix a missing model, a maxSeqLength above the model's positions or a bad dataset.
Everything else (storage or network trouble, a lost peer, an error mid-training) is transient.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kubetune.crd.exit_codes import EXIT_PERMANENT, EXIT_TRANSIENT

_ATTRIBUTE = "kubetune_exit_code"


class PermanentError(RuntimeError):
    """A failure that no retry can fix (e.g. the image lacks a package the method needs)."""


class Stopped(Exception):  # noqa: N818 -- a stop is not an error
    """SIGTERM was honoured: a checkpoint of ``step`` is written and the process ends."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped by SIGTERM after step {step} (checkpoint written)")
        self.step = step


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc``, raised while preparing, says the input itself is wrong."""
    if isinstance(exc, PermanentError | ValueError | LookupError | ImportError):
        return True  # ValueError covers DatasetError and pydantic's ValidationError
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError | PermissionError):
        return True
    # transformers says "not a valid model identifier / no config.json" as a bare OSError (no errno).
    return type(exc) is OSError and exc.errno is None


@contextmanager
def preparing() -> Iterator[None]:
    """Mark input errors raised inside as permanent (the exception itself is re-raised unchanged)."""
    try:
        yield
    except Exception as exc:
        if is_input_error(exc):
            setattr(exc, _ATTRIBUTE, EXIT_PERMANENT)
        raise


def exit_code(exc: BaseException) -> int:
    """The process exit code for a failed run."""
    code = getattr(exc, _ATTRIBUTE, None)
    if isinstance(exc, PermanentError):
        return EXIT_PERMANENT
    return code if isinstance(code, int) else EXIT_TRANSIENT
