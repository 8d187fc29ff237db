# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit index kwargs or a narrowed namespace: str.)
"""Scale to zero: a timer puts idle InferenceServices to sleep; the facade's last-request write wakes them.

Both only compare the idleness clock (kubetune.operator.scale_to_zero) with the Deployment's replicas
and, when they disagree, run the ordinary reconcile, which writes the replicas and the autoscaler.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd.autoscaling import LAST_REQUEST_ANNOTATION
from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.operator import scale_to_zero as stz
from kubetune.operator.handlers.common import REGISTRY, guarded, one, resource, runtime_of
from kubetune.operator.handlers.inferenceservice import isvc_view_of, reconcile_isvc

# How often idleness is checked: a service sleeps at most this long after its idleSeconds.
IDLE_CHECK_SECONDS = 5.0


def _scales_to_zero(spec: kopf.Spec, **_: Any) -> bool:
    return bool((spec.get("autoscaling") or {}).get("scaleToZero"))


def sleep_or_wake(rt: Any, body: kopf.Body, training_views: Any, trainer_specs: Any, server_deployments: Any,
                  server_pods: Any) -> None:
    view = isvc_view_of(body)
    deployment = one(server_deployments, (view["namespace"], view["name"]))
    if deployment is None:
        return  # not served yet: the create/update handler owns the first rollout
    try:
        spec = InferenceServiceSpec.model_validate(view["spec"])
    except ValueError:
        return  # the spec handler reports an invalid spec
    if spec.suspend:
        return
    asleep = deployment["replicas"] == 0
    idle = stz.is_idle(spec, view["annotations"], view["created"], stz.now_utc(), stz.ready_since(view["status"]),
                       asleep)
    if idle == asleep:
        return  # already where it should be
    reconcile_isvc(rt, view, training_views, trainer_specs, server_deployments, server_pods)


@kopf.timer(*resource(INFERENCE_SERVICE), interval=IDLE_CHECK_SECONDS, when=_scales_to_zero, registry=REGISTRY)
def isvc_idle_check(body: kopf.Body, memo: kopf.Memo, training_views: Any, trainer_specs: Any,
                    server_deployments: Any, server_pods: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    guarded("InferenceService", rt, lambda: sleep_or_wake(
        rt, body, training_views, trainer_specs, server_deployments, server_pods))


@kopf.on.update(*resource(INFERENCE_SERVICE), field=("metadata", "annotations", LAST_REQUEST_ANNOTATION),
                when=_scales_to_zero, registry=REGISTRY)
def isvc_woken(body: kopf.Body, memo: kopf.Memo, training_views: Any, trainer_specs: Any,
               server_deployments: Any, server_pods: Any, **_: Any) -> None:
    """A request reached the facade: a service at zero scales back up now, not at the next timer tick."""
    rt = runtime_of(memo)
    guarded("InferenceService", rt, lambda: sleep_or_wake(
        rt, body, training_views, trainer_specs, server_deployments, server_pods))
