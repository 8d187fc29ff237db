"""A Dataset as an OpenAI file object (pure)."""

from __future__ import annotations

from kubetune.api.mapping import meta
from kubetune.api.mapping import openai_names as names
from kubetune.api.mapping.meta import Obj
from kubetune.api.schemas.openai import FileObject

FILE_STATUS = {"Ready": "processed", "Invalid": "error"}  # Pending and Validating: uploaded


def purpose(ds: Obj) -> str:
    """Files from the other APIs are training data too: fine-tune."""
    return meta.annotations_of(ds).get(names.PURPOSE, "fine-tune")


def file_object(ds: Obj) -> FileObject:
    st = meta.status(ds)
    ann = meta.annotations_of(ds)
    size = ann.get(names.BYTES)
    status = FILE_STATUS.get(str(st.get("phase") or ""), "uploaded")
    details = None
    if status == "error":
        errors = st.get("errors") or []
        first = errors[0] if errors else {}
        line = f"line {first['line']}: " if first.get("line") else ""
        details = f"{line}{first.get('message')}" if first else str(st.get("message") or "invalid file")
    filename = meta.spec(ds).get("displayName") or str(meta.spec(ds).get("uri", "")).rsplit("/", 1)[-1]
    return FileObject(
        id=meta.name(ds), bytes=int(size) if size and size.isdigit() else int(st.get("sizeBytes") or 0),
        created_at=int(meta.created(ds).timestamp()), filename=filename or meta.name(ds), purpose=purpose(ds),
        status=status, status_details=details)
