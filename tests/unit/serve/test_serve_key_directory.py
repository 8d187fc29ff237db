"""Keys from a directory: the operator's Secret and a user's, joined in one projected volume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubetune.serve.auth import ApiKeyFile

pytestmark = pytest.mark.unit


def _kubelet_layout(root: Path, files: dict[str, str], version: str) -> None:
    """What the kubelet writes: a timestamped directory, ..data pointing at it, and links to ..data."""
    data = root / f"..{version}"
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, root / "..data")
    for name in files:
        link = root / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def test_every_visible_file_of_the_directory_holds_keys(tmp_path: Path) -> None:
    _kubelet_layout(tmp_path, {"keys": "kts_own\nktf_facade\n", "user-keys": "mine\n"}, "v1")
    keys = ApiKeyFile(tmp_path)
    assert keys.keys() == {"kts_own", "ktf_facade", "mine"}
    assert keys.accepts("mine") and keys.accepts("ktf_facade") and not keys.accepts("..data")


def test_a_rotated_secret_is_read_again(tmp_path: Path) -> None:
    _kubelet_layout(tmp_path, {"keys": "old\n"}, "v1")
    keys = ApiKeyFile(tmp_path)
    assert keys.accepts("old")
    _kubelet_layout(tmp_path, {"keys": "new-and-longer\n"}, "v2")
    assert keys.accepts("new-and-longer") and not keys.accepts("old")


def test_an_empty_directory_admits_nobody(tmp_path: Path) -> None:
    keys = ApiKeyFile(tmp_path)
    assert keys.keys() == frozenset() and not keys.accepts("")
