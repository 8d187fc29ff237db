"""Container environment: literal values, fieldRef, ConfigMap/Secret refs, envFrom, $(VAR) expansion."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.localdev.node.envvars import (
    EnvError,
    PodFacts,
    Sources,
    container_env,
    expand,
    referenced_objects,
    resolve_command,
)

pytestmark = pytest.mark.unit

FACTS = PodFacts(pod_ip="10.244.1.9", host_ip="127.0.0.1", node_name="local-node")
POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"}},
    "spec": {"nodeName": "local-node", "serviceAccountName": "trainer"},
}


def env_of(*variables: dict[str, Any], sources: Sources | None = None, env_from: Any = None) -> dict[str, str]:
    container = {"name": "c", "env": list(variables), "envFrom": env_from or []}
    return container_env(container, POD, FACTS, sources or Sources())


def field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def test_field_refs() -> None:
    got = env_of(
        field("NAME", "metadata.name"),
        field("NS", "metadata.namespace"),
        field("UID", "metadata.uid"),
        field("IP", "status.podIP"),
        field("NODE", "spec.nodeName"),
        field("SA", "spec.serviceAccountName"),
        field("APP", "metadata.labels['app']"),
    )
    assert got == {
        "NAME": "p",
        "NS": "ns",
        "UID": "u-1",
        "IP": "10.244.1.9",
        "NODE": "local-node",
        "SA": "trainer",
        "APP": "web",
    }


def test_unsupported_field_ref_is_an_error() -> None:
    with pytest.raises(EnvError):
        env_of(field("X", "spec.nothing"))


def test_config_map_and_secret_key_refs() -> None:
    sources = Sources(config_maps={"cm": {"k": "v"}}, secrets={"s": {"password": "hunter2"}})
    got = env_of(
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
        sources=sources,
    )
    assert got == {"A": "v", "B": "hunter2"}


def test_missing_reference_fails_unless_optional() -> None:
    ref = {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}
    with pytest.raises(EnvError, match="absent"):
        env_of(ref)
    optional = {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": True}}}
    assert env_of(optional) == {}


def test_missing_key_in_existing_secret_fails() -> None:
    with pytest.raises(EnvError, match="key 'nope'"):
        env_of(
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "nope"}}},
            sources=Sources(secrets={"s": {}}),
        )


def test_env_from_with_prefix_and_env_overrides_it() -> None:
    sources = Sources(config_maps={"cm": {"A": "from-cm", "B": "b"}})
    got = env_of(
        {"name": "X_A", "value": "explicit"},
        sources=sources,
        env_from=[{"prefix": "X_", "configMapRef": {"name": "cm"}}],
    )
    assert got == {"X_A": "explicit", "X_B": "b"}


def test_env_from_missing_optional_source_is_skipped() -> None:
    assert env_of(env_from=[{"secretRef": {"name": "absent", "optional": True}}]) == {}
    with pytest.raises(EnvError):
        env_of(env_from=[{"secretRef": {"name": "absent"}}])


def test_values_expand_earlier_variables() -> None:
    got = env_of({"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(UNKNOWN)-$$(A)"})
    assert got["B"] == "x-$(UNKNOWN)-$(A)"


def test_expand_rules() -> None:
    assert expand("$(A)/$(B)", {"A": "1"}) == "1/$(B)"
    assert expand("$$", {}) == "$"


def test_command_and_args_are_expanded_and_joined() -> None:
    container = {"name": "c", "command": ["python", "-m", "srv"], "args": ["--host", "$(POD_IP)"]}
    assert resolve_command(container, {"POD_IP": "10.0.0.1"}) == ["python", "-m", "srv", "--host", "10.0.0.1"]


def test_no_command_is_an_error_naming_the_image() -> None:
    with pytest.raises(EnvError, match="busybox"):
        resolve_command({"name": "c", "image": "busybox", "args": ["x"]}, {})


def test_referenced_objects_cover_env_and_volumes() -> None:
    pod = {
        "spec": {
            "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm-init"}}]}],
            "containers": [
                {"name": "c", "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}}]}
            ],
            "volumes": [
                {"name": "a", "configMap": {"name": "cm-vol"}},
                {"name": "b", "secret": {"secretName": "s-vol"}},
                {"name": "c", "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]}},
            ],
        }
    }
    assert referenced_objects(pod) == ({"cm-init", "cm-vol", "kube-root-ca.crt"}, {"s-env", "s-vol"})
