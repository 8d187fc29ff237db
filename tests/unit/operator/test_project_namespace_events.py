"""Which project Namespace events the project handlers (access, network, quota) act on."""

from __future__ import annotations

import pytest

from kubetune.operator.handlers.common import standing


@pytest.mark.parametrize("type, phase, acts", [
    (None, "Active", True),  # the listing after a (re)start
    ("ADDED", "Active", True),
    ("MODIFIED", None, True),
    ("MODIFIED", "Terminating", False),  # the API server refuses new objects there
    ("DELETED", "Active", False),
])
def test_handlers_act_on_standing_namespaces_only(type: str | None, phase: str | None, acts: bool) -> None:
    body = {"metadata": {"name": "kt-a"}, "status": {"phase": phase} if phase else {}}
    assert standing(type, body) is acts
