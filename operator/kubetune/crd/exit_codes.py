"""Exit codes of `kubetune-train`, shared by the trainer and the operator (no torch here).

The operator's Job podFailurePolicy reads them: a permanent failure (the run
cannot succeed on retry) fails the Job at once, a transient one counts against
backoffLimit and retries from the latest checkpoint. Codes stay below 128 so
they never collide with a signal death (128 + signal number).
"""

from __future__ import annotations

EXIT_OK = 0
# Anything the trainer did not classify (a bug, an OOM-kill is 137 from the kernel): retry.
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: storage hiccup, API unreachable, a lost peer; retrying may succeed
EXIT_PERMANENT = 78  # EX_CONFIG: model not found, maxSeqLength above the model's positions, invalid dataset
EXIT_STOPPED = 0  # SIGTERM honoured: a checkpoint was written, the pod ends cleanly

PERMANENT_EXIT_CODES: tuple[int, ...] = (EXIT_PERMANENT,)
TRANSIENT_EXIT_CODES: tuple[int, ...] = (EXIT_TRANSIENT,)
