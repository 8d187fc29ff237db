"""HPO parents: create trial Trainings (at most parallelTrials live, up to maxTrials) and summarise them."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd.kinds import TRAINING
from kubetune.crd.training import TrainingSpec
from kubetune.operator.builders.hpo import best_trial, build_trial, objective_value, sample_trials
from kubetune.operator.handlers.common import many, one
from kubetune.operator.handlers.training_status import TERMINAL, owner_of, write_state
from kubetune.operator.phases import TrainingState
from kubetune.operator.runtime import Runtime


def trial_summaries(namespace: str, parent: str, spec: TrainingSpec, trials_by_parent: Any,
                    training_views: Any) -> list[dict[str, Any]]:
    """The parent's view of each existing trial, in trial order."""
    assert spec.hpo is not None
    samples = sample_trials(spec.hpo, spec.hyperparameters.seed)
    out: list[dict[str, Any]] = []
    for index, values in enumerate(samples):
        name = lbl.hpo_trial_name(parent, index)
        if name not in many(trials_by_parent, (namespace, parent)):
            continue
        view = one(training_views, (namespace, name))
        status = (view or {}).get("status") or {}
        out.append({
            "name": name, "parameters": values, "phase": status.get("phase") or "Pending",
            "objective": objective_value(status, spec.hpo.objective.metric),
        })
    return out


def parent_state(spec: TrainingSpec, trials: list[dict[str, Any]]) -> TrainingState:
    assert spec.hpo is not None
    total = min(spec.hpo.max_trials, len(sample_trials(spec.hpo, spec.hyperparameters.seed)))
    done = [t for t in trials if t["phase"] in TERMINAL]
    succeeded = [t for t in done if t["phase"] == "Succeeded"]
    counts = f"{len(done)}/{total} trials finished, {len(succeeded)} succeeded"
    if len(done) == total and total > 0:
        if succeeded:
            return TrainingState("Succeeded", "TrialsFinished", counts)
        return TrainingState("Failed", "AllTrialsFailed", counts)
    if spec.suspend:
        if any(t["phase"] not in (*TERMINAL, "Stopped") for t in trials):
            return TrainingState("Stopping", "Suspending", f"suspending the running trials; {counts}")
        return TrainingState("Stopped", "Suspended", f"search suspended; {counts}")
    if not trials:
        return TrainingState("Queued", "CreatingTrials", "creating trials")
    return TrainingState("Running", "Searching", counts)


def follow_suspend(rt: Runtime, namespace: str, suspend: bool, trials: list[dict[str, Any]],
                   training_views: Any) -> None:
    """Suspending the search suspends its unfinished trials; resuming it resumes them."""
    for trial in trials:
        if trial["phase"] in TERMINAL:
            continue
        view = one(training_views, (namespace, trial["name"]))
        if view is None or bool((view.get("spec") or {}).get("suspend")) == suspend:
            continue
        rt.kube.patch(TRAINING.api_version, TRAINING.kind, namespace, trial["name"], {"spec": {"suspend": suspend}})


def reconcile_parent(rt: Runtime, view: dict[str, Any], spec: TrainingSpec, trials_by_parent: Any,
                     training_views: Any) -> None:
    """Create the next trials and write the summary."""
    namespace, name = view["namespace"], view["name"]
    assert spec.hpo is not None
    with rt.locks.hold((namespace, name)):
        samples = sample_trials(spec.hpo, spec.hyperparameters.seed)
        trials = trial_summaries(namespace, name, spec, trials_by_parent, training_views)
        existing = {t["name"] for t in trials}
        live = sum(1 for t in trials if t["phase"] not in TERMINAL)
        owner = owner_of(view)
        follow_suspend(rt, namespace, spec.suspend, trials, training_views)
        if not spec.suspend:
            for index, values in enumerate(samples):
                if live >= spec.hpo.parallel_trials:
                    break
                trial = build_trial(owner, spec, index, values)
                if trial["metadata"]["name"] in existing:
                    continue
                rt.kube.create(trial)
                trials.append({"name": trial["metadata"]["name"], "parameters": values, "phase": "Pending",
                               "objective": None})
                live += 1
        trials.sort(key=lambda t: samples.index(t["parameters"]) if t["parameters"] in samples else 0)
        state = parent_state(spec, trials)
        extra = {"trials": trials, "bestTrial": best_trial(trials, spec.hpo.objective.goal),
                 "observedGeneration": view.get("generation")}
        write_state(rt, view, state, extra)


def refresh_parent(rt: Runtime, namespace: str, parent: str, trials_by_parent: Any, training_views: Any) -> None:
    """A trial changed: summarise again and start the next trial if a slot is free."""
    view = one(training_views, (namespace, parent))
    if view is None:
        return
    spec = TrainingSpec.model_validate(view["spec"])
    if spec.hpo is None or not spec.hpo.enabled:
        return
    phase = rt.status.base(view["uid"], view["status"], view.get("resourceVersion")).get("phase")
    if phase in TERMINAL:
        return
    reconcile_parent(rt, view, spec, trials_by_parent, training_views)
