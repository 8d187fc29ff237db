"""The pieces every part of the chart's values model shares: camelCase keys, no unknown keys, and the
names of Kubernetes types passed through as they are."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Quantity = str
K8sMap = dict[str, str]
# Pod-spec pieces passed through verbatim (their own schema is the API server's).
K8sObject = dict[str, Any]


class ValuesModel(BaseModel):
    """camelCase keys like every Helm chart, unknown keys forbidden."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
