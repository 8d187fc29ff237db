"""The operator in a background thread of this process: for integration tests and benchmarks.

    with OperatorThread(settings) as op:
        ...  # create objects; op.runtime.metrics has the counters
"""

from __future__ import annotations

import asyncio
import threading
import types

import kopf

from kubetune.operator.main import make_runtime, operator_kwargs
from kubetune.operator.runtime import Runtime
from kubetune.operator.settings import Settings


class OperatorThread:
    """Start on enter (returns once kopf is ready), stop on exit; errors in kopf surface on exit."""

    def __init__(self, settings: Settings, ready_timeout: float = 60) -> None:
        self.settings = settings
        self.runtime: Runtime = make_runtime(settings)
        self.ready_timeout = ready_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None  # an asyncio.Event: see main.serve
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="kubetune-operator", daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await kopf.operator(stop_flag=self._stop, ready_flag=self._ready, **operator_kwargs(self.runtime))

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test on exit
            self._error = exc
            self._ready.set()

    def __enter__(self) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(self.ready_timeout):
            raise TimeoutError("the operator did not become ready")
        if self._error is not None:
            raise RuntimeError("the operator failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        if self._thread.is_alive():
            raise RuntimeError("the operator did not stop")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> None:
        self.stop()
        self.runtime.kube.api.close()
        if self._error is not None and exc is None:
            raise RuntimeError("the operator crashed") from self._error
