"""What the admission-policy tests share: callers with chosen identities, and refusals read from a write.

A write is tried as a closure (usually a server-side dry run); `refusal` says whether the API server
refused it and how, `assert_refused` that a ValidatingAdmissionPolicy refused it with the given words.
Token clients for ServiceAccounts come from kubetune.localdev.facade_identity.service_account_client.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Event
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane

POLICY = "ValidatingAdmissionPolicy"
ENFORCED_WITHIN_SECONDS = 60


def impersonating(cp: ControlPlane, user: str, group: str) -> client.ApiClient:
    """The admin's client sending every request as user in group (the API server checks the admin may)."""
    api = client.ApiClient(client_configuration(cp.kubeconfig))
    api.set_default_header("Impersonate-User", user)
    api.set_default_header("Impersonate-Group", group)
    return api


def refusal(call: Callable[[], Any]) -> ApiException | None:
    try:
        call()
    except ApiException as exc:
        return exc
    return None


def assert_refused(call: Callable[[], Any], *messages: str) -> None:
    """Refused with 403 by an admission policy whose message holds every one of messages."""
    refused = refusal(call)
    assert refused is not None, "the write was allowed"
    assert refused.status == 403, refused.body
    body = refused.body or ""
    assert POLICY in body, body
    for message in messages:
        assert message in body, body


def until_enforced(probe: Callable[[], Any]) -> None:
    """The admission plugin loads policies through its own informer and shows no readiness: probe a
    write the policy must refuse (a dry run) until it is refused, within a bound."""
    pause = Event()
    for _ in range(ENFORCED_WITHIN_SECONDS * 5):
        refused = refusal(probe)
        if refused is not None and refused.status == 403 and "kubetune:" in (refused.body or ""):
            return
        pause.wait(0.2)
    raise TimeoutError("the admission policies were not enforced in time")
