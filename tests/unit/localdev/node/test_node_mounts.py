"""Mount mapping: the path table, the container root, resolve(), working directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubetune.localdev.node import mounts, paths

pytestmark = pytest.mark.unit


def test_rewrite_uses_the_longest_whole_component_prefix() -> None:
    table = {"/etc/kubetune": "/h/run", "/etc/kubetune/extra": "/h/extra", "/data": "/h/data"}
    assert paths.rewrite("/etc/kubetune/run.json", table) == "/h/run/run.json"
    assert paths.rewrite("/etc/kubetune/extra/x", table) == "/h/extra/x"
    assert paths.rewrite("/etc/kubetune", table) == "/h/run"
    assert paths.rewrite("/etc/kubetunex/y", table) == "/etc/kubetunex/y"
    assert paths.rewrite("/elsewhere", table) == "/elsewhere"


def test_mount_env_names() -> None:
    assert paths.mount_env_name("/etc/kubetune") == "KUBETUNE_MOUNT_ETC_KUBETUNE"
    assert paths.mount_env_name("/var/run/secrets/kubernetes.io/serviceaccount") == (
        "KUBETUNE_MOUNT_VAR_RUN_SECRETS_KUBERNETES_IO_SERVICEACCOUNT"
    )


def test_mount_table_with_sub_path_and_termination_message(tmp_path: Path) -> None:
    container = {
        "name": "c",
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/kubetune/"},
            {"name": "data", "mountPath": "/data/one", "subPath": "one"},
        ],
        "terminationMessagePath": "/tmp/msg",
    }
    table = mounts.mount_table(container, {"cfg": tmp_path / "cfg", "data": tmp_path / "data"}, tmp_path / "term")
    assert table == {
        "/etc/kubetune": str(tmp_path / "cfg"),
        "/data/one": str(tmp_path / "data" / "one"),
        "/tmp/msg": str(tmp_path / "term"),
    }


def test_mount_table_rejects_unknown_volumes_and_escaping_sub_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names no volume"):
        mounts.mount_table({"volumeMounts": [{"name": "x", "mountPath": "/x"}]}, {}, tmp_path / "t")
    with pytest.raises(ValueError, match="subPath"):
        mounts.mount_table(
            {"volumeMounts": [{"name": "x", "mountPath": "/x", "subPath": "../up"}]}, {"x": tmp_path}, tmp_path / "t"
        )


def test_root_links_table_file_and_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "volumes" / "cfg"
    cfg.mkdir(parents=True)
    (cfg / "run.json").write_text('{"ok": true}')
    term = tmp_path / "term"
    table = mounts.mount_table({"volumeMounts": [{"name": "cfg", "mountPath": "/etc/kubetune"}]}, {"cfg": cfg}, term)
    fs = mounts.build_root(tmp_path / "container", table, term)
    assert json.loads((fs.root / "etc/kubetune/run.json").read_text()) == {"ok": True}
    env = fs.env()
    assert env["KUBETUNE_MOUNT_ETC_KUBETUNE"] == str(cfg)
    assert env["KUBETUNE_TERMINATION_MESSAGE_PATH"] == str(term)
    monkeypatch.setenv(paths.PATH_MAP_ENV, env[paths.PATH_MAP_ENV])
    assert paths.resolve("/etc/kubetune/run.json") == str(cfg / "run.json")
    assert paths.resolve("/dev/termination-log") == str(term)
    assert paths.resolve("relative/path") == "relative/path"


def test_resolve_is_the_identity_outside_a_local_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(paths.PATH_MAP_ENV, raising=False)
    assert paths.resolve("/etc/kubetune/run.json") == "/etc/kubetune/run.json"
    assert not paths.in_local_pod()


def test_working_dir_mapped_host_or_created_under_root(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    table = {"/work": str(cfg)}
    fs = mounts.build_root(tmp_path / "c", table, tmp_path / "t")
    assert mounts.working_dir({}, fs) == fs.root
    assert mounts.working_dir({"workingDir": "/work/sub"}, fs) == cfg / "sub"
    assert mounts.working_dir({"workingDir": str(tmp_path)}, fs) == tmp_path
    made = mounts.working_dir({"workingDir": "/no/such/dir/here"}, fs)
    assert made == fs.root / "no/such/dir/here" and made.is_dir()


def test_host_links_only_under_the_allowlist(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    table = {str(allowed / "etc"): str(tmp_path / "v1"), str(tmp_path / "other"): str(tmp_path / "v2")}
    made = mounts.link_allowed(table, (str(allowed),))
    assert made == [allowed / "etc"]
    assert (allowed / "etc").is_symlink() and not (tmp_path / "other").exists()
    assert mounts.link_allowed(table, ()) == []


def test_arguments_and_env_values_naming_mounted_paths_are_rewritten() -> None:
    table = {"/etc/kubetune": "/h/run", "/dev/termination-log": "/h/term"}
    assert mounts.rewrite_value("/etc/kubetune/run.json", table) == "/h/run/run.json"
    assert mounts.rewrite_value("--config=/etc/kubetune/run.json", table) == "--config=/h/run/run.json"
    assert mounts.rewrite_value("/dev/termination-log", table) == "/h/term"
    assert mounts.rewrite_value("/usr/bin/python", table) == "/usr/bin/python"
    assert mounts.rewrite_value("cat /etc/kubetune/run.json", table) == "cat /etc/kubetune/run.json"
    assert mounts.rewrite_value("key=/etc/kubetune/x", table) == "key=/etc/kubetune/x"


def test_a_directory_holding_mounts_maps_into_the_container_root(tmp_path: Path) -> None:
    """KUBETUNE_PVC_ROOT=/mnt/pvc above /mnt/pvc/<claim>: the program finds each claim under it."""
    claim = tmp_path / "claim"
    claim.mkdir()
    (claim / "data.jsonl").write_text("{}\n")
    table = {"/mnt/pvc/support-data": str(claim), "/etc/kubetune": str(tmp_path / "run")}
    fs = mounts.build_root(tmp_path / "c", table, tmp_path / "term")
    mapped = mounts.rewrite_value("/mnt/pvc", table, fs.root)
    assert mapped == str(fs.root / "mnt" / "pvc")
    assert (Path(mapped) / "support-data" / "data.jsonl").read_text() == "{}\n"
    assert mounts.rewrite_value("/mnt/pvc", table) == "/mnt/pvc"  # without the root: as before
    assert mounts.rewrite_value("/mnt/other", table, fs.root) == "/mnt/other"  # holds no mount
    assert mounts.rewrite_value("/", table, fs.root) == "/"  # nor the filesystem root


def test_service_account_kubeconfig_points_at_the_mounted_token_and_ca() -> None:
    table = {paths.SERVICE_ACCOUNT_DIR: "/h/sa", "/etc/kubetune": "/h/run"}
    kubeconfig = mounts.service_account_kubeconfig("https://127.0.0.1:6443", table)
    assert kubeconfig is not None
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority": "/h/sa/ca.crt",
    }
    assert kubeconfig["users"][0]["user"] == {"tokenFile": "/h/sa/token"}
    assert mounts.service_account_kubeconfig("https://127.0.0.1:6443", {"/etc/kubetune": "/h/run"}) is None


def test_sub_paths_are_made_inside_the_volume_and_links_out_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "bob").mkdir(parents=True)
    container = {"volumeMounts": [{"name": "artifacts", "mountPath": "/art/alice", "subPath": "alice"}]}
    mounts.prepare_sub_paths(container, {"artifacts": store})
    assert (store / "alice").is_dir()  # created, as the kubelet does
    table = mounts.mount_table(container, {"artifacts": store}, tmp_path / "term")
    assert table["/art/alice"] == str(store / "alice")  # the project's prefix, not the whole volume
    (store / "mallory").symlink_to(tmp_path)
    escape = {"volumeMounts": [{"name": "artifacts", "mountPath": "/art/m", "subPath": "mallory"}]}
    with pytest.raises(ValueError, match="symlink"):
        mounts.prepare_sub_paths(escape, {"artifacts": store})
