"""A container's environment, computed from its pod spec as the kubelet would.

Pure functions: the ConfigMaps and Secrets a container refers to are fetched by
the caller (see `referenced_objects`) and passed in as plain dicts of strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Pod = Mapping[str, Any]
Container = Mapping[str, Any]

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


class EnvError(ValueError):
    """A non-optional reference could not be resolved (the kubelet's CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodFacts:
    """Values that fieldRef reads from outside the pod spec."""

    pod_ip: str
    host_ip: str
    node_name: str


@dataclass
class Sources:
    """ConfigMaps and Secrets by name (absent ones missing), data already decoded."""

    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes $(VAR) expansion: known variables replaced, $$ escapes, unknown kept."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(substitute, text)


def _subscript(selector: str) -> tuple[str, str] | None:
    """metadata.labels['key'] -> ("metadata.labels", "key")."""
    match = re.fullmatch(r"([a-z.]+)\['(.+)'\]", selector)
    return (match.group(1), match.group(2)) if match else None


def field_value(pod: Pod, field_path: str, facts: PodFacts) -> str:
    metadata = pod.get("metadata", {})
    spec = pod.get("spec", {})
    simple = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": spec.get("nodeName") or facts.node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": facts.pod_ip,
        "status.podIPs": facts.pod_ip,
        "status.hostIP": facts.host_ip,
        "status.hostIPs": facts.host_ip,
    }
    if field_path in simple:
        return str(simple[field_path])
    sub = _subscript(field_path)
    if sub is not None and sub[0] in ("metadata.labels", "metadata.annotations"):
        return str(metadata.get(sub[0].split(".")[1], {}).get(sub[1], ""))
    raise EnvError(f"unsupported fieldRef {field_path!r}")


def _key_ref(ref: Mapping[str, Any], objects: Mapping[str, Mapping[str, str]], kind: str) -> str | None:
    name, key = ref.get("name", ""), ref["key"]
    data = objects.get(name)
    if data is None or key not in data:
        if ref.get("optional"):
            return None
        what = f"{kind} {name!r}" if data is None else f"key {key!r} in {kind} {name!r}"
        raise EnvError(f"{what} not found")
    return data[key]


def container_env(container: Container, pod: Pod, facts: PodFacts, sources: Sources) -> dict[str, str]:
    """envFrom first, then env in order (later entries win), with $(VAR) expansion."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []) or []:
        prefix = source.get("prefix", "")
        for kind, objects in (("configMapRef", sources.config_maps), ("secretRef", sources.secrets)):
            ref = source.get(kind)
            if ref is None:
                continue
            data = objects.get(ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f"{kind[:-3]} {ref.get('name')!r} not found")
            env.update({prefix + key: value for key, value in data.items()})
    for var in container.get("env", []) or []:
        name = var["name"]
        value_from = var.get("valueFrom")
        if value_from is None:
            env[name] = expand(var.get("value", ""), env)
            continue
        value: str | None
        if "fieldRef" in value_from:
            value = field_value(pod, value_from["fieldRef"]["fieldPath"], facts)
        elif "configMapKeyRef" in value_from:
            value = _key_ref(value_from["configMapKeyRef"], sources.config_maps, "configmap")
        elif "secretKeyRef" in value_from:
            value = _key_ref(value_from["secretKeyRef"], sources.secrets, "secret")
        elif "resourceFieldRef" in value_from:
            value = resource_value(container, value_from["resourceFieldRef"])
        else:
            raise EnvError(f"unsupported valueFrom for {name!r}")
        if value is not None:
            env[name] = value
    return env


def resource_value(container: Container, ref: Mapping[str, Any]) -> str:
    """requests.cpu / limits.memory ... as the raw quantity (divisor not applied)."""
    group, _, resource = ref["resource"].partition(".")
    value = container.get("resources", {}).get(group, {}).get(resource)
    return str(value) if value is not None else "0"


def referenced_objects(pod: Pod) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets that the pod's env and volumes refer to."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    spec = pod.get("spec", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in container.get("envFrom", []) or []:
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"].get("name", ""))
            if "secretRef" in source:
                secrets.add(source["secretRef"].get("name", ""))
        for var in container.get("env", []) or []:
            value_from = var.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                config_maps.add(value_from["configMapKeyRef"].get("name", ""))
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"].get("name", ""))
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            config_maps.add(volume["configMap"].get("name", ""))
        if "secret" in volume:
            secrets.add(volume["secret"].get("secretName", ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                config_maps.add(source["configMap"].get("name", ""))
            if "secret" in source:
                secrets.add(source["secret"].get("name", ""))
    return config_maps, secrets


def resolve_command(container: Container, env: Mapping[str, str]) -> list[str]:
    """command + args with $(VAR) expanded; the image's entrypoint is unknown here."""
    command = [expand(part, env) for part in container.get("command") or []]
    args = [expand(part, env) for part in container.get("args") or []]
    if not command:
        raise EnvError(
            f"container {container.get('name')!r} has no command: the local node cannot "
            f"run image {container.get('image')!r}'s entrypoint"
        )
    return command + args
