"""The one resolver: every way out of a project is refused with a reason; what is inside resolves."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from kubetune.crd.references import (
    InvalidReference,
    StoreLayout,
    check_key,
    check_name,
    confine,
    layout_env,
    layout_from_env,
    open_checked,
    project_uri,
    resolve,
)

ROOT = "/var/lib/kubetune/artifacts"
LAYOUT = StoreLayout(store_root=ROOT, local_root="/srv/store", artifact_claim="kubetune-artifacts",
                     object_store_root="s3://models/team", allow_hub=True)
NS = "alice"


def refused(uri: str, match: str, layout: StoreLayout = LAYOUT) -> None:
    with pytest.raises(InvalidReference, match=match):
        resolve(uri, NS, layout, "baseModel")


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        (f"file://{ROOT}/bob/trainings/t/adapter", "outside this project"),
        (f"file://{ROOT}/alice/../bob/datasets/x.jsonl", r"'\.' or '\.\.' segment"),
        (f"file://{ROOT}/alice/%2e%2e/bob/x", "percent-encoded"),
        (f"file://{ROOT}/alice/%2E%2E%2Fbob", "percent-encoded"),
        (f"file://{ROOT}/alice//etc/passwd", "empty path segment"),
        (f"file://{ROOT}/alice/a\\..\\..\\bob", "backslash"),
        (f"file://{ROOT}/alice/a\x00b", "control character"),
        (f"file://{ROOT}/alice/\u2215etc\u2215passwd", "U\\+2215"),
        (f"file://{ROOT}/alice/\uff0e\uff0e/bob", "U\\+FF0E"),
        (f"file://{ROOT}/alice", "outside this project"),  # the prefix itself
        ("file:///etc/passwd", "outside this project"),
        (f"file://{ROOT}", "outside this project"),
        ("file://etc/passwd", "absolute path"),
        (f"file://{ROOT}/alicex/a", "outside this project"),
        ("/etc/passwd", "must be a uri"),
        ("ftp://x/y", "must be a uri"),
        ("", "is empty"),
    ],
)
def test_file_uris_outside_the_project_are_refused(uri: str, why: str) -> None:
    refused(uri, why)


def test_a_file_in_the_project_resolves_to_where_this_process_sees_it() -> None:
    ref = resolve(f"file://{ROOT}/alice/datasets/ab12/train.jsonl", NS, LAYOUT)
    assert (ref.scheme, ref.key) == ("file", "datasets/ab12/train.jsonl")
    assert ref.local == PurePosixPath("/srv/store/alice/datasets/ab12/train.jsonl")
    assert ref.in_store


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("pvc://x//etc/passwd", "empty path segment"),
        ("pvc://../x", "claim name"),
        ("pvc://x/../../etc/passwd", r"'\.' or '\.\.' segment"),
        ("pvc://x", "names no path"),
        ("pvc://X/y", "claim name"),
        ("pvc://kubetune-artifacts/bob/trainings/t", "outside this project"),
        ("pvc://kubetune-artifacts/alice", "outside this project"),
        ("pvc://x/a%2fb", "percent-encoded"),
    ],
)
def test_pvc_uris_that_escape_are_refused(uri: str, why: str) -> None:
    refused(uri, why)


def test_pvc_uris_name_a_claim_of_the_own_namespace() -> None:
    own = resolve("pvc://models/llama/v1", NS, LAYOUT)
    assert (own.claim, own.key, own.local) == ("models", "llama/v1", None)
    store = resolve("pvc://kubetune-artifacts/alice/trainings/t/adapter", NS, LAYOUT)
    assert store.key == "trainings/t/adapter"
    assert store.local == PurePosixPath("/srv/store/alice/trainings/t/adapter")


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("s3://other-bucket/team/alice/x", "bucket models"),
        ("s3://models/team/bob/datasets/x", "outside this project"),
        ("s3://models/alice/x", "outside this project"),
        ("s3://models/team/alice/../bob/x", r"'\.' or '\.\.'"),
        ("s3://models/team/alice/%2e%2e/bob", "percent-encoded"),
        ("s3://models", "names no key"),
        ("s3://models/team//alice/x", "empty path segment"),
    ],
)
def test_s3_uris_outside_the_project_prefix_are_refused(uri: str, why: str) -> None:
    refused(uri, why)


def test_s3_inside_the_project_prefix_resolves_and_without_a_store_is_refused() -> None:
    assert resolve("s3://models/team/alice/out/run1", NS, LAYOUT).key == "out/run1"
    refused("s3://models/team/alice/x", "no object store", StoreLayout(store_root=ROOT))


def test_hub_references() -> None:
    assert resolve("hf://org/model@main", NS, LAYOUT).key == "org/model"
    assert resolve("hf://gpt2", NS, LAYOUT).key == "gpt2"
    refused("hf://org/../x", "hf://<org>/<model>")
    refused("hf://a/b/c", "hf://<org>/<model>")
    refused("hf://org/model@../x", "revision")
    refused("hf://org/model", "does not download", StoreLayout(store_root=ROOT, allow_hub=False))


def test_trusted_uris_are_checked_for_shape_only() -> None:
    layout = LAYOUT.with_trusted({"file:///models/tiny"})
    ref = resolve("file:///models/tiny", NS, layout)
    assert ref.trusted and not ref.in_store
    with pytest.raises(InvalidReference):
        resolve("file:///models/../etc", NS, layout.with_trusted({"file:///models/../etc"}))
    refused("file:///models/tiny2", "outside this project", layout)


def test_no_file_store_means_no_file_uris() -> None:
    refused(f"file://{ROOT}/alice/x", "no file store", StoreLayout())


@pytest.mark.parametrize("name", ["train", "validation", "test-1", "train_test.v2"])
def test_split_names(name: str) -> None:
    assert check_name(name, "train_split_name") == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../bob/datasets/x/train", "single name"),
        ("/etc/passwd", "single name"),
        ("..", r"'\.' or '\.\.'"),
        ("", "empty"),
        ("%2e%2e", "percent"),
        ("a\\b", "backslash"),
        ("tr\u0430in", "U\\+0430"),  # Cyrillic a
        (" train", "letters, digits"),
        ("a\nb", "control character"),
    ],
)
def test_bad_split_names(name: str, why: str) -> None:
    with pytest.raises(InvalidReference, match=why):
        check_name(name, "train_split_name")


def test_keys() -> None:
    assert check_key("datasets/ab/train.jsonl") == "datasets/ab/train.jsonl"
    for bad in ("/abs", "a//b", "a/../b", "a/./b", "", "a/"):
        with pytest.raises(InvalidReference):
            check_key(bad)


def test_message_is_for_a_person() -> None:
    with pytest.raises(InvalidReference) as info:
        resolve(f"file://{ROOT}/bob/trainings/t/adapter", NS, LAYOUT, "base_model")
    assert str(info.value).startswith("base_model 'file://")
    assert f"file://{ROOT}/alice/" in str(info.value)


def test_project_uri() -> None:
    assert project_uri(LAYOUT, NS, "datasets/x") == f"file://{ROOT}/alice/datasets/x"
    assert project_uri(StoreLayout(object_store_root="s3://b/p"), NS, "k") == "s3://b/p/alice/k"


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bob").mkdir()
    secret = tmp_path / "bob" / "secret.jsonl"
    secret.write_text("{}\n")
    (tmp_path / "alice").mkdir()
    os.symlink(secret, tmp_path / "alice" / "link.jsonl")
    os.symlink("/etc", tmp_path / "alice" / "etc")
    layout = StoreLayout(store_root=str(tmp_path))
    for name in ("link.jsonl", "etc/passwd"):
        ref = resolve(f"file://{tmp_path}/alice/{name}", NS, layout)
        with pytest.raises(InvalidReference, match="symlink"):
            open_checked(ref, layout, NS, want_file=True)
    inside = tmp_path / "alice" / "ok.jsonl"
    inside.write_text("{}\n")
    os.symlink(inside, tmp_path / "alice" / "alias.jsonl")
    ref = resolve(f"file://{tmp_path}/alice/alias.jsonl", NS, layout)
    assert open_checked(ref, layout, NS, want_file=True) == inside.resolve()
    assert confine(inside, tmp_path / "alice") == inside.resolve()


def test_a_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    (tmp_path / "alice" / "datasets" / "d").mkdir(parents=True)
    layout = StoreLayout(store_root=str(tmp_path))
    ref = resolve(f"file://{tmp_path}/alice/datasets/d", NS, layout, "dataset_path")
    with pytest.raises(InvalidReference, match="is a directory"):
        open_checked(ref, layout, NS, want_file=True, what="dataset_path")
    assert open_checked(ref, layout, NS, want_file=False).is_dir()


def test_layout_round_trips_through_pod_env() -> None:
    layout = LAYOUT.with_trusted({"file:///models/tiny"})
    env = {e["name"]: e["value"] for e in layout_env(layout, NS)}
    back = layout_from_env(env)
    assert back is not None
    got, namespace = back
    assert namespace == NS
    assert (got.store_root, got.artifact_claim, got.object_store_root, got.allow_hub, got.trusted) == (
        ROOT, "kubetune-artifacts", "s3://models/team", True, frozenset({"file:///models/tiny"}))
    assert layout_from_env({}) is None
