"""StatusWriter: no-op patches skipped, one Event per transition, fresher of watch and own write wins."""

from __future__ import annotations

from typing import Any

from kubetune.crd.kinds import TRAINING
from kubetune.operator import conditions as cnd
from kubetune.operator.metrics import Metrics
from kubetune.operator.owner import Owner
from kubetune.operator.runtime import StatusWriter


class FakeKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.rv = 100

    def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        assert subresource == "status"
        self.patches.append(patch)
        self.rv += 1
        return {"metadata": {"resourceVersion": str(self.rv)}}

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.created.append(manifest)
        return manifest


OWNER = Owner(api_version="kubetune.io/v1alpha1", kind="Training", name="t", uid="u1", namespace="ns")


def writer() -> tuple[StatusWriter, FakeKube, Metrics]:
    kube, metrics = FakeKube(), Metrics()
    return StatusWriter(kube, metrics), kube, metrics  # type: ignore[arg-type]


def test_unchanged_fields_send_nothing_and_transitions_post_one_event() -> None:
    w, kube, metrics = writer()
    conds = [cnd.make("Running", True, "Running", "go", 1)]
    assert w.write(TRAINING, OWNER, {}, "5", {"phase": "Running", "conditions": conds}, ("Started", "go", False))
    # The watch still shows the old object (rv 5 < our 101): compare with our own write.
    later = [cnd.make("Running", True, "Running", "go", 1, at="2099-01-01T00:00:00Z")]
    assert not w.write(TRAINING, OWNER, {}, "5", {"phase": "Running", "conditions": later}, ("Started", "go", False))
    assert len(kube.patches) == 1
    assert [e["reason"] for e in kube.created] == ["Started"]
    assert kube.created[0]["involvedObject"]["uid"] == "u1"
    assert metrics.phases.counts() == {("Training", "Running"): 1}


def test_a_fresher_watched_object_wins_over_the_cache() -> None:
    w, kube, _ = writer()
    w.write(TRAINING, OWNER, {}, "5", {"phase": "Running"})
    # Someone else moved it on (rv 500 > 101): the writer compares with that.
    assert w.write(TRAINING, OWNER, {"phase": "Stopped"}, "500", {"phase": "Running"}, ("Started", "x", False))
    assert len(kube.patches) == 2
    assert [e["reason"] for e in kube.created] == ["Started"]


def test_conditions_are_merged_and_keep_their_transition_time() -> None:
    w, kube, _ = writer()
    old = [cnd.make("Ready", True, "Ok", "a", 1, at="2026-01-01T00:00:00Z")]
    w.write(TRAINING, OWNER, {"conditions": old}, "1", {"conditions": [cnd.make("Ready", True, "Ok", "b", 2)]})
    (sent,) = kube.patches[0]["status"]["conditions"]
    assert sent["lastTransitionTime"] == "2026-01-01T00:00:00Z" and sent["message"] == "b"


def test_a_staged_write_goes_into_kopfs_patch_and_counts_as_written() -> None:
    w, kube, _ = writer()
    patch: dict[str, Any] = {"status": {"kopf": {"progress": {}}}}
    assert w.write(TRAINING, OWNER, {}, "5", {"phase": "Queued", "message": "m"}, ("Queued", "m", False), into=patch)
    assert kube.patches == []  # kopf sends it, with its own record
    assert patch["status"] == {"kopf": {"progress": {}}, "phase": "Queued", "message": "m"}
    assert [e["reason"] for e in kube.created] == ["Queued"]
    # A Job event seen before kopf's patch lands (same rv) must not write or announce it again.
    assert not w.needed("u1", {}, "5", {"phase": "Queued", "message": "m"})
    assert not w.write(TRAINING, OWNER, {}, "5", {"phase": "Queued", "message": "m"}, ("Queued", "m", False))
    assert kube.patches == [] and len(kube.created) == 1
    # Once a newer event arrives it is the truth: here it lacks the fields, so they are written.
    assert w.write(TRAINING, OWNER, {}, "6", {"phase": "Queued", "message": "m"}, ("Queued", "m", False))
    assert kube.patches == [{"status": {"phase": "Queued", "message": "m"}}]


def test_a_second_write_without_conditions_over_the_cache_keeps_them() -> None:
    # The Trainer's count timer writes {"trainings": n} right after its reconcile wrote conditions:
    # the cached status holds packed conditions, which must survive (this used to raise).
    w, kube, _ = writer()
    conds = [cnd.make("Ready", True, "Valid", "ready", 1)]
    assert w.write(TRAINING, OWNER, {}, "5", {"conditions": conds, "observedGeneration": 1})
    assert w.write(TRAINING, OWNER, {}, "5", {"trainings": 3})
    assert kube.patches[-1] == {"status": {"trainings": 3}}
    assert not w.needed("u1", {}, "5", {"conditions": conds, "trainings": 3})


def test_a_staged_write_holds_other_writers_back_until_the_watch_shows_it(monkeypatch: Any) -> None:
    import kubetune.operator.runtime as runtime

    w, _, _ = writer()
    patch: dict[str, Any] = {}
    w.write(TRAINING, OWNER, {}, "5", {"phase": "Queued"}, into=patch)
    assert w.staged("u1", "5")  # kopf has not sent it yet: a Job event must not overtake it
    assert not w.staged("u1", "6")  # the Training's next event: it landed
    assert not w.staged("u1", "5")  # and stays cleared
    w.write(TRAINING, OWNER, {}, "7", {"phase": "Running"}, into=patch)
    clock = [runtime.time.monotonic() + runtime.STAGED_SECONDS + 1]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock[0])
    assert not w.staged("u1", "7")  # a patch kopf never sent does not hold the object back for good
    w.write(TRAINING, OWNER, {}, "8", {"phase": "Stopped"})
    assert not w.staged("u1", "8")  # direct writes are never staged
