"""The committed api/openapi.json matches the app; every operation is tagged, named and typed."""

from __future__ import annotations

import pytest

from kubetune.api import openapi

pytestmark = pytest.mark.unit
FAMILY_TAGS = {"sktai", "finetune", "platform", "aitems", "inference", "health", "admin", "openai", "serving"}


def test_committed_document_has_not_drifted() -> None:
    committed = openapi.DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == openapi.render(openapi.document()), "run: python -m kubetune.api.openapi"


def test_check_mode_detects_drift(tmp_path: object) -> None:
    from pathlib import Path

    stale = Path(str(tmp_path)) / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert openapi.main(["--check", "--path", str(stale)]) == 1
    assert openapi.main(["--path", str(stale)]) == 0
    assert openapi.main(["--check", "--path", str(stale)]) == 0


def test_operations_are_tagged_named_and_typed() -> None:
    doc = openapi.document()
    ids = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert len(op["tags"]) == 1 and op["tags"][0] in FAMILY_TAGS, (method, path)
            ids.append(op["operationId"])
            assert op["operationId"].startswith(op["tags"][0] if op["tags"][0] != "health" else ""), op
            ok = op["responses"].get("200") or op["responses"].get("201") or op["responses"].get("204")
            assert ok is not None, (method, path)
            if "204" not in op["responses"]:
                assert ok.get("content"), (method, path)
    assert len(ids) == len(set(ids)) >= 66
    seeds = {
        ("get", "/api/v1/trainings/{training_id}/events/stream"),
        ("post", "/api/finetune/upload-dataset"),
        ("get", "/api/finetune/download_dataset_jsonl"),
        ("post", "/api/v1/auth/token"),
        ("get", "/api/v1/services/{serviceId}/trains"),
        ("post", "/api/v1/training/submit"),
    }
    assert seeds <= {(m, p) for p, ops in doc["paths"].items() for m in ops}
