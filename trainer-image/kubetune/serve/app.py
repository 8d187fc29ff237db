"""The application factory: settings + a model loader -> a FastAPI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from kubetune.serve.access_log import AccessLogMiddleware
from kubetune.serve.auth import ApiKeyFile
from kubetune.serve.deps import require_api_key
from kubetune.serve.engine import InferenceEngine, Loader, running
from kubetune.serve.engines.adapters import AdapterWatcher
from kubetune.serve.errors import install_error_handlers
from kubetune.serve.routes import embeddings, generate, health, infer, metrics, openai, stream
from kubetune.serve.settings import ServeSettings

DESCRIPTION = (
    "Inference API of one kubetune InferenceService (seed 002), seed 003's generate call and "
    "OpenAI-compatible routes. Authenticate with `Authorization: Bearer <key>`; /healthz and /readyz are open."
)


def create_app(settings: ServeSettings, loader: Loader | None = None) -> FastAPI:
    """Build the app; the model starts loading when the app starts (its lifespan), in the background."""
    if loader is None:
        from kubetune.serve.engines.loader import load_runtime

        loader = load_runtime
    # Adapters added to (or removed from) the service while it runs: loaded without a restart. The file's
    # set is loaded with the model, before the server says it is ready.
    watcher = AdapterWatcher(settings.adapters_file, settings.adapters_poll_seconds) if settings.adapters_file else None
    engine = InferenceEngine(settings, watcher.wrap(loader) if watcher else loader)
    if settings.engine == "vllm":
        # vLLM batches continuously on its own: batches and streams go to it at once, not one after another
        # on a single model thread (which held (b)/(a) of bench_vllm.py at 0.74).
        engine.executor = ThreadPoolExecutor(
            max_workers=settings.max_concurrent + 2, thread_name_prefix="kubetune-vllm"
        )
        engine.batcher.use_executor(engine.executor, max_in_flight=settings.max_concurrent)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(engine):
            task = asyncio.get_running_loop().create_task(watcher.run(engine), name="adapters") if watcher else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        close = getattr(engine.runtime, "close", None)  # a vLLM started by this server stops with it
        if close is not None:
            close()

    app = FastAPI(title="kubetune-serve", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.engine = engine
    app.state.adapter_watcher = watcher
    app.state.api_keys = ApiKeyFile(settings.api_key_file) if settings.api_key_file else None
    install_error_handlers(app)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(metrics.router, dependencies=protected if settings.metrics_require_auth else [])
    for router in (infer.router, stream.router, generate.router, openai.router, embeddings.router):
        app.include_router(router, dependencies=protected)
    app.add_middleware(AccessLogMiddleware, metrics=engine.metrics, model_version=settings.model_version)
    return app
