"""The demo: from an uploaded dataset to a served, answering fine-tuned model, through REST alone.

`kubetune dev demo` (the README's `make demo`) starts the embedded platform, then, as a REST
client: logs in, registers a CPU Trainer for a tiny Llama-style model built here, creates a
project, uploads a chat dataset (sums, "What is 3 plus 3?" -> "3 plus 3 is 6."), serves the base
model and asks it a question from the data (its answer is noise: the weights are random), submits
a full fine-tune, follows it on the SSE stream with a progress bar, waits for the InferenceService
the platform creates from the Training, asks the same question (now answered right), calls /infer
and generate, draws the loss curve to a PNG and says where everything is.

Why a full fine-tune of a random model: LoRA on random weights barely moves its loss in a minute
of CPU, while the full model memorises the 48 sums in 200 steps (about 40 s on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kubetune.localdev.platform import LocalPlatform

ROWS = 48
STEPS = 40
QUESTION, ANSWER = "What is 3 plus 3?", "3 plus 3 is 6."  # one of the dataset's rows
DEMO_HYPERPARAMETERS = {"max_steps": 200, "learning_rate": 5e-3, "lora_rank": None}  # full fine-tune


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


def wait_for_model(http: httpx.Client, project_key: str, timeout: float = 900, name: str | None = None) -> str:
    """The id of the project's ready inference model, or of the one `name`d (polled: the demo is a
    plain REST client)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for model in _check(http.get("/api/v1/inference/models"))["models"]:
            ours = model["id"] == f"{project_key}/{name}" if name else model["id"].startswith(f"{project_key}/")
            if ours and model["status"] == "ready":
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


def ask(http: httpx.Client, model: str, question: str = QUESTION) -> str:
    """One greedy chat turn through the gateway, up to the end of the first line."""
    answer = _check(http.post("/v1/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 16,
        "temperature": 0, "stop": ["\n"]}))
    return str(answer["choices"][0]["message"]["content"]).strip()


def ask_base_model(http: httpx.Client, project: dict[str, Any], base_model: str) -> str:
    """Serve the base model in the project, ask it the question, remove the service again."""
    services = f"/api/v1/projects/{project['id']}/inference-services"
    _check(http.post(services, json={"name": "base", "base_model": base_model}), 201)
    model = wait_for_model(http, project["key"], name="base")
    answer = ask(http, model)
    _check(http.delete(f"{services}/base"), 204)
    while any(m["id"] == model for m in _check(http.get("/api/v1/inference/models"))["models"]):
        time.sleep(1)  # gone before the fine-tuned model is looked for
    return answer


def verdict(answer: str) -> str:
    return "right" if ANSWER in answer else "wrong"


def local_trainer(model_dir: Path) -> dict[str, Any]:
    """A CPU LoRA Trainer whose pods run this environment's trainer on the tiny model built at model_dir."""
    return {
        "name": "lora-cpu", "display_name": "LoRA (CPU, local)", "image": "kubetune/runtime:local",
        "command": [sys.executable, "-m", "kubetune.train.cli"], "tasks": ["causal-lm"], "methods": ["lora"],
        "models": [{"id": "tiny-llama", "name": "Tiny Llama (built locally)", "uri": f"file://{model_dir}",
                    "size": "1M"}],
        "resources": {"gpus": 0}}


def full_trainer(model_dir: Path) -> dict[str, Any]:
    """local_trainer's full fine-tune twin (what the demo trains with)."""
    return {**local_trainer(model_dir), "name": "full-cpu", "display_name": "Full fine-tune (CPU, local)",
            "methods": ["full"]}


def run_flow(platform: LocalPlatform, out_dir: Path) -> dict[str, Any]:
    """The REST journey on the embedded platform; returns what it saw (the e2e test asserts on it)."""
    from kubetune.testing.tiny import make_tiny_causal_lm

    model_dir = platform.artifacts / "models" / "tiny-llama"
    make_tiny_causal_lm(model_dir)
    return rest_flow(platform.api_url, platform.admin_token(), out_dir, trainer=full_trainer(model_dir),
                     template_id="full-cpu", hyperparameters=DEMO_HYPERPARAMETERS, ask_before=True)


def rest_flow(api_url: str, token: str, out_dir: Path, trainer: dict[str, Any] | None = None,
              template_id: str = "lora-cpu", model_id: str = "tiny-llama",
              on_project: Callable[[dict[str, Any]], None] | None = None,
              hyperparameters: dict[str, Any] | None = None, ask_before: bool = False) -> dict[str, Any]:
    """The REST journey against any kubetune API: registers `trainer` when given, then creates a
    project (`on_project` sees it first), uploads, (`ask_before`: serves the base model and asks it
    the question), fine-tunes `model_id` with Trainer `template_id` (`hyperparameters` over the
    demo's; None removes one), follows, waits for the served model and calls it. Returns what it saw."""
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
        before = ask_base_model(http, project, model_id) if ask_before else None
        if before is not None:
            print(f"before fine-tuning: {QUESTION!r} -> {before!r} ({verdict(before)})")
        hp = {"max_steps": STEPS, "learning_rate": 3e-3, "lora_rank": 8, "batch_size": 4, "logging_steps": 1,
              **(hyperparameters or {})}
        submitted = _check(http.post("/api/v1/training/submit", json={
            "model_id": model_id, "dataset_id": dataset["id"], "template_id": template_id,
            "project_id": project["id"], "experiment_name": "demo-lora",
            "hyperparameters": {k: v for k, v in hp.items() if v is not None}}), 201)
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
        after = ask(http, model_id) if ask_before else None
        if before is not None and after is not None:
            print(f"\n  {QUESTION}\n    before fine-tuning: {before!r} ({verdict(before)})"
                  f"\n    after fine-tuning:  {after!r} ({verdict(after)})\n")
        return {"project": project, "training": training, "curve": curve, "model_id": model_id,
                "infer": infer, "generate": answer, "png": str(png), "before": before, "after": after}


def chat_through_cli(api_url: str, token: str, model: str, questions: list[str]) -> list[tuple[str, str]]:
    """`kubetune chat MODEL` as a user runs it (URL and token from the environment), its turns fed on
    stdin; returns (question, answer) per turn."""
    done = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "chat", model, "--max-tokens", "12", "--temperature", "0"],
        input="".join(f"{q}\n" for q in questions), capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "KUBETUNE_URL": api_url, "KUBETUNE_TOKEN": token})
    if done.returncode != 0:
        raise RuntimeError(f"kubetune chat exited {done.returncode}: {done.stderr.strip()}")
    answers = [turn.removeprefix("model> ").rstrip("\n") for turn in done.stdout.split("you> ")[1:]]
    return list(zip(questions, answers, strict=False))


def main(out_dir: Path) -> int:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with LocalPlatform.start(out_dir) as platform:
        print(f"API:        {platform.api_url}  (admin / {platform.admin_password})")
        print(f"kubeconfig: {platform.control_plane.kubeconfig}")
        seen = run_flow(platform, out_dir)
        # Another of the dataset's sums, one turn: the tiny model runs on past its answer (no stop string
        # here), and a second turn would carry that tail in the conversation it is sent.
        print("kubetune chat (the CLI, streamed):")
        for question, answer in chat_through_cli(platform.api_url, platform.admin_token(), seen["model_id"],
                                                 ["What is 7 plus 7?"]):
            print(f"  you> {question}\n  model> " + answer.replace("\n", "\n         "))
        print(f"artifacts:  {platform.artifacts}")
        print(f"node logs:  {out_dir / 'node'}")
        print(f"demo took {time.monotonic() - started:.0f} s; stopping the platform")
    return 0
