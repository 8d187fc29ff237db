"""The facade's app factory and the `kubetune-api` entrypoint.

    kubetune-api --host 0.0.0.0 --port 8080            # in-cluster or with $KUBECONFIG
    KUBETUNE_API_ENVIRONMENT=development kubetune-api   # local, built-in dev secrets
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from kubetune.api import id_assigner
from kubetune.api.auth.login_gate import LoginGate
from kubetune.api.cluster import Cluster
from kubetune.api.context import AppContext
from kubetune.api.core import errors
from kubetune.api.core.body_limit import BodyLimitMiddleware
from kubetune.api.core.chosen_project import ChosenProjectHeader
from kubetune.api.core.config import Settings
from kubetune.api.core.metrics import ApiMetrics, MetricsMiddleware
from kubetune.api.routes import admin, admin_quota, aitems, finetune, health, inference_proxy, sktai
from kubetune.api.routes.openai import router as openai_router
from kubetune.api.routes.platform import router as platform_router
from kubetune.api.routes.serving import router as serving_router
from kubetune.api.storage.multipart import ENVELOPE_BYTES
from kubetune.api.ui import install as install_ui

log = logging.getLogger(__name__)

TAGS = [
    {"name": "sktai", "description": "Seed 000: SKTAI fine-tuning API (trainings, trainers, metrics, events)."},
    {"name": "finetune", "description": "Seed 001: fine-tune API (providers, datasets, jobs, splits)."},
    {"name": "platform", "description": "Seed 003: AI Platform API (auth, projects, tasks, training, inference)."},
    {"name": "aitems", "description": "Seed 004: AiTEMS train list."},
    {"name": "inference", "description": "Seed 002: pass-through to InferenceService servers."},
    {"name": "openai", "description": "The OpenAI fine-tuning API (files, fine_tuning.jobs) and a model gateway "
                                        "(models, chat/completions, completions); docs/openai.md."},
    {"name": "admin", "description": "Users and API keys (administrators only; seed 003's error shape)."},
    {"name": "health", "description": "Probes."},
]


def create_app(settings: Settings, cluster: Cluster, *, start_cache: bool = True) -> FastAPI:
    """The app over one cluster. With start_cache the lifespan runs the informers and waits for sync."""
    ctx = AppContext.build(settings, cluster)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_cache:
            await ctx.cache.start()
            await ctx.cache.wait_synced()
            await ctx.users.ensure_bootstrap_admin()
            # The synced cache is a large, long-lived object graph: keep the cyclic GC from walking
            # it on every full collection (those pauses were the list latency's p99).
            gc.freeze()
            assigner = asyncio.create_task(id_assigner.run(ctx.cluster, ctx.cache, ctx.ids), name="id-assigner")
        try:
            yield
        finally:
            if start_cache:
                assigner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await assigner
            await ctx.cache.stop()
            await ctx.http.aclose()

    # docs_url/redoc_url off: FastAPI's own pages load their scripts from a CDN; ui.install serves packaged ones.
    app = FastAPI(title="kubetune API", version=settings.version, openapi_tags=TAGS, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="REST facade over kubetune's custom resources: seeds 000, 001, 003 and 004, "
                              "plus pass-through to inference servers (seed 002).")
    app.state.ctx = ctx
    errors.install(app)
    # Before routing, parsing and authentication: an oversized body is refused unread.
    app.add_middleware(BodyLimitMiddleware, default=settings.max_request_bytes, prefixes=[
        ("/api/finetune/upload-dataset", settings.max_upload_bytes + ENVELOPE_BYTES),
        ("/v1/files", settings.max_upload_bytes + ENVELOPE_BYTES),
        (inference_proxy.router.prefix + "/", settings.max_proxy_request_bytes),
    ])
    # A login the route would refuse (address throttled, bcrypt pool full) is answered from its head.
    app.add_middleware(LoginGate, logins=ctx.users.logins)
    app.add_middleware(ChosenProjectHeader)
    # Outermost: every request is counted, refusals by the middlewares above included.
    app.state.metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(health.router)
    app.include_router(sktai.router)
    app.include_router(finetune.router)
    app.include_router(platform_router)
    app.include_router(aitems.router)
    app.include_router(inference_proxy.router)
    app.include_router(serving_router)
    app.include_router(admin.router)
    app.include_router(admin_quota.router)
    app.include_router(openai_router)
    install_ui(app)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kubetune-api", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server in a pod listens on all interfaces
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    import uvicorn

    from kubetune.api.cluster.kube import KubeCluster, load_api_client

    settings = Settings()
    app = create_app(settings, KubeCluster(load_api_client(args.kubeconfig)))
    if settings.metrics_port:
        app.state.metrics.serve(settings.metrics_port, args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
