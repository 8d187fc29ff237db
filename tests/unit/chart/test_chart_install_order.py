"""What makes `helm install` work on an empty cluster: the CRDs are ordinary release objects
(created first), the default Trainers are post-install/post-upgrade hooks (created after them),
and nothing else in the chart is a hook."""

from __future__ import annotations

import pytest
from chart_helpers import Render, find

pytestmark = pytest.mark.unit

HOOK = "helm.sh/hook"


def test_default_trainers_are_created_after_the_release_objects(render: Render) -> None:
    trainers = find(render(), "Trainer")
    assert {t["metadata"]["name"] for t in trainers} == {"lora", "qlora", "full"}
    for trainer in trainers:
        annotations = trainer["metadata"]["annotations"]
        assert annotations[HOOK] == "post-install,post-upgrade"
        # An upgrade replaces them (a hook is created, never patched, by Helm).
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"


def test_crds_and_everything_else_are_not_hooks(render: Render) -> None:
    objects = render()
    crds = find(objects, "CustomResourceDefinition")
    assert len(crds) == 4
    hooks = [o for o in objects if HOOK in (o["metadata"].get("annotations") or {})]
    assert {o["kind"] for o in hooks} == {"Trainer"}


def test_s3_trainers_are_hooks_too(render: Render) -> None:
    values = {"storage.type": "s3", "storage.s3.bucket": "models"}
    assert all(HOOK in t["metadata"]["annotations"] for t in find(render(values), "Trainer"))
