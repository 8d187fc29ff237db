"""Finalizer patches and what a Training's or a project's cleanup removes (and never removes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubetune.crd.references import InvalidReference, StoreLayout
from kubetune.operator.cleanup import (
    PROJECT_FINALIZER,
    TRAINING_FINALIZER,
    finalizer_patch,
    namespace_ready_for_cleanup,
    remove_tree,
    training_artifacts,
)
from kubetune.operator.handlers.project_cleanup import remove_project_prefix


def test_finalizer_patches_keep_other_finalizers_and_pin_the_version() -> None:
    meta = {"finalizers": ["other.io/x"], "resourceVersion": "7"}
    assert finalizer_patch(meta, TRAINING_FINALIZER, True) == {
        "metadata": {"finalizers": ["other.io/x", TRAINING_FINALIZER], "resourceVersion": "7"}}
    assert finalizer_patch(meta, TRAINING_FINALIZER, False) is None
    on = {"finalizers": ["other.io/x", PROJECT_FINALIZER], "resourceVersion": "8"}
    assert finalizer_patch(on, PROJECT_FINALIZER, False) == {
        "metadata": {"finalizers": ["other.io/x"], "resourceVersion": "8"}}


def test_a_namespace_is_cleaned_only_once_its_content_is_gone() -> None:
    assert not namespace_ready_for_cleanup({"metadata": {}})
    deleting = {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert not namespace_ready_for_cleanup({**deleting, "spec": {"finalizers": ["kubernetes"]}})
    assert namespace_ready_for_cleanup({**deleting, "spec": {"finalizers": []}})


def test_training_artifacts_are_only_in_the_own_prefix(tmp_path: Path) -> None:
    layout = StoreLayout(store_root="/mnt/a", local_root=str(tmp_path))
    default = "file:///mnt/a/alice/trainings/t1"
    assert training_artifacts("alice", "t1", None, layout, default) == tmp_path / "alice" / "trainings" / "t1"
    assert training_artifacts("alice", "t1", "file:///mnt/a/bob/x", layout, default) is None
    assert training_artifacts("alice", "t1", "s3://b/alice/x", layout, default) is None


def test_remove_tree_never_follows_a_link_out(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "bob").mkdir(parents=True)
    (store / "bob" / "keep.txt").write_text("bob's")
    run = store / "alice" / "trainings" / "t1"
    run.mkdir(parents=True)
    (run / "adapter.bin").write_text("x")
    os.symlink(store / "bob", run / "link-to-bob")
    assert remove_tree(run, store / "alice")
    assert not run.exists() and (store / "bob" / "keep.txt").read_text() == "bob's"
    assert not remove_tree(run, store / "alice")  # already gone
    # A project whose prefix is itself a link to another project: only the link goes.
    os.symlink(store / "bob", store / "mallory")
    assert remove_project_prefix(StoreLayout(store_root=str(store)), "mallory")
    assert not (store / "mallory").exists() and (store / "bob" / "keep.txt").exists()
    with pytest.raises(InvalidReference):
        remove_tree(store, store)


def test_removing_a_project_prefix(tmp_path: Path) -> None:
    (tmp_path / "alice" / "datasets").mkdir(parents=True)
    (tmp_path / "bob").mkdir()
    layout = StoreLayout(store_root=str(tmp_path))
    assert remove_project_prefix(layout, "alice")
    assert not (tmp_path / "alice").exists() and (tmp_path / "bob").exists()
    assert not remove_project_prefix(layout, "alice")
    assert not remove_project_prefix(StoreLayout(object_store_root="s3://b"), "alice")
    with pytest.raises(InvalidReference):
        remove_project_prefix(layout, "..")
