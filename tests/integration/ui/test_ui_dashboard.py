"""The dashboard in a real headless Chromium against the facade on a real port, over the real control plane
with the operator in-process and a local node: log in, follow a training live until its loss curve has
points, then ask the model it serves a question in the playground. Screenshots go to the test's tmp dir and
must not be blank.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, colours, count_near
from kube_waits import wait_for
from kubernetes import client
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from served import served_facade

from kubetune.crd import GROUP, VERSION
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.node.agent import NodeAgent
from kubetune.localdev.node.config import NodeConfig
from kubetune.operator.inprocess import OperatorThread
from kubetune.operator.settings import Settings as OperatorSettings

pytestmark = pytest.mark.integration
ROWS = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                      {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(24)]
SERVING_KEY = uuid.uuid4().hex * 2
CURVE_BLUE = (0x15, 0x65, 0xC0)
WAIT = 600


@pytest.fixture(scope="module")
def platform(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from kubetune.testing.tiny import make_tiny_causal_lm

    artifacts = tmp_path_factory.mktemp("ui-artifacts")
    make_tiny_causal_lm(artifacts / "models" / "tiny")
    name = f"ui-{uuid.uuid4().hex[:4]}"
    node = NodeConfig(kubeconfig=control_plane.kubeconfig, name=name, state_dir=tmp_path_factory.mktemp("ui-node"),
                      restart_backoff_seconds=1.0, kubelet_tls=control_plane.kubelet_tls(name))
    settings = OperatorSettings(
        kubeconfig=str(control_plane.kubeconfig), artifact_pvc=None, artifact_mount_path=str(artifacts),
        leader_election=False, metrics_port=0, health_port=0, log_format="text", default_backoff_limit=0,
        serve_command=[sys.executable, "-m", "kubetune.serve.cli"], report_interval_seconds=0.5,
        serving_key_secret=SERVING_KEY)
    with NodeAgent(node), OperatorThread(settings):
        yield artifacts


@pytest.fixture
def base_url(api_client: client.ApiClient, platform: Path) -> Iterator[str]:
    with served_facade(api_client, platform, SERVING_KEY) as url:
        yield url


def submit_training(http: httpx.Client, platform: Path) -> dict[str, Any]:
    """Trainer, project, dataset and a 30-step LoRA run with serve on (the default), through REST."""
    token = http.post("/api/v1/auth/token", data={"username": "admin", "password": "admin123"}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    trainer = f"lora-{uuid.uuid4().hex[:6]}"
    made = http.post("/api/v1/trainers", json={
        "name": trainer, "display_name": "LoRA (CPU)", "image": "kubetune/runtime:test",
        "command": [sys.executable, "-m", "kubetune.train.cli"], "tasks": ["causal-lm"], "methods": ["lora"],
        "models": [{"id": "tiny", "name": "Tiny", "uri": f"file://{platform}/models/tiny", "size": "1M"}],
        "resources": {"gpus": 0}})
    assert made.status_code == 201, made.text
    project = http.post("/api/v1/projects", json={"name": "dashboard"}).json()
    body = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    up = http.post(f"/api/finetune/upload-dataset?project_id={project['id']}", files={"file": ("chat.jsonl", body)})
    assert up.status_code == 201, up.text
    dataset = http.get(f"/api/v1/datasets?project_id={project['id']}").json()["datasets"][0]
    submitted = http.post("/api/v1/training/submit", json={
        "model_id": "tiny", "dataset_id": dataset["id"], "template_id": trainer, "project_id": project["id"],
        "experiment_name": "dashboard", "hyperparameters": {"max_steps": 30, "learning_rate": 3e-3, "lora_rank": 8,
                                                            "batch_size": 4, "logging_steps": 1}})
    assert submitted.status_code == 201, submitted.text
    return dict(project)


CHAT_SPY = """window.chatBodies = [];
const original = window.fetch;
window.fetch = (url, options) => {
  if (String(url).endsWith("/v1/chat/completions")) window.chatBodies.push(JSON.parse(options.body));
  return original(url, options);
};"""


def chat_two_turns(driver: Any, wait: Any) -> list[str]:
    """Two chat turns in the playground; the second request carries the whole conversation (what the page
    sent, recorded off its fetch calls), the first answer included. Returns the two answers."""
    driver.execute_script(CHAT_SPY)
    for turn, question in enumerate(("What is 3 plus 3?", "And 4 plus 4?"), start=1):
        driver.find_element(By.ID, "chat-input").send_keys(question)
        driver.find_element(By.ID, "chat-send").click()
        wait.until(lambda d, t=turn: d.find_element(By.ID, "chat").get_attribute("data-turns") == str(t)
                   or d.find_element(By.ID, "chat-status").get_attribute("class") == "error")
        status = driver.find_element(By.ID, "chat-status")
        assert status.get_attribute("class") != "error", status.text
    replies = [e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, "#chat .assistant span")]
    assert len(replies) == 2 and all(r.strip() for r in replies), replies
    sent = driver.execute_script("return window.chatBodies")
    assert [[m["role"] for m in body["messages"]] for body in sent] == [["user"], ["user", "assistant", "user"]], sent
    assert sent[1]["messages"][0]["content"] == "What is 3 plus 3?" and sent[1]["messages"][1]["content"] == replies[0]
    status_text = driver.find_element(By.ID, "chat-status").text
    assert all(body["stream"] is True for body in sent) and "4 messages" in status_text, status_text
    return replies


def test_login_follow_training_live_and_ask_the_playground(base_url: str, platform: Path, api_client: client.ApiClient,
                                                           tmp_path: Path) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        project = submit_training(http, platform)

    with chromium() as driver:
        wait = WebDriverWait(driver, WAIT, poll_frequency=0.25)
        driver.get(f"{base_url}/ui/")
        driver.find_element(By.ID, "username").send_keys("admin")
        driver.find_element(By.ID, "password").send_keys("admin123")
        driver.find_element(By.ID, "login-submit").click()
        wait.until(lambda d: d.execute_script("return sessionStorage.getItem('kubetune.token')"))
        wait.until(lambda d: not d.find_element(By.ID, "login").is_displayed()
                   and d.find_element(By.ID, "nav").is_displayed())
        link = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.training-link"))[0]
        driver.save_screenshot(str(tmp_path / "trainings.png"))
        link.click()
        canvas = wait.until(lambda d: d.find_elements(By.ID, "curve"))[0]
        first = int(canvas.get_attribute("data-points") or 0)
        # Live: the page's SSE stream adds points as the trainer reports steps, until the end frame.
        wait.until(lambda d: int(d.find_element(By.ID, "curve").get_attribute("data-points") or 0) >= 2
                   and d.find_element(By.ID, "stats").text.startswith("step "))
        wait.until(lambda d: d.find_element(By.ID, "view").get_attribute("data-ended") == "true")
        points = int(driver.find_element(By.ID, "curve").get_attribute("data-points") or 0)
        assert points > first, (first, points)
        assert driver.find_element(By.ID, "phase").text == "Succeeded"
        assert driver.find_elements(By.CSS_SELECTOR, "#events tr"), "no events shown"
        driver.find_element(By.ID, "load-log").click()
        wait.until(lambda d: d.find_element(By.ID, "log").get_attribute("data-loaded") == "true")
        log_text = driver.find_element(By.ID, "log").text
        assert "done: " in log_text, log_text  # the trainer's last line, read through the node's kubelet API
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(tmp_path / "training.png"))
        curve_png = driver.find_element(By.ID, "curve").screenshot_as_png
        (tmp_path / "curve.png").write_bytes(curve_png)
        assert colours(curve_png) > 2 and count_near(curve_png, CURVE_BLUE) > 50, "the loss curve looks blank"

        served = wait_for(client.CustomObjectsApi(api_client).list_namespaced_custom_object,
                          lambda o: (o.get("status") or {}).get("phase") == "Ready",
                          GROUP, VERSION, project["namespace"], "inferenceservices", timeout=WAIT)
        driver.get(f"{base_url}/ui/#/inference")
        # This run's model by its id: the admin sees every project's services, earlier tests' ones included.
        model = f"{project['key']}/{served['metadata']['name']}"
        wait.until(lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "#model option")
                              if o.get_attribute("value") == model])
        Select(driver.find_element(By.ID, "model")).select_by_value(model)
        prompt = driver.find_element(By.ID, "prompt")
        prompt.clear()
        prompt.send_keys("What is 3 plus 3?")
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.find_element(By.ID, "answer").get_attribute("data-done") == "true")
        answer, meta = driver.find_element(By.ID, "answer").text, driver.find_element(By.ID, "answer-meta").text
        driver.save_screenshot(str(tmp_path / "playground.png"))
        assert answer.strip() and "tokens in" in meta, (answer, meta)
        replies = chat_two_turns(driver, wait)
        driver.save_screenshot(str(tmp_path / "chat.png"))
        for page, marker in (("gpu", "gpu-summary"), ("datasets", "view"), ("projects", "view")):
            driver.get(f"{base_url}/ui/#/{page}")
            wait.until(lambda d, p=page: d.find_element(By.ID, "view").get_attribute("data-page") == p
                       and d.find_elements(By.CSS_SELECTOR, "#view h1"))
            assert not driver.find_elements(By.ID, "page-error"), driver.find_element(By.ID, "page-error").text
            assert driver.find_elements(By.ID, marker)
    for shot in ("trainings.png", "training.png", "playground.png", "chat.png"):
        assert colours((tmp_path / shot).read_bytes()) > 2, shot
    print(f"dashboard: curve points {first} -> {points}; log panel {log_text[:120]!r}; playground answer {answer!r} "
          f"({meta}); chat replies {replies!r}; shots in {tmp_path}")


def test_docs_and_redoc_render_with_no_network(base_url: str, tmp_path: Path) -> None:
    """The browser reaches loopback only, so a page that still needed a CDN would stay blank here."""
    with chromium() as driver:
        wait = WebDriverWait(driver, 60, poll_frequency=0.25)
        driver.get(f"{base_url}/docs")
        title = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"))[0]
        assert "kubetune API" in title.text
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
        driver.save_screenshot(str(tmp_path / "docs.png"))
        driver.get(f"{base_url}/redoc")
        wait.until(lambda d: any("kubetune API" in h.text for h in d.find_elements(By.CSS_SELECTOR, "h1")))
        driver.save_screenshot(str(tmp_path / "redoc.png"))
    for shot in ("docs.png", "redoc.png"):
        assert colours((tmp_path / shot).read_bytes()) > 2, shot
