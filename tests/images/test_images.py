"""Each image, started with `docker run`, answers on its entrypoint; all run as non-root, without build tools.

The api runs against the real local control plane (host network, listening on 127.0.0.1 only); the runtime
serves a tiny model written by the test, published on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from docker_harness import Docker, free_port, wait_http
from kubernetes import client

from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.crds import install_crds

ALL = ("operator", "api", "runtime")
BUILD_TOOLS = ("gcc", "cc", "c++", "make", "pip", "pip3")


def sh(docker: Docker, image: str, script: str) -> str:
    return docker.run("run", "--rm", "--entrypoint", "sh", image, "-c", script).stdout


@pytest.mark.parametrize("name", ALL)
def test_runs_as_non_root(docker: Docker, images: dict[str, str], name: str) -> None:
    uid, gid = sh(docker, images[name], "id -u; id -g").split()
    assert (uid, gid) == ("10001", "10001")


@pytest.mark.parametrize("name", ALL)
def test_no_build_tools_or_installers(docker: Docker, images: dict[str, str], name: str) -> None:
    found = sh(docker, images[name], " ".join(f"command -v {t};" for t in BUILD_TOOLS) + " true").split()
    assert found == []
    assert "No module named pip" in docker.run(
        "run", "--rm", images[name], "python3", "-m", "pip", "--version", check=False).stderr


@pytest.mark.parametrize("name", ["operator", "api"])
def test_operator_and_api_have_no_torch(docker: Docker, images: dict[str, str], name: str) -> None:
    script = "import importlib.util as u; print(sorted(m for m in ('torch', 'transformers') if u.find_spec(m)))"
    assert docker.run("run", "--rm", images[name], "python3", "-c", script).stdout.strip() == "[]"


def test_operator_help(docker: Docker, images: dict[str, str]) -> None:
    out = docker.run("run", "--rm", "--read-only", images["operator"], "kubetune-operator", "--help").stdout
    assert "usage: kubetune-operator" in out


def test_runtime_train_help(docker: Docker, images: dict[str, str]) -> None:
    out = docker.run("run", "--rm", images["runtime"], "kubetune-train", "--help").stdout
    assert "--config" in out and "usage:" in out


def test_runtime_cpu_torch_trains_without_gpu_only_wheels(docker: Docker, images: dict[str, str]) -> None:
    script = """
import importlib.metadata as md, json, torch
names = sorted(d.metadata["Name"].lower() for d in md.distributions())
m = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(m.parameters(), lr=0.1)
x, y = torch.randn(64, 8), torch.randn(64, 1)
losses = []
for _ in range(20):
    loss = torch.nn.functional.mse_loss(m(x), y)
    opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
print(json.dumps({"cuda": torch.cuda.is_available(), "names": names, "first": losses[0], "last": losses[-1]}))
"""
    result = json.loads(docker.run("run", "--rm", images["runtime"], "python3", "-c", script).stdout)
    assert result["cuda"] is False
    # What only a GPU loads is left out (hack/images/pydeps.py CPU_DROP); the CUDA libraries torch links stay.
    gpu_only = {"triton", "nvidia-cusolver", "nvidia-cuda-nvrtc", "nvidia-nvtx", "cuda-bindings"}
    assert gpu_only.isdisjoint(result["names"])
    assert {"nvidia-cublas", "nvidia-cudnn-cu13", "nvidia-cuda-runtime"} <= set(result["names"])
    assert "torch" in result["names"] and "peft" in result["names"]
    assert result["last"] < result["first"]


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    with ControlPlane.start() as cp:
        with client.ApiClient(client_configuration(cp.kubeconfig)) as api:
            install_crds(api)
            client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="kubetune-system")))
        yield cp


def container_kubeconfig(cp: ControlPlane, path: Path) -> Path:
    """The admin kubeconfig with its CA inline, readable by the container's uid (mounted as one file)."""
    cfg = yaml.safe_load(cp.kubeconfig.read_text())
    cluster = cfg["clusters"][0]["cluster"]
    ca = Path(cluster.pop("certificate-authority")).read_bytes()
    cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o644)
    return path


def test_api_answers_healthz_and_logs_in_on_the_control_plane(
    docker: Docker, images: dict[str, str], control_plane: ControlPlane, tmp_path: Path
) -> None:
    kubeconfig = container_kubeconfig(control_plane, tmp_path / "kubeconfig")
    port = free_port()
    password = secrets.token_urlsafe(18)
    env = {"KUBETUNE_API_JWT_SECRET": secrets.token_urlsafe(48), "KUBETUNE_API_BOOTSTRAP_ADMIN_PASSWORD": password}
    # Host network: the control plane listens on loopback only; the api binds 127.0.0.1 too. Read-only root,
    # a tmpfs on /tmp, as the chart runs it; production settings (secrets from the environment).
    with docker.container(
        "--network", "host", "--read-only", "--tmpfs", "/tmp", "-e", "KUBETUNE_API_JWT_SECRET",
        "-e", "KUBETUNE_API_BOOTSTRAP_ADMIN_PASSWORD", "-v", f"{kubeconfig}:/etc/kubetune/kubeconfig:ro",
        images["api"], "kubetune-api", "--host", "127.0.0.1", "--port", str(port),
        "--kubeconfig", "/etc/kubetune/kubeconfig", env=env,
    ) as name:
        status, body = wait_http(f"http://127.0.0.1:{port}/healthz", container=(docker, name))
        assert status == 200 and json.loads(body)["status"] == "ok"
        # The bootstrap admin lives in a Secret on the control plane: logging in proves the image's api talks to it.
        form = urllib.parse.urlencode({"username": "admin", "password": password}).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/auth/token", data=form, timeout=30) as resp:
            assert resp.status == 200 and json.loads(resp.read())["access_token"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM, readable by the containers' uid (mounted read-only)."""
    from kubetune.testing.tiny import make_tiny_causal_lm

    model = make_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny")
    for p in [model, *model.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return model


def test_runtime_serves_a_tiny_model(docker: Docker, images: dict[str, str], tiny_model: Path) -> None:
    with docker.container(
        "-p", "127.0.0.1::8000", "-v", f"{tiny_model}:/models/tiny:ro", images["runtime"],
        "kubetune-serve", "--model-uri", "file:///models/tiny", "--task", "causal-lm", "--device", "cpu",
        "--host", "0.0.0.0", "--port", "8000",
    ) as name:
        port = docker.published_port(name, 8000)
        status, body = wait_http(f"http://127.0.0.1:{port}/healthz", container=(docker, name))
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, _ = wait_http(f"http://127.0.0.1:{port}/readyz", container=(docker, name))
        assert status == 200
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/generate", data=json.dumps({"prompt": "hello", "max_tokens": 4}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        assert out["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_runtime_trains_an_adapter_on_the_cpu(
    docker: Docker, images: dict[str, str], tiny_model: Path, tmp_path: Path, method: str
) -> None:
    from kubetune.testing.chat_data import memorisable_chat_jsonl

    data = tmp_path / "train.jsonl"
    data.write_text(memorisable_chat_jsonl())
    data.chmod(0o644)
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)  # written by uid 10001
    result = docker.run(
        "run", "--rm", "-v", f"{tiny_model}:/models/tiny:ro", "-v", f"{data}:/data/train.jsonl:ro",
        "-v", f"{out}:/out", images["runtime"],
        "kubetune-train", "--base-model", "file:///models/tiny", "--dataset", "/data/train.jsonl",
        "--format", "openai_chat_jsonl", "--output", "file:///out", "--method", method, "--no-report",
        "--set", "hyperparameters.maxSteps=3", "--set", "hyperparameters.batchSize=4",
    )
    # kubectl logs of a trainer pod shows this progress.
    assert "step 3/3" in result.stdout + result.stderr
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (out / "adapter" / "adapter_model.safetensors").stat().st_size > 0
