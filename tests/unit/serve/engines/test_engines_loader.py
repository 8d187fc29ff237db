"""Model uris to local directories, and loading failures that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.serve.engines.loader import ModelLoadError, load_runtime, resolve_uri
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def test_local_forms(tmp_path: Path) -> None:
    (tmp_path / "claim" / "models" / "base").mkdir(parents=True)
    settings = ServeSettings(pvc_mount_root=tmp_path)
    model = tmp_path / "claim" / "models" / "base"
    assert resolve_uri(str(model), settings) == model
    assert resolve_uri(f"file://{model}", settings) == model
    assert resolve_uri("pvc://claim/models/base", settings) == model


@pytest.mark.parametrize("uri", ["", "ftp://host/model", "file:///does/not/exist"])
def test_bad_uris(uri: str) -> None:
    with pytest.raises(ModelLoadError):
        resolve_uri(uri, ServeSettings())


def test_a_directory_without_a_model_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load the model"):
        load_runtime(ServeSettings(model_uri=str(tmp_path), task="sequence-classification"))
