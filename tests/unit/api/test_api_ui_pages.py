"""The dashboard and the API docs pages are served from the package: no script or stylesheet from another host."""

from __future__ import annotations

import re

from api_env import Env


def local_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_docs_and_redoc_load_only_packaged_assets(env: Env) -> None:
    for page in ("/docs", "/redoc"):
        resp = await env.client.get(page)
        assert resp.status_code == 200, page
        assets = local_assets(resp.text)
        assert assets, page
        assert all(a.startswith("/") and not a.startswith("//") for a in assets), (page, assets)
        assert "cdn.jsdelivr.net" not in resp.text and "fonts.googleapis" not in resp.text
        for asset in assets:
            got = await env.client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
    redirect = await env.client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200


async def test_ui_page_and_assets(env: Env) -> None:
    assert (await env.client.get("/ui")).headers["location"] == "/ui/"
    page = await env.client.get("/ui/")
    assert page.status_code == 200 and 'id="login"' in page.text
    assets = [a for a in local_assets(page.text) if a.startswith("/ui/")]
    assert len(assets) == 2  # app.css and app.js
    for asset in assets:
        got = await env.client.get(asset)
        assert got.status_code == 200, asset
    assert "/api/v1/auth/token" in (await env.client.get("/ui/static/app.js")).text
    assert (await env.client.get("/ui/static/nope.js")).status_code == 404


async def test_ui_and_docs_stay_out_of_the_openapi_document(env: Env) -> None:
    paths = (await env.client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/ui", "/docs", "/redoc"))]
