"""The demo: from an uploaded dataset to a served, answering fine-tuned model, through REST alone.

`kubetune dev demo` (the README's `make demo`) starts the embedded platform, then, as a REST
client: logs in, registers a CPU LoRA Trainer for a tiny Llama-style model built here, creates
a project, uploads a chat dataset, submits a fine-tune, follows it on the SSE stream with a
progress bar, waits for the InferenceService the platform creates from the Training, calls
/infer and generate, draws the loss curve to a PNG and says where everything is.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kubetune.localdev.platform import LocalPlatform

ROWS = 48
STEPS = 40


def _rows() -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                          {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(ROWS)]


def _check(resp: httpx.Response, expected: int = 200) -> Any:
    if resp.status_code != expected:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text}")
    return resp.json() if resp.content else None


def _bar(percent: float, width: int = 30) -> str:
    filled = int(width * min(max(percent, 0.0), 100.0) / 100)
    return "[" + "#" * filled + "." * (width - filled) + f"] {percent:5.1f}%"


def follow_training(http: httpx.Client, uid: str, timeout: float = 1800) -> str:
    """Draw the progress bar from the SSE stream's `progress` frames until its `end` frame; returns the phase."""
    deadline = time.monotonic() + timeout
    phase, event = "Pending", ""
    with http.stream("GET", f"/api/v1/trainings/{uid}/events/stream", timeout=httpx.Timeout(60, read=120)) as sse:
        for line in sse.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError("the training did not finish in time")
            if line.startswith("event: "):
                event = line[len("event: "):]
                continue
            if not line.startswith("data: "):
                continue
            frame = json.loads(line[len("data: "):])
            if event == "status":
                phase = frame["reason"]
            elif event == "progress":
                phase = frame["phase"]
                loss = frame["loss"]
                loss_text = f" loss {loss:.3f}" if isinstance(loss, float) else ""
                eta = frame["eta_seconds"]
                eta_text = f" eta {eta:.0f}s" if isinstance(eta, float) else ""
                print(f"\r  {phase:<10} {_bar(frame['percent'])} step {frame['step']}/{frame['total_steps']}"
                      f"{loss_text}{eta_text}   ", end="", flush=True)
            elif event == "end":
                phase = frame["phase"]
                break
    print()
    return phase


def wait_for_model(http: httpx.Client, project_key: str, timeout: float = 900) -> str:
    """The id of the project's ready inference model (polled: the demo is a plain REST client)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for model in _check(http.get("/api/v1/inference/models"))["models"]:
            if model["id"].startswith(f"{project_key}/") and model["status"] == "ready":
                return str(model["id"])
        time.sleep(2)
    raise TimeoutError("no inference model became ready")


def draw_loss_curve(points: list[dict[str, Any]], path: Path) -> None:
    """A small line chart with Pillow (no plotting library in the runtime)."""
    from PIL import Image, ImageDraw

    data = [(p["step"], p["loss"]) for p in points if p.get("loss") is not None]
    width, height, margin = 640, 360, 48
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([margin, margin // 2, width - margin // 2, height - margin], outline="black")
    if len(data) >= 2:
        steps = [s for s, _ in data]
        losses = [v for _, v in data]
        lo, hi = min(losses), max(losses)
        span = (hi - lo) or 1.0
        x0, x1 = margin, width - margin // 2
        y0, y1 = margin // 2, height - margin

        def xy(step: float, loss: float) -> tuple[float, float]:
            x = x0 + (step - steps[0]) / ((steps[-1] - steps[0]) or 1) * (x1 - x0)
            return x, y1 - (loss - lo) / span * (y1 - y0)

        draw.line([xy(s, v) for s, v in data], fill=(200, 40, 40), width=2)
        draw.text((x0, y1 + 8), f"step {steps[0]}", fill="black")
        draw.text((x1 - 60, y1 + 8), f"step {steps[-1]}", fill="black")
        draw.text((4, y0), f"{hi:.2f}", fill="black")
        draw.text((4, y1 - 10), f"{lo:.2f}", fill="black")
    draw.text((margin, 4), "training loss", fill="black")
    image.save(path)


def local_trainer(model_dir: Path) -> dict[str, Any]:
    """A CPU LoRA Trainer whose pods run this environment's trainer on the tiny model built at model_dir."""
    return {
        "name": "lora-cpu", "display_name": "LoRA (CPU, local)", "image": "kubetune/runtime:local",
        "command": [sys.executable, "-m", "kubetune.train.cli"], "tasks": ["causal-lm"], "methods": ["lora"],
        "models": [{"id": "tiny-llama", "name": "Tiny Llama (built locally)", "uri": f"file://{model_dir}",
                    "size": "1M"}],
        "resources": {"gpus": 0}}


def run_flow(platform: LocalPlatform, out_dir: Path) -> dict[str, Any]:
    """The REST journey on the embedded platform; returns what it saw (the e2e test asserts on it)."""
    from kubetune.testing.tiny import make_tiny_causal_lm

    model_dir = platform.artifacts / "models" / "tiny-llama"
    make_tiny_causal_lm(model_dir)
    return rest_flow(platform.api_url, platform.admin_token(), out_dir, trainer=local_trainer(model_dir))


def rest_flow(api_url: str, token: str, out_dir: Path, trainer: dict[str, Any] | None = None,
              template_id: str = "lora-cpu", model_id: str = "tiny-llama",
              on_project: Callable[[dict[str, Any]], None] | None = None,
              hyperparameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The REST journey against any kubetune API: registers `trainer` when given, then creates a
    project (`on_project` sees it first), uploads, fine-tunes `model_id` with Trainer `template_id`
    (`hyperparameters` added to the demo's), follows, waits for the served model and calls it.
    Returns what it saw."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=120) as http:
        if trainer is not None:
            _check(http.post("/api/v1/trainers", json=trainer), 201)
        project = _check(http.post("/api/v1/projects", json={"name": "demo", "description": "kubetune demo"}), 201)
        print(f"project {project['name']} (id {project['id']}, namespace {project['namespace']})")
        if on_project is not None:
            on_project(project)
        body = "".join(json.dumps(r) + "\n" for r in _rows()).encode()
        _check(http.post(f"/api/finetune/upload-dataset?project_id={project['id']}",
                         files={"file": ("arithmetic-chat.jsonl", body)}), 201)
        dataset = _check(http.get(f"/api/v1/datasets?project_id={project['id']}"))["datasets"][0]
        rows = f"{dataset['row_count']} rows" if dataset.get("row_count") is not None else "rows not counted yet"
        print(f"dataset {dataset['name']} uploaded: {rows}, status {dataset['status']}")
        submitted = _check(http.post("/api/v1/training/submit", json={
            "model_id": model_id, "dataset_id": dataset["id"], "template_id": template_id,
            "project_id": project["id"], "experiment_name": "demo-lora",
            "hyperparameters": {"max_steps": STEPS, "learning_rate": 3e-3, "lora_rank": 8, "batch_size": 4,
                                "logging_steps": 1, **(hyperparameters or {})}}), 201)
        trainings = _check(http.get("/api/v1/trainings", params={"size": 100}))["data"]
        training = next(t for t in trainings if t["numeric_id"] == submitted["id"])
        print(f"training {training['resource_name']} submitted (id {training['id']})")
        phase = follow_training(http, training["id"])
        if phase != "Succeeded":
            status = _check(http.get(f"/api/v1/trainings/{training['id']}/status"))
            raise RuntimeError(f"training ended {phase}: {status['message']}")
        curve = _check(http.get("/api/v1/metrics/loss", params={"experiment_id": submitted["id"]}))
        png = out_dir / "loss-curve.png"
        draw_loss_curve(curve["data"], png)
        print(f"loss {curve['metrics']['initial_loss']:.3f} -> {curve['metrics']['final_loss']:.3f}; curve: {png}")

        model_id = wait_for_model(http, project["key"])
        isvc = model_id.split("/", 1)[1]
        print(f"inference service {isvc} is ready")
        infer = _check(http.post(f"/api/v1/inference-services/{project['key']}.{isvc}/infer",
                                 json={"text": "What is 3 plus 3?"}))
        print(f"/infer -> score {infer['score']:.3f}, confidence {infer['confidence']:.3f}")
        answer = _check(http.post("/api/v1/inference/generate", json={
            "model_id": model_id, "prompt": "What is 3 plus 3?", "max_tokens": 12, "temperature": 0}))
        print(f"generate -> {answer['output']!r} ({answer['latency_ms']:.0f} ms)")
        return {"project": project, "training": training, "curve": curve, "model_id": model_id,
                "infer": infer, "generate": answer, "png": str(png)}


def main(out_dir: Path) -> int:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with LocalPlatform.start(out_dir) as platform:
        print(f"API:        {platform.api_url}  (admin / {platform.admin_password})")
        print(f"kubeconfig: {platform.control_plane.kubeconfig}")
        run_flow(platform, out_dir)
        print(f"artifacts:  {platform.artifacts}")
        print(f"node logs:  {out_dir / 'node'}")
        print(f"demo took {time.monotonic() - started:.0f} s; stopping the platform")
    return 0
