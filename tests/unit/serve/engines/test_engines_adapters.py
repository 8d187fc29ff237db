"""Adapters at run time on the transformers runtime: a real tiny Llama and LoRA, the adapters file changing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from serve_helpers import serve

from kubetune.serve.engines.adapters import AdapterWatcher, apply_adapters
from kubetune.serve.engines.loader import load_runtime
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


def _ids(reply: dict[str, object]) -> list[str]:
    return [m["id"] for m in reply["data"]]


async def _generate(client: object, model: str) -> tuple[int, str]:
    response = await client.post(  # type: ignore[attr-defined]
        "/v1/completions", json={"model": model, "prompt": "Kubernetes runs", "max_tokens": 6, "temperature": 0}
    )
    body = response.json()
    return response.status_code, body["choices"][0]["text"] if response.status_code == 200 else ""


async def test_an_adapter_added_and_removed_while_serving(tiny_lm: tuple[Path, Path], tmp_path: Path) -> None:
    base, adapter = tiny_lm
    adapters_file = tmp_path / "adapters.json"
    adapters_file.write_text("{}")
    settings = ServeSettings(
        model_uri=str(base),
        task="causal-lm",
        model_name="tiny",
        adapters_file=adapters_file,
        adapters_poll_seconds=3600,
        cache_enabled=True,
    )
    async with serve(settings, load_runtime) as (client, engine):
        watcher: AdapterWatcher = client._transport.app.state.adapter_watcher
        assert _ids((await client.get("/v1/models")).json()) == ["tiny"]
        status, plain = await _generate(client, "tiny")
        assert status == 200
        assert (await _generate(client, "late"))[0] == 404

        adapters_file.write_text(json.dumps({"late": str(adapter)}))
        change = await watcher.check_once(engine)
        assert change is not None and change.loaded == ["late"]
        assert _ids((await client.get("/v1/models")).json()) == ["tiny", "late"]
        status, adapted = await _generate(client, "late")
        assert status == 200 and adapted != plain  # the LoRA's random weights change the greedy text
        assert (await _generate(client, "tiny"))[1] == plain  # the base model is still callable by its name

        adapters_file.write_text("{}")
        change = await watcher.check_once(engine)
        assert change is not None and change.unloaded == ["late"]
        assert _ids((await client.get("/v1/models")).json()) == ["tiny"]
        assert (await _generate(client, "late"))[0] == 404
        assert (await _generate(client, "tiny"))[1] == plain
        assert engine.runtime is not None and list(engine.runtime.adapters) == []


async def test_a_bad_adapter_is_reported_and_the_others_load(tiny_lm: tuple[Path, Path], tmp_path: Path) -> None:
    base, adapter = tiny_lm
    adapters_file = tmp_path / "adapters.json"
    adapters_file.write_text(json.dumps({"good": str(adapter), "missing": str(tmp_path / "nowhere")}))
    settings = ServeSettings(
        model_uri=str(base),
        task="causal-lm",
        model_name="tiny",
        adapters_file=adapters_file,
        adapters_poll_seconds=3600,
    )
    async with serve(settings, load_runtime) as (client, engine):
        watcher: AdapterWatcher = client._transport.app.state.adapter_watcher
        # Loaded with the model, before the server was ready; the missing one is reported and retried.
        assert _ids((await client.get("/v1/models")).json()) == ["tiny", "good"]
        assert set(watcher.errors) == {"missing"}
        change = await watcher.check_once(engine)
        assert change is not None and not change and set(change.errors) == {"missing"}
        # A file that is not JSON leaves the served set as it is.
        adapters_file.write_text("not json")
        assert await watcher.check_once(engine) is None
        assert _ids((await client.get("/v1/models")).json()) == ["tiny", "good"]


def test_a_changed_uri_reloads_the_adapter(fake_runtime: object, tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    class Recording:
        adapters: list[str] = []

        def load_adapter(self, name: str, path: Path) -> None:
            calls.append(("load", f"{name}={path.name}"))
            self.adapters = [*self.adapters, name]

        def unload_adapter(self, name: str) -> None:
            calls.append(("unload", name))
            self.adapters = [a for a in self.adapters if a != name]

    runtime = Recording()
    current: dict[str, Path] = {}
    apply_adapters(runtime, current, {"a": tmp_path / "v1", "b": tmp_path / "b"})  # type: ignore[arg-type]
    change = apply_adapters(runtime, current, {"a": tmp_path / "v2", "b": tmp_path / "b"})  # type: ignore[arg-type]
    assert (change.unloaded, change.loaded) == (["a"], ["a"])
    assert calls == [("load", "a=v1"), ("load", "b=b"), ("unload", "a"), ("load", "a=v2")]
    assert current == {"a": tmp_path / "v2", "b": tmp_path / "b"}


async def test_a_default_adapter_that_cannot_load_fails_the_model_load(
    tiny_lm: tuple[Path, Path], tmp_path: Path
) -> None:
    """The served name means the default adapter: the server must not answer with the base model instead."""
    base, _ = tiny_lm
    adapters_file = tmp_path / "adapters.json"
    adapters_file.write_text(json.dumps({"trained": str(tmp_path / "nowhere")}))
    settings = ServeSettings(
        model_uri=str(base), task="causal-lm", model_name="tiny", adapters_file=adapters_file, default_adapter="trained"
    )
    async with serve(settings, load_runtime, wait_ready=False) as (client, engine):
        await asyncio.wait_for(asyncio.to_thread(engine.load_finished.wait), timeout=120)
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert engine.load_error is not None and "default adapter trained" in engine.load_error
