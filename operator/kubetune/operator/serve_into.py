"""Trainings that serve into an existing InferenceService (Training.spec.serve.into).

Declarative on purpose: the operator never edits the service's spec (GitOps would revert it, and a
removed Training would leave its adapter behind). What a service serves is computed at each reconcile:
its own ``spec.model.adapters`` plus the adapter of every Succeeded Training of its namespace whose
``serve.into`` names it. The adapters ConfigMap then changes in place and the running server loads and
unloads adapters without a rollout (the model version follows the base model only: builders/serving.py).

Split in two: ``trained_adapters`` looks the Trainings up in the operator's indexes, ``merge_trained``
is pure and decides what is loaded and why something is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.crd.chains import ChainModel, Waiting
from kubetune.crd.inferenceservice import MAX_ADAPTERS
from kubetune.crd.references import InvalidReference
from kubetune.operator.builders.serving import ServedModel


@dataclass(frozen=True)
class Trained:
    """One Training serving into the service: its model (adapter on weights), or why it has none."""

    training: str
    model: ChainModel | None = None
    problem: str | None = None


def serves_into(spec: Mapping[str, Any], namespace: str, isvc: str) -> bool:
    """Whether a Training spec names this service in serve.into (another namespace never does)."""
    into = (spec.get("serve") or {}).get("into") or {}
    return into.get("name") == isvc and into.get("namespace") in (None, namespace)


def _views_in(training_views: Mapping[Any, Any], namespace: str) -> Iterable[Mapping[str, Any]]:
    # A scan of the in-memory index (no API call): Trainings are keyed by (namespace, name), and an
    # index by target would need a third copy of every Training spec for a lookup done per reconcile.
    for key, store in training_views.items():
        if key[0] == namespace:
            yield from store


def trained_adapters(namespace: str, isvc: str, training_views: Mapping[Any, Any],
                     trainer_specs: Any) -> list[Trained]:
    """The Succeeded Trainings that serve into ``isvc``, by name; still running ones are not listed."""
    # Here, not at the top: operator.chains imports the handlers package, whose InferenceService handler
    # imports this module.
    from kubetune.operator import chains

    found: list[Trained] = []
    for view in _views_in(training_views, namespace):
        if not serves_into(view.get("spec") or {}, namespace, isvc):
            continue
        name = view["name"]
        if (view.get("status") or {}).get("phase") != "Succeeded":
            continue
        try:
            model = chains.training_model(f"training://{name}", namespace, training_views, trainer_specs,
                                          what="serve.into")
        except InvalidReference as exc:
            found.append(Trained(name, problem=str(exc)))
            continue
        if isinstance(model, Waiting):  # Succeeded without an output yet: the next status event brings it
            continue
        found.append(Trained(name, model))
    return sorted(found, key=lambda t: t.training)


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def merge_trained(model: ServedModel, trained: Iterable[Trained]) -> tuple[ServedModel, list[str]]:
    """The service's model plus the trained adapters that fit it; the problems say which did not and why.

    An adapter fits when it was trained on the weights the service serves; its name is the Training's and
    must not be taken by spec.model.adapters (the spec wins); at most MAX_ADAPTERS in all.
    """
    adapters = dict(model.adapters)
    trained_names: set[str] = set()
    problems: list[str] = []
    for item in trained:
        name = item.training
        if item.problem is not None:
            problems.append(f"adapter of Training {name} not loaded: {item.problem}")
        elif item.model is None or item.model.adapter is None:
            problems.append(f"Training {name} is a full fine-tuning: it has no adapter to load")
        elif not _same(item.model.base_model, model.base_model):
            problems.append(f"adapter of Training {name} not loaded: trained on {item.model.base_model}, "
                            f"this service serves {model.base_model}")
        elif name in adapters:
            if adapters[name] != item.model.adapter:
                problems.append(f"adapter of Training {name} not loaded: the name {name} is taken by "
                                "spec.model.adapters")
        elif len(adapters) >= MAX_ADAPTERS:
            problems.append(f"adapter of Training {name} not loaded: the service has {MAX_ADAPTERS} adapters, "
                            "the most it serves")
        else:
            adapters[name] = item.model.adapter
            trained_names.add(name)
    return ServedModel(model.base_model, adapters, model.trained | trained_names), problems


def services_to_follow(namespace: str, training: str, spec: Mapping[str, Any], phase: str | None,
                       deleted: bool, isvc_views: Mapping[Any, Any]) -> list[str]:
    """The InferenceServices whose adapters may change with this Training event.

    The one its serve.into names once it succeeded, and every service of the namespace that lists its
    adapter now: so a deleted Training, or one whose serve.into was removed or retargeted, is unloaded.
    """
    into = (spec.get("serve") or {}).get("into") or {}
    names: set[str] = set()
    if not deleted and phase == "Succeeded" and serves_into(spec, namespace, str(into.get("name"))):
        names.add(str(into["name"]))
    if deleted or phase == "Succeeded":
        for key, store in isvc_views.items():
            if key[0] == namespace and any(training in ((v.get("status") or {}).get("adapters") or ())
                                           for v in store):
                names.add(key[1])
    return sorted(names)


def served_by_updates(namespace: str, isvc: str, loaded: Iterable[str],
                      training_views: Mapping[Any, Any]) -> dict[str, str | None]:
    """Training ``status.inferenceService`` values to write after ``isvc`` was reconciled.

    This service for each Training whose adapter it now serves (the facade shows the Training as served);
    none for one that still says this service but is no longer served by it (its serve.into was removed or
    retargeted). A Training with serve.enabled keeps the service it created.
    """
    loaded = set(loaded)
    updates: dict[str, str | None] = {}
    for view in _views_in(training_views, namespace):
        name = view["name"]
        current = (view.get("status") or {}).get("inferenceService")
        if name in loaded and current != isvc:
            updates[name] = isvc
        elif name not in loaded and current == isvc and not ((view.get("spec") or {}).get("serve") or {}).get(
                "enabled"):
            updates[name] = None
    return updates
