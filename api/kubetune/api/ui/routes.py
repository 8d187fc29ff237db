"""Routes for the dashboard and the docs pages; mounted by create_app through install()."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
UI_ASSETS = "/ui/static"
DOCS_ASSETS = "/ui/docs-assets"


def docs_assets() -> Path:
    """Swagger UI's and ReDoc's dist files, from the fastapi-offline wheel (MIT; the bundles it ships are
    swagger-ui-dist, Apache-2.0, and redoc, MIT): a pinned dependency rather than 2.8 MB copied into git."""
    return Path(str(resources.files("fastapi_offline") / "static"))


router = APIRouter(include_in_schema=False)


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/ui/")
async def ui_index() -> FileResponse:
    # The page itself holds no data: everything after login comes from the REST routes with the token.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Serve /ui, its assets, and /docs and /redoc over packaged assets (create_app turns FastAPI's CDN pages off)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)

    app.include_router(router)
    app.mount(UI_ASSETS, StaticFiles(directory=STATIC), name="ui-static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets()), name="docs-assets")
