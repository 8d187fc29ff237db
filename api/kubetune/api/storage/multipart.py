"""Stream one file field out of a multipart body without spooling the whole upload first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi.exceptions import HTTPException
from python_multipart.multipart import MultipartParser, parse_options_header

from kubetune.api.core.errors import ApiError

# Room around the file in an upload body: boundaries, part headers and the small text fields.
ENVELOPE_BYTES = 65536


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    field_name: str = ""
    filename: str | None = None


@dataclass
class FilePart:
    filename: str
    chunks: AsyncIterator[bytes]


class MultipartFileReader:
    """Feeds the request body to python-multipart; yields the bytes of the part named `field_name`.

    Other (small) text fields are collected into `fields`.
    """

    def __init__(self, content_type: str, body: AsyncIterator[bytes], field_name: str = "file",
                 max_field_bytes: int = ENVELOPE_BYTES) -> None:
        ctype, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise ApiError(415, "expected multipart/form-data with a boundary")
        self.field_name = field_name
        self.body = body
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self._max_field = max_field_bytes
        self._pending: list[bytes] = []
        self._part = _Part()
        self._header_field = b""
        self._header_value = b""
        self._text: list[bytes] = []
        self._in_file = False
        self._file_seen = False
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
            "on_header_field": self._hfield, "on_header_value": self._hvalue, "on_header_end": self._hend,
            "on_headers_finished": self._headers_done,
        })

    def _begin(self) -> None:
        self._part = _Part()
        self._text = []

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _hend(self) -> None:
        self._part.headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        self._part.field_name = options.get(b"name", b"").decode(errors="replace")
        raw_filename = options.get(b"filename")
        self._part.filename = raw_filename.decode(errors="replace") if raw_filename is not None else None
        self._in_file = self._part.field_name == self.field_name and not self._file_seen
        if self._in_file:
            self.filename = self._part.filename or ""
            self._file_seen = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
        else:
            self._text.append(data[start:end])
            if sum(len(t) for t in self._text) > self._max_field:
                raise ApiError(413, f"form field {self._part.field_name!r} is too large")

    def _end(self) -> None:
        if not self._in_file and self._part.field_name:
            self.fields[self._part.field_name] = b"".join(self._text).decode(errors="replace")
        self._in_file = False

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file field's bytes as the body arrives; the rest of the body is parsed too."""
        try:
            async for chunk in self.body:
                self._parser.write(chunk)
                if self._pending:
                    data, self._pending = b"".join(self._pending), []
                    yield data
            self._parser.finalize()
        except (ApiError, HTTPException):  # ours, and the body limit's 413 (core/body_limit.py)
            raise
        except Exception as exc:  # python-multipart raises its own errors for malformed bodies
            raise ApiError(400, f"malformed multipart body: {exc}") from exc
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            yield data
        if not self._file_seen:
            raise ApiError(422, f"multipart field {self.field_name!r} is required")
