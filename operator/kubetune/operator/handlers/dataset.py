# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Dataset: validate the data file and record rows, size, hash, format and splits, or the first errors."""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd.dataset import DatasetSpec
from kubetune.crd.kinds import DATASET
from kubetune.crd.references import InvalidReference
from kubetune.operator import conditions as cnd
from kubetune.operator.datasets import UnsupportedLocationError, local_path, validate_file
from kubetune.operator.handlers.common import REGISTRY, guarded, resource, runtime_of
from kubetune.operator.owner import Owner
from kubetune.operator.runtime import Runtime

MISSING_FILE_RETRY_SECONDS = 30


def _write(rt: Runtime, body: kopf.Body, fields: dict[str, Any], reason: str, warning: bool = False) -> None:
    meta = body["metadata"]
    owner = Owner(api_version=DATASET.api_version, kind=DATASET.kind, name=meta["name"], uid=meta.get("uid", ""),
                  namespace=meta.get("namespace"))
    gen = meta.get("generation")
    fields = {**fields, "observedGeneration": gen}
    phase = fields["phase"]
    fields["conditions"] = [cnd.make("Ready", phase == "Ready", reason, fields.get("message", ""), gen)]
    rt.status.write(DATASET, owner, dict(body.get("status") or {}), meta.get("resourceVersion"), fields,
                    (reason, fields.get("message", ""), warning))


def reconcile_dataset(rt: Runtime, body: kopf.Body) -> None:
    spec = DatasetSpec.model_validate(dict(body.get("spec") or {}))
    try:
        path = local_path(spec.uri, rt.settings, body["metadata"]["namespace"])
    except UnsupportedLocationError as exc:
        _write(rt, body, {"phase": "Ready", "message": f"not validated by the operator: {exc}"}, "NotValidated")
        return
    except InvalidReference as exc:  # outside the project: nothing is read, nothing about the file published
        _write(rt, body, {"phase": "Invalid", "message": str(exc), "errors": [{"message": str(exc)}]},
               "InvalidReference", True)
        raise kopf.PermanentError(str(exc)) from exc
    if not path.is_file():
        _write(rt, body, {"phase": "Invalid", "message": f"file not found: {spec.uri}",
                          "errors": [{"message": f"file not found: {spec.uri}"}]}, "FileNotFound", True)
        raise kopf.TemporaryError(f"{spec.uri} not found", delay=MISSING_FILE_RETRY_SECONDS)
    report = validate_file(path, spec.format, [s.name for s in spec.splits])
    fields: dict[str, Any] = {
        "rowCount": report.rows, "sizeBytes": report.size_bytes, "sha256": report.sha256,
        "detectedFormat": report.detected_format, "splits": report.splits, "errors": report.errors,
        "validatedAt": cnd.now_iso(),
    }
    if report.valid:
        fields.update(phase="Ready", message=f"{report.rows} rows of {spec.format}")
        _write(rt, body, fields, "Validated")
        return
    first = report.errors[0]
    where = f"line {first['line']}: " if first.get("line") else ""
    more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
    fields.update(phase="Invalid", message=f"{where}{first['message']}{more}")
    _write(rt, body, fields, "Invalid", True)


@kopf.on.resume(*resource(DATASET), registry=REGISTRY)
@kopf.on.create(*resource(DATASET), registry=REGISTRY)
@kopf.on.update(*resource(DATASET), field="spec", registry=REGISTRY)
def dataset_reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    guarded("Dataset", rt, lambda: reconcile_dataset(rt, body))
