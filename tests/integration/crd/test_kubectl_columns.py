"""`kubectl get` as a user sees it: the API server renders kubetune's printer columns from real objects."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from kube_waits import create_namespace
from kubernetes import client

from kubetune.crd import display
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration


def _get(cp: ControlPlane, *args: str) -> list[dict[str, str]]:
    out = subprocess.run([str(cp.bin_dir / "kubectl"), "--kubeconfig", str(cp.kubeconfig), "get", *args],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    header, *rows = out.splitlines()
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    bounds = [*starts[1:], None]
    names = [header[a:b].strip() for a, b in zip(starts, bounds, strict=True)]
    return [{n: row[a:b].strip() for n, a, b in zip(names, starts, bounds, strict=True)} for row in rows]


def test_trainings_and_trainers_print_short_text(control_plane: ControlPlane, api_client: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api_client)
    ns = create_namespace(api_client, "cols")
    trainer = f"cols-{uuid.uuid4().hex[:6]}"
    custom.create_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", {
        "apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": trainer},
        "spec": {"image": "kubetune/runtime:dev", "tasks": ["causal-lm", "sequence-classification"],
                 "methods": ["lora", "full"]}})
    custom.patch_cluster_custom_object_status("kubetune.io", "v1alpha1", "trainers", trainer, {"status": {
        "tasks": display.words(["causal-lm", "sequence-classification"]), "methods": display.words(["lora", "full"]),
        "trainings": 2, "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "ready",
                                        "lastTransitionTime": "2026-12-05T00:00:00Z"}]}})
    try:
        row = next(r for r in _get(control_plane, "trainers", trainer))
        assert (row["READY"], row["TASKS"], row["METHODS"], row["TRAININGS"]) == (
            "True", "causal-lm, sequence-classification", "lora, full", "2")

        for name in ("running", "failed"):
            custom.create_namespaced_custom_object("kubetune.io", "v1alpha1", ns, "trainings", {
                "apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
                "spec": {"trainerRef": trainer, "baseModel": "tiny",
                         "dataset": {"uri": "file:///data/chat.jsonl", "format": "openai_chat_jsonl"}}})
        step, total, eta, loss = 450, 1000, 192.4, 1.23456789
        custom.patch_namespaced_custom_object_status("kubetune.io", "v1alpha1", ns, "trainings", "running", {
            "status": {"phase": "Running", "progress": {
                "step": step, "totalSteps": total, "percent": display.percent(100 * step / total),
                "steps": display.steps(step, total), "eta": display.duration(eta), "loss": display.loss(loss)},
                "conditions": [{"type": "Running", "status": "True", "reason": "Running", "message": "attempt 1",
                                "lastTransitionTime": "2026-12-05T00:00:00Z"}]}})
        custom.patch_namespaced_custom_object_status("kubetune.io", "v1alpha1", ns, "trainings", "failed", {
            "status": {"phase": "Failed", "conditions": [
                {"type": "Failed", "status": "True", "reason": "OOMKilled", "message": "out of memory",
                 "lastTransitionTime": "2026-12-05T00:00:00Z"}]}})
        rows = {r["NAME"]: r for r in _get(control_plane, "trainings", "-n", ns)}
        running = rows["running"]
        assert (running["PHASE"], running["PROGRESS"], running["STEPS"], running["LOSS"], running["ETA"],
                running["REASON"]) == ("Running", "45", "450/1000", "1.235", "3m12s", "Running")
        assert (rows["failed"]["PHASE"], rows["failed"]["REASON"]) == ("Failed", "OOMKilled")
        assert "TRAINER" not in rows["failed"]  # in -o wide only
        wide = {r["NAME"]: r for r in _get(control_plane, "trainings", "-n", ns, "-o", "wide")}
        assert wide["running"]["TRAINER"] == trainer
    finally:
        custom.delete_cluster_custom_object("kubetune.io", "v1alpha1", "trainers", trainer)
        client.CoreV1Api(api_client).delete_namespace(ns)


def test_display_texts() -> None:
    assert display.duration(None) == "" and display.duration(45.4) == "45s"
    assert display.duration(750) == "12m30s" and display.duration(3 * 3600 + 300) == "3h05m"
    assert display.loss(0.0123456) == "0.01235" and display.loss(None) == ""
    assert display.steps(3, 0) == "3" and display.percent(33.333) == 33.3
