"""Settings that refuse unsafe defaults, JWT and password helpers, the error mapping."""

from __future__ import annotations

import json

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from kubetune.api.cluster.base import api_exception
from kubetune.api.core import errors, security
from kubetune.api.core.config import Settings

pytestmark = pytest.mark.unit
STRONG = "x" * 40


def test_production_refuses_unsafe_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("KUBETUNE_API_ENVIRONMENT", "KUBETUNE_API_JWT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings()
    with pytest.raises(ValidationError, match="bootstrap_admin_password"):
        Settings(jwt_secret=SecretStr(STRONG), bootstrap_admin_password=SecretStr("admin123"))
    with pytest.raises(ValidationError, match="storage_root"):
        Settings(
            jwt_secret=SecretStr(STRONG),
            bootstrap_admin_password=SecretStr("a-long-password!"),
            storage_root="file:///tmp/x",
        )
    ok = Settings(jwt_secret=SecretStr(STRONG), bootstrap_admin_password=SecretStr("a-long-password!"))
    assert ok.serve_by_default is True


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETUNE_API_ENVIRONMENT", "development")
    monkeypatch.setenv("KUBETUNE_API_SERVE_BY_DEFAULT", "false")
    monkeypatch.setenv("KUBETUNE_API_PROJECT_NAMESPACE_PREFIX", "proj-")
    settings = Settings()
    assert settings.serve_by_default is False and settings.project_namespace_prefix == "proj-"
    assert settings.jwt_secret.get_secret_value()  # a development secret was filled in


def test_tokens_round_trip_and_fail_closed() -> None:
    token = security.issue_token("alice", STRONG, 60, user_id=7, generation=3)
    assert security.is_own_token(token)
    claims = security.verify_token(token, STRONG)
    assert (claims.subject, claims.user_id, claims.generation) == ("alice", 7, 3)
    with pytest.raises(security.InvalidTokenError, match="invalid"):
        security.verify_token(token, "y" * 40)
    with pytest.raises(security.InvalidTokenError, match="expired"):
        security.verify_token(security.issue_token("alice", STRONG, 60, now=1000, user_id=7, generation=3), STRONG)
    # a token from before generations existed (no uid/gen claims) is refused, not read as generation 0
    legacy = jwt.encode({"sub": "alice", "iat": 1, "exp": 2**40, "iss": security.KEY_ID}, STRONG,
                        algorithm=security.ALGORITHM, headers={"kid": security.KEY_ID})
    with pytest.raises(security.InvalidTokenError, match="invalid"):
        security.verify_token(legacy, STRONG)
    assert not security.is_own_token("not-a-jwt")


def test_password_hashes() -> None:
    hashed = security.hash_password("s3cret", rounds=4)
    assert security.verify_password("s3cret", hashed) and not security.verify_password("other", hashed)
    long = "p" * 100  # beyond bcrypt's 72 bytes: still checked in full
    assert not security.verify_password("p" * 99, security.hash_password(long, rounds=4))
    assert not security.verify_password("x", "not-a-hash")


@pytest.mark.parametrize(
    "status,expected", [(404, 404), (409, 409), (422, 422), (403, 403), (400, 400), (410, 409), (500, 502), (0, 502)]
)
def test_kube_statuses_map_once(status: int, expected: int) -> None:
    exc = api_exception(status, "X", json.dumps({"message": "from the server"}))
    mapped = errors.from_api_exception(exc)
    assert mapped.status == expected
    if expected != 502:
        assert mapped.message == "from the server"


@pytest.mark.parametrize(
    "path,family",
    [
        ("/api/v1/trainings/x", "sktai"),
        ("/api/v1/trainers", "sktai"),
        ("/api/finetune/jobs", "finetune"),
        ("/api/v1/projects", "platform"),
        ("/api/v1/training/submit", "platform"),
        ("/api/v1/services/s/trains", "aitems"),
        ("/api/v1/inference-services/a/infer", "inference"),
    ],
)
def test_family_bodies(path: str, family: str) -> None:
    assert errors.family_for_path(path) == family
    body = errors.error_body(errors.family_for_path(path), errors.ApiError(404, "gone"), path)
    model = errors.ERROR_MODELS[family]  # type: ignore[index]
    model.model_validate(body)
    assert "gone" in json.dumps(body)
