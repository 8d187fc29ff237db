"""Format a stored dataset line by line, so memory stays bounded whatever the file's size.

The shared formatter (`kubetune.formats`) works on iterables; this module feeds it one line at a
time and numbers every error with the line of the file it came from. The file is read in passes,
each opening it afresh, because an HTTP status cannot change once a body has started:

1. when the split needs the row count (a split definition applies), parse every line and count;
   the split's rows become a bitmap (one bit per row);
2. parse and render the chosen rows without keeping them: every bad line becomes a 422 here;
3. render again and hand out chunks (the download) or write them to a partial file (format-dataset).

Without a split definition, `train`/`all` is every row and pass 1 is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from kubetune.api.mapping.splits import rows_for
from kubetune.crd.splits import SPLIT_FRACTIONS
from kubetune.formats import DatasetError, Example, format_lines, iter_records

CHUNK_BYTES = 64 * 1024  # what one body chunk of a download holds, roughly
OpenLines = Callable[[], Iterator[str]]  # opens the file again for each pass


@dataclass(frozen=True)
class FormatJob:
    """What to turn a file into; `source` (the storage key) names the file in errors."""

    source: str
    input_format: str
    output_format: str
    strategy: str
    system_message: str | None = None
    thinking_instructions: str | None = None


class Rows:
    """The rows of a split: every row, or a bitmap of the chosen ones."""

    def __init__(self, chosen: Iterable[int] | None = None, count: int = 0) -> None:
        self.every = chosen is None
        self._bits = bytearray(0 if chosen is None else (count + 7) // 8)
        for row in chosen or ():
            self._bits[row >> 3] |= 1 << (row & 7)

    def __contains__(self, row: int) -> bool:
        return self.every or (row >> 3 < len(self._bits) and bool(self._bits[row >> 3] & (1 << (row & 7))))


def parse_line(line: str, number: int, job: FormatJob) -> Example | None:
    """One line through the shared parser; None for a blank line. Errors name the file's line."""
    try:
        return next(iter_records((line,), job.input_format, source=job.source), None)
    except DatasetError as exc:
        raise DatasetError(exc.reason, source=job.source, line=number) from None


def render_record(example: Example, number: int, job: FormatJob) -> str:
    """One record through the shared writer, as one JSONL line (newline included)."""
    try:
        rendered = next(format_lines((example,), job.output_format, job.strategy, system_message=job.system_message,
                                     thinking_instructions=job.thinking_instructions, source=job.source))
    except DatasetError as exc:
        reason = exc.reason.removeprefix("record 1: ")  # the writer counts records; the file has lines
        raise DatasetError(reason, source=job.source, line=number) from None
    return rendered + "\n"


def records(lines: Iterable[str], job: FormatJob) -> Iterator[tuple[int, Example]]:
    """(line number, record) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        example = parse_line(line, number, job)
        if example is not None:
            yield number, example


def needs_count(split_name: str, definitions: list[tuple[str, int]]) -> bool:
    """Does choosing the split's rows need the row count (a definition that has this split)?"""
    has = any(split_name in dict(SPLIT_FRACTIONS.get(name, ())) for name, _ in definitions)
    if not has and split_name not in ("train", "all"):
        raise KeyError(split_name)
    return has


def choose_rows(open_lines: OpenLines, job: FormatJob, split_name: str,
                definitions: list[tuple[str, int]]) -> Rows:
    """Pass 1 (when needed): count the records and draw the split. KeyError for an unknown split."""
    if not needs_count(split_name, definitions):
        return Rows()
    count = sum(1 for _ in records(open_lines(), job))
    return Rows(rows_for(count, split_name, definitions), count)


def rendered(open_lines: OpenLines, job: FormatJob, rows: Rows) -> Iterator[str]:
    """The chosen records as JSONL lines, one file line at a time."""
    for row, (number, example) in enumerate(records(open_lines(), job)):
        if row in rows:
            yield render_record(example, number, job)


def check(open_lines: OpenLines, job: FormatJob, rows: Rows) -> int:
    """Pass 2: render everything chosen, keep nothing; returns how many lines the output has."""
    return sum(1 for _ in rendered(open_lines, job, rows))


def chunked(lines: Iterable[str], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Lines gathered into chunks of about `size` bytes (a line is never split)."""
    batch: list[bytes] = []
    held = 0
    for line in lines:
        data = line.encode("utf-8")
        batch.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(batch)
            batch, held = [], 0
    if batch:
        yield b"".join(batch)
