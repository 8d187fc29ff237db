"""Kubernetes client configuration for a local control plane."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config


def client_configuration(kubeconfig: Path | str) -> client.Configuration:
    """A client Configuration loaded from a kubeconfig file, not touching the global default."""
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return cfg
