"""Service-account tokens on the real control plane: only those minted for the facade's audience count.

A pod's default token is requested by the kubelet with the API server's audience; a CI job asks for
one with `kubectl create token <sa> --audience kubetune`. Both are TokenRequests here, exactly what
the kubelet and kubectl send.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from api_facade import Facade, facade
from kubernetes import client


@pytest_asyncio.fixture(loop_scope="function")
async def api(api_client: client.ApiClient, tmp_path: Path) -> AsyncIterator[Facade]:
    async with facade(api_client, tmp_path / "store") as f:
        yield f


def _token(api_client: client.ApiClient, namespace: str, sa: str, audiences: list[str] | None) -> str:
    core = client.CoreV1Api(api_client)
    spec = client.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=600)
    made = core.create_namespaced_service_account_token(sa, namespace, client.AuthenticationV1TokenRequest(spec=spec))
    return str(made.status.token)


async def test_token_for_the_kubetune_audience_is_accepted_as_its_service_account(
    api: Facade, api_client: client.ApiClient, namespace: str,
) -> None:
    token = _token(api_client, namespace, "default", ["kubetune"])
    me = await api.client.get("/api/v1/auth/me", headers=api.auth(token))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["username"] == f"system:serviceaccount:{namespace}:default" and body["is_admin"] is False


async def test_a_pods_default_token_and_other_audiences_are_refused(
    api: Facade, api_client: client.ApiClient, namespace: str,
) -> None:
    default_audience = _token(api_client, namespace, "default", None)  # what the kubelet mounts in a pod
    other_audience = _token(api_client, namespace, "default", ["vault"])
    for token in (default_audience, other_audience):
        resp = await api.client.get("/api/v1/auth/me", headers=api.auth(token))
        assert resp.status_code == 401, resp.text
        assert resp.json() == {"detail": "Could not validate credentials"}
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        listing = await api.client.get("/api/v1/projects", headers=api.auth(token))
        assert listing.status_code == 401
    # the same service account with the right audience is fine: the refusal was about the audience
    right = _token(api_client, namespace, "default", ["kubetune"])
    ok = await api.client.get("/api/v1/auth/me", headers=api.auth(right))
    assert ok.status_code == 200
