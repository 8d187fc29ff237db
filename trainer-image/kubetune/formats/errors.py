"""The one error a bad dataset raises: it names the file, the line and what is wrong."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset line (or the file as a whole) that cannot be used."""

    def __init__(self, message: str, *, source: str = "<data>", line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
