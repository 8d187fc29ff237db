"""An autoscaled InferenceService follows KEDA's arrival or removal.

The create/update handler renders the autoscaler (an HPA, or a KEDA ScaledObject where KEDA's CRD exists),
but nothing about a service changes when KEDA is installed or removed later. This timer renders it again
once a minute, which moves a running service from its HPA to a ScaledObject (or back) within about two
minutes of the change (KEDA's presence is itself looked up at most once a minute). Rendering is idempotent:
a create that finds the object patches it to the same spec.
"""

from __future__ import annotations

from typing import Any

import kopf
from pydantic import ValidationError

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.kinds import INFERENCE_SERVICE
from kubetune.operator.autoscaler import KEDA_CHECK_SECONDS, apply_autoscaler
from kubetune.operator.handlers.common import REGISTRY, guarded, one, resource, runtime_of
from kubetune.operator.handlers.inferenceservice import isvc_owner, isvc_view_of


def _autoscaled(spec: kopf.Spec, **_: Any) -> bool:
    return bool(spec.get("autoscaling"))


def follow_keda(rt: Any, body: kopf.Body, server_deployments: Any) -> str | None:
    """The autoscaler kind rendered now; None when the service has no server yet or an invalid spec."""
    view = isvc_view_of(body)
    if body.get("metadata", {}).get("deletionTimestamp"):
        return None
    deployment = one(server_deployments, (view["namespace"], view["name"]))
    if deployment is None:
        return None  # not served yet: the create/update handler renders the first one
    try:
        spec = InferenceServiceSpec.model_validate(view["spec"])
    except ValidationError:
        return None  # the spec handler reports it
    with rt.locks.hold(("isvc", view["namespace"], view["name"])):  # never beside a reconcile of it
        return apply_autoscaler(rt.kube, isvc_owner(view), spec, asleep=deployment["replicas"] == 0,
                                settings=rt.settings)


@kopf.timer(*resource(INFERENCE_SERVICE), interval=KEDA_CHECK_SECONDS,
            when=_autoscaled, registry=REGISTRY)
def isvc_autoscaler_check(body: kopf.Body, memo: kopf.Memo, server_deployments: Any = None, **_: Any) -> None:
    # kopf passes every index by name; the default only satisfies kopf's TimerFn type.
    rt = runtime_of(memo)
    guarded("InferenceService", rt, lambda: follow_keda(rt, body, server_deployments))
