"""Where kopf keeps its bookkeeping: `status.kopf`, so it rides on the operator's own status write.

kopf records the spec it last handled (its "diff base", which tells create from update from no-op)
and its handlers' retries. In annotations (kopf's default) that record costs one more write per
reconciliation, a PATCH of the main resource, which the API server also runs the spec's CEL rules
for. In status, the Training handler's state and kopf's record go out in one PATCH of /status.

Also: kopf builds the diff base on every watch event by deep-copying the whole object before it
drops metadata and status. For a Training that is mostly status and managedFields, so the storage
hands kopf a body without them: the same result for a fraction of the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import kopf
from kopf._cogs.structs import dicts  # the field-path parser kopf uses for extra_fields

FIELD = "kopf"  # status.kopf, declared in every status model (kubetune.crd.base.operator_bookkeeping)
LEGACY_ANNOTATION_PREFIX = "operator.kubetune.io"  # where earlier releases kept the diff base
# Metadata the essence or the storage keys read: labels and annotations are tracked, owner
# references decide kopf's storage key names.
KEPT_METADATA = ("labels", "annotations", "ownerReferences")


def slim_body(body: Any, extra_fields: Iterable[Any] | None = None) -> kopf.Body:
    """The body without what kopf's essence drops anyway, except stanzas that extra fields name."""
    roots = {dicts.parse_field(field)[0] for field in extra_fields or ()}
    slim = {key: value for key, value in body.items() if key in roots or key not in ("metadata", "status")}
    if "metadata" not in roots:
        meta = body.get("metadata") or {}
        slim["metadata"] = {key: meta[key] for key in KEPT_METADATA if key in meta}
    return kopf.Body(slim)  # type: ignore[arg-type]  # (a RawBody is a TypedDict over the same keys)


class StatusDiffBase(kopf.StatusDiffBaseStorage):
    """kopf's status storage with a cheap build() and a fallback to the annotation older releases wrote."""

    def __init__(self) -> None:
        super().__init__(name=FIELD)
        self._legacy = kopf.AnnotationsDiffBaseStorage(prefix=LEGACY_ANNOTATION_PREFIX,
                                                       key="last-handled-configuration")

    def build(self, *, body: Any, extra_fields: Iterable[Any] | None = None) -> Any:
        extra = list(extra_fields or ())
        return super().build(body=slim_body(body, extra), extra_fields=extra)

    def fetch(self, *, body: Any) -> Any:
        # An object an older release handled has its record in the annotation: without the
        # fallback, an upgrade would see every existing object as new.
        essence = super().fetch(body=body)
        return essence if essence is not None else self._legacy.fetch(body=body)


def configure(settings: kopf.OperatorSettings) -> None:
    settings.persistence.diffbase_storage = StatusDiffBase()
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name=FIELD)
