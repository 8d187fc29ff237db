"""Kubernetes Events and a Training's status as seed 000 TrainingEvents (pure).

Ids are the objects' resourceVersions: one etcd revision counter orders Events and
status changes together, which is what Last-Event-ID resumption needs.
"""

from __future__ import annotations

from kubetune.api.mapping import meta
from kubetune.api.mapping.meta import EPOCH, Obj, is_number
from kubetune.api.mapping.phases import training_status
from kubetune.api.schemas.sktai import TrainingEvent


def revision(obj: Obj) -> int:
    raw = str(meta.meta(obj).get("resourceVersion") or "0")
    return int(raw) if is_number(raw) else 0


def from_kube_event(event: Obj, training_uid: str) -> TrainingEvent:
    when = (meta.parse_time(event.get("lastTimestamp")) or meta.parse_time(event.get("eventTime"))
            or meta.parse_time(event.get("firstTimestamp")) or meta.created(event))
    source = event.get("reportingComponent") or (event.get("source") or {}).get("component") or "kubernetes"
    return TrainingEvent(
        id=str(revision(event)), training_id=training_uid, type=str(event.get("type") or "Normal"),
        reason=str(event.get("reason") or ""), message=str(event.get("message") or ""),
        count=int(event.get("count") or 1), source=str(source), created_at=when)


def from_status(training: Obj) -> TrainingEvent:
    st = meta.status(training)
    pct = (st.get("progress") or {}).get("percent")
    detail = f" ({pct:.1f}%)" if isinstance(pct, (int, float)) else ""
    message = st.get("message") or f"{training_status(training, 'sktai')}{detail}"
    return TrainingEvent(
        id=str(revision(training)), training_id=meta.uid(training), type="Status",
        reason=str(st.get("phase") or "Pending"), message=str(message), source="kubetune",
        created_at=meta.updated(training))


def from_conditions(training: Obj) -> list[TrainingEvent]:
    """One event per condition transition: the history the status itself keeps."""
    out = []
    for cond in meta.status(training).get("conditions") or []:
        when = meta.parse_time(cond.get("lastTransitionTime")) or EPOCH
        out.append(TrainingEvent(
            id=f"{cond.get('type')}-{int(when.timestamp())}", training_id=meta.uid(training), type="Status",
            reason=str(cond.get("reason") or cond.get("type") or ""),
            message=str(cond.get("message") or f"{cond.get('type')}={cond.get('status')}"),
            source="kubetune", created_at=when))
    return out
