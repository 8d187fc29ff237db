"""Adapters at run time: load the adapters a running server is told to serve, unload the ones removed.

The wanted set is a JSON file {name: uri} (``adapters_file``; in a pod, the operator's ConfigMap, which the
kubelet refreshes in place), re-read every ``adapters_poll_seconds``. Changes run on the model thread, between
batches, so no forward pass sees an adapter half-loaded. A runtime that manages adapters itself (vLLM) has
``load_adapter``/``unload_adapter``; the torch runtimes get them here, through peft.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubetune.serve.engines.base import ModelRuntime
from kubetune.serve.settings import ServeSettings

if TYPE_CHECKING:
    from kubetune.serve.engine import InferenceEngine

log = logging.getLogger(__name__)


def load_adapter(runtime: ModelRuntime, name: str, path: Path) -> None:
    """Add adapter ``name`` to a running runtime (a peft model gains one more adapter)."""
    own = getattr(runtime, "load_adapter", None)
    if own is not None:
        own(name, path)
        return
    model: Any = runtime.model  # type: ignore[attr-defined]
    if hasattr(model, "peft_config"):
        model.load_adapter(str(path), adapter_name=name)
    else:
        from peft import PeftModel

        device = next(model.parameters()).device
        runtime.model = PeftModel.from_pretrained(model, str(path), adapter_name=name).to(device).eval()  # type: ignore[attr-defined]
    runtime.adapters = [*runtime.adapters, name]


def unload_adapter(runtime: ModelRuntime, name: str) -> None:
    own = getattr(runtime, "unload_adapter", None)
    if own is not None:
        own(name)
        return
    model: Any = runtime.model  # type: ignore[attr-defined]
    remaining = [a for a in runtime.adapters if a != name]
    if remaining:
        model.set_adapter(remaining[0])  # peft refuses to delete the active adapter
        model.delete_adapter(name)
    else:
        # The last one: back to the plain base model (a peft model without adapters cannot run).
        runtime.model = model.unload()  # type: ignore[attr-defined]
    runtime.adapters = remaining


@dataclass
class AdapterChange:
    loaded: list[str] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.loaded or self.unloaded)


def apply_adapters(runtime: ModelRuntime, current: dict[str, Path], wanted: dict[str, Path]) -> AdapterChange:
    """Make the runtime serve ``wanted``; ``current`` (name -> path loaded) is updated in place.

    An adapter whose path changed is unloaded and loaded again. One adapter failing to load is reported
    and skipped: the others still change, and the next poll tries it again.
    """
    change = AdapterChange()
    for name in [n for n in current if current[n] != wanted.get(n)]:
        unload_adapter(runtime, name)
        del current[name]
        change.unloaded.append(name)
    for name, path in wanted.items():
        if name in current:
            continue
        try:
            load_adapter(runtime, name, path)
        except Exception as error:  # a bad adapter must not take the served ones down with it
            log.warning("adapter %s from %s failed to load: %s", name, path, error)
            change.errors[name] = f"{type(error).__name__}: {error}"
            continue
        current[name] = path
        change.loaded.append(name)
    return change


def read_adapters_file(path: Path) -> dict[str, str] | None:
    """The {name: uri} map in ``path``; None when it is missing or not such a map (the last good one stays)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        log.warning("cannot read the adapters file %s: %s", path, error)
        return None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        log.warning("the adapters file %s is not a {name: uri} object", path)
        return None
    return data


class AdapterWatcher:
    """Polls the adapters file and applies its changes to the engine's runtime."""

    def __init__(self, path: Path, poll_s: float) -> None:
        self.path = path
        self.poll_s = poll_s
        self.current: dict[str, Path] = {}  # name -> path of what is loaded
        self.last_uris: dict[str, str] | None = None
        self.errors: dict[str, str] = {}  # adapters that failed to load, and why (retried each poll)
        self._lock = asyncio.Lock()  # one check at a time (the poll loop and anyone asking for one now)

    def wrap(self, loader: Callable[[ServeSettings], ModelRuntime]) -> Callable[[ServeSettings], ModelRuntime]:
        """A loader that also loads the file's adapters (on the model thread, before the server is ready)."""

        def load(settings: ServeSettings) -> ModelRuntime:
            from kubetune.serve.engines.loader import resolve_uri

            runtime = loader(settings)
            self.current = {n: resolve_uri(u, settings) for n, u in settings.adapters.items() if n in runtime.adapters}
            uris = read_adapters_file(self.path)
            if uris is not None:
                change = self._apply(runtime, settings, uris)
                default = settings.default_adapter
                if default and default in change.errors:
                    # The served name means this adapter: without it the server must not answer as if it had it.
                    from kubetune.serve.engines.loader import ModelLoadError

                    raise ModelLoadError(f"the default adapter {default} did not load: {change.errors[default]}")
            return runtime

        return load

    async def run(self, engine: InferenceEngine) -> None:
        await engine.ready.wait()
        while True:
            await self.check_once(engine)
            await asyncio.sleep(self.poll_s)

    async def check_once(self, engine: InferenceEngine) -> AdapterChange | None:
        """Apply the file if it changed (or an adapter failed last time); None when there was nothing to do."""
        async with self._lock:
            uris = read_adapters_file(self.path)
            runtime = engine.runtime
            if runtime is None or uris is None or (uris == self.last_uris and not self.errors):
                return None
            loop = asyncio.get_running_loop()
            change = await loop.run_in_executor(engine.executor, self._apply, runtime, engine.settings, uris)
            if change:
                engine.cache.clear()
            return change

    def _apply(self, runtime: ModelRuntime, settings: ServeSettings, uris: dict[str, str]) -> AdapterChange:
        """On the model thread: resolve the uris and load/unload what changed."""
        from kubetune.serve.engines.loader import ModelLoadError, resolve_uri

        wanted: dict[str, Path] = {}
        failed: dict[str, str] = {}
        for name, uri in uris.items():
            try:
                wanted[name] = resolve_uri(uri, settings)
            except ModelLoadError as error:
                failed[name] = str(error)
                if name in self.current:  # keeps its loaded version until the uri resolves again
                    wanted[name] = self.current[name]
        change = apply_adapters(runtime, self.current, wanted)
        change.errors.update(failed)
        self.last_uris = uris
        self.errors = change.errors
        if change or change.errors:
            log.info(
                "adapters changed",
                extra={
                    "details": {
                        "loaded": change.loaded,
                        "unloaded": change.unloaded,
                        "failed": change.errors,
                        "serving": list(runtime.adapters),
                    }
                },
            )
        return change
