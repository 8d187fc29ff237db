# mypy: disable-error-code="arg-type"
# (kopf's handler protocols do not admit a narrowed name: str.)
"""Which namespaces are projects, as an index the Training and InferenceService handlers read.

Every namespace, not only projects (the project handlers filter on the label): a namespace whose label
was removed must read as not a project. One boolean per namespace.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetune.crd import labels as lbl
from kubetune.operator.handlers.common import REGISTRY, one


@kopf.index("", "v1", "namespaces", registry=REGISTRY)
async def project_namespaces(name: str, labels: kopf.Labels, **_: Any) -> dict[str, bool]:
    return {name: lbl.PROJECT in labels}


def is_project(index: Any, namespace: str) -> bool | None:
    """The namespace's project label as last seen; None when the namespace was never seen."""
    found = one(index, namespace)
    return None if found is None else bool(found)
