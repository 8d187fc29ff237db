"""The runtime re-checks every reference against the layout its pod was given (defence in depth)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubetune.crd.references import InvalidReference, StoreLayout, layout_env
from kubetune.formats import DatasetError
from kubetune.train import uris
from kubetune.train.data import split_files


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pod of project alice: the store at tmp/store, PVCs under tmp/pvc, the artifact claim 'art'."""
    root = tmp_path / "store"
    for project in ("alice", "bob"):
        (root / project / "datasets").mkdir(parents=True)
        (root / project / "datasets" / "train.jsonl").write_text("{}\n")
    layout = StoreLayout(store_root=str(root), artifact_claim="art", allow_hub=False,
                         trusted=frozenset({"file:///opt/models/tiny"}))
    for item in layout_env(layout, "alice"):
        monkeypatch.setenv(item["name"], item["value"])
    monkeypatch.setenv("KUBETUNE_PVC_ROOT", str(tmp_path / "pvc"))
    return root


def test_the_own_project_resolves(store: Path) -> None:
    assert uris.resolve(f"file://{store}/alice/datasets/train.jsonl") == (
        store / "alice" / "datasets" / "train.jsonl").resolve()


@pytest.mark.parametrize("uri", [
    "file://{s}/bob/datasets/train.jsonl",
    "file://{s}/alice/../bob/datasets/train.jsonl",
    "file:///etc/passwd",
    "pvc://x//etc/passwd",
    "pvc://../x",
    "pvc://art/bob/datasets/train.jsonl",
    "hf://org/model",
])
def test_references_outside_the_project_are_refused_in_the_pod(store: Path, uri: str) -> None:
    with pytest.raises(InvalidReference):
        uris.resolve(uri.format(s=store))


def test_a_symlink_out_of_the_project_is_refused(store: Path) -> None:
    os.symlink(store / "bob" / "datasets", store / "alice" / "theirs")
    with pytest.raises(InvalidReference, match="symlink"):
        uris.resolve(f"file://{store}/alice/theirs/train.jsonl")


def test_outputs_stay_in_the_project(store: Path) -> None:
    assert uris.output_dir(f"file://{store}/alice/out") == (store / "alice" / "out").resolve()
    with pytest.raises(InvalidReference):
        uris.output_dir(f"file://{store}/bob/out")
    with pytest.raises(InvalidReference):  # the admin's catalog is readable, never writable
        uris.output_dir("file:///opt/models/tiny")


def test_split_names_are_names(store: Path) -> None:
    uri = f"file://{store}/alice/datasets/train.jsonl"
    with pytest.raises(DatasetError, match="single name"):
        split_files(uri, "train", "../../bob/datasets/train")
    with pytest.raises(DatasetError, match="single name"):
        split_files(f"file://{store}/alice/datasets", "/etc/passwd", None)
