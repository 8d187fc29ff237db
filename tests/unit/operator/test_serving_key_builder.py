"""The per-service key Secret and the facade key derived for it (kubetune.crd.serving_keys)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubetune.crd.inferenceservice import InferenceServiceSpec
from kubetune.crd.serving_keys import facade_key, new_client_key, secret_name
from kubetune.operator.builders.serving_key import build_serving_key_secret
from kubetune.operator.owner import Owner

pytestmark = pytest.mark.unit
ISVC = Owner(api_version="kubetune.io/v1alpha1", kind="InferenceService", name="chat", uid="u-9", namespace="team-a")


def test_the_secret_is_owned_named_for_the_service_and_holds_both_keys() -> None:
    secret = build_serving_key_secret(ISVC, "kts_own", "platform-key")
    assert secret["metadata"]["name"] == secret_name("chat") == "chat-serving-key"
    assert secret["metadata"]["namespace"] == "team-a"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-9"
    data = secret["stringData"]
    assert data["api-key"] == "kts_own"
    assert data["keys"].splitlines() == ["kts_own", facade_key("platform-key", "team-a", "chat", "u-9")]


def test_without_a_platform_key_only_the_services_own_key_is_accepted() -> None:
    assert build_serving_key_secret(ISVC, "kts_own", None)["stringData"]["keys"] == "kts_own\n"


def test_facade_keys_differ_per_service_namespace_incarnation_and_platform_key() -> None:
    base = facade_key("k", "team-a", "chat", "u-1")
    assert base.startswith("ktf_") and len(base) == 4 + 64
    assert base == facade_key("k", "team-a", "chat", "u-1")  # the operator and the facade agree
    others = {facade_key("k", "team-b", "chat", "u-1"), facade_key("k", "team-a", "chat2", "u-1"),
              facade_key("k", "team-a", "chat", "u-2"), facade_key("k2", "team-a", "chat", "u-1")}
    assert base not in others and len(others) == 4


def test_client_keys_are_random() -> None:
    keys = {new_client_key() for _ in range(50)}
    assert len(keys) == 50 and all(k.startswith("kts_") and len(k) > 40 for k in keys)


def test_auth_defaults_to_api_key_and_none_refuses_extra_keys() -> None:
    spec = InferenceServiceSpec.model_validate({"model": {"baseModel": "file:///m"}})
    assert spec.auth == "apiKey"
    assert InferenceServiceSpec.model_validate({"model": {"baseModel": "file:///m"}, "auth": "none"}).auth == "none"
    with pytest.raises(ValidationError, match="apiKeys needs auth apiKey"):
        InferenceServiceSpec.model_validate({"model": {"baseModel": "file:///m"}, "auth": "none",
                                             "apiKeys": {"name": "k"}})
    with pytest.raises(ValidationError):
        InferenceServiceSpec.model_validate({"model": {"baseModel": "file:///m"}, "auth": "basic"})
