"""Exit codes of `kubetune-train`, shared by the trainer and the operator (no torch here).

The operator's Job podFailurePolicy reads them: a permanent failure (the run
cannot succeed on retry) fails the Job at once (action FailJob on
EXIT_PERMANENT); a transient one counts against backoffLimit and retries from
the latest checkpoint. Under torchrun the launcher exits with the most telling
code of its processes (permanent over transient over stopped).
"""

from __future__ import annotations

EXIT_OK = 0
# Anything the trainer did not classify (a bug; 137 is the kernel's OOM kill) is treated as transient.
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: storage or API unreachable, a lost peer, a rendezvous timeout
EXIT_PERMANENT = 78  # EX_CONFIG: model not found, maxSeqLength above the model's positions, invalid dataset
# SIGTERM honoured after a checkpoint: the code a plain SIGTERM death has (128 + 15), never 0, so a
# stopped or preempted pod is not counted as a Job completion.
EXIT_STOPPED = 143

PERMANENT_EXIT_CODES: tuple[int, ...] = (EXIT_PERMANENT,)
TRANSIENT_EXIT_CODES: tuple[int, ...] = (EXIT_TRANSIENT,)
