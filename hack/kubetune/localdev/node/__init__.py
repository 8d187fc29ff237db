"""The local node agent: plays the kubelet's role for development and tests.

It registers a Node, keeps it Ready, and runs the pods the scheduler binds to it
as host processes (there is no container runtime). See docs/local-node.md.

`paths` stays importable without the kubernetes client, because programs
running inside pods import it to find their mounts; everything else is loaded
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubetune.localdev.node.agent import NodeAgent
    from kubetune.localdev.node.config import NodeConfig

__all__ = ["NodeAgent", "NodeConfig"]


def __getattr__(name: str) -> Any:
    if name == "NodeAgent":
        from kubetune.localdev.node.agent import NodeAgent

        return NodeAgent
    if name == "NodeConfig":
        from kubetune.localdev.node.config import NodeConfig

        return NodeConfig
    raise AttributeError(name)
