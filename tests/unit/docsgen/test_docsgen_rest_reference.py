"""docs/reference/rest.md is current and names every operation of api/openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.docsgen import rest_reference

pytestmark = pytest.mark.unit


def test_committed_page_is_current() -> None:
    """Fails when api/openapi.json changed: run `python -m kubetune.docsgen.rest_reference`."""
    assert rest_reference.main(["--check"]) == 0


def test_every_operation_appears_once_under_its_tag() -> None:
    doc = json.loads(rest_reference.OPENAPI.read_text())
    page = rest_reference.render()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            heading = f"### `{method.upper()} {path}`\n"
            assert page.count(heading) == 1, heading
            section = page.split(f"\n## {op['tags'][0]}\n", 1)[1].split("\n## ", 1)[0]
            assert heading in section
            assert f"Operation id `{op['operationId']}`." in section


def _tiny_openapi(tmp_path: Path) -> Path:
    doc = {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "tags": [{"name": "things", "description": "Things."}],
        "paths": {"/things/{id}": {"put": {
            "tags": ["things"], "operationId": "put_thing", "summary": "Replace a thing",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "mode", "in": "query", "schema": {"enum": ["a", "b"], "default": "a"}}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Thing"}}}},
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"anyOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}]}}}}},
        }}},
    }
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    return path


def test_parameters_body_and_responses(tmp_path: Path) -> None:
    page = rest_reference.render(_tiny_openapi(tmp_path))
    assert "| [things](#things) | 1 | Things. |" in page
    assert "| `id` | path | `string` | yes |  |  |" in page
    assert '| `mode` | query | `"a" \\| "b"` | no | `"a"` |  |' in page
    assert "Request body (required): `application/json` `Thing`" in page
    assert "| 200 | OK | `application/json` `Thing or null` |" in page


def test_inline_models_list_their_fields() -> None:
    form = {"type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}, "note": {"type": "string"}}}
    assert rest_reference.type_name(form) == "{file: string (binary), note?: string}"


def test_check_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(rest_reference, "DOC", tmp_path / "rest.md")
    monkeypatch.setattr("kubetune.docsgen.output.REPO_ROOT", tmp_path)
    assert rest_reference.main(["--check"]) == 1
    assert "stale: rest.md" in capsys.readouterr().err
