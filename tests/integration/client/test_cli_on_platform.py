"""The `kubetune` user commands, run as a user would (a subprocess, watch under a pseudo-terminal),
against the whole local platform: control plane, node, operator and facade on a real port.

login -> projects create/use -> datasets upload/ls -> train (flags) -> watch (live bar, exit 0 on
Succeeded) -> ls/show/curve in each output format -> logs -> serve -> chat (two turns, under a pseudo-terminal,
against the served model); and the exit codes of the failures.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest
import yaml

from kubetune.localdev.demo import local_trainer
from kubetune.localdev.platform import LocalPlatform

pytestmark = pytest.mark.integration

STEPS = 4


def _rows(count: int = 16) -> str:
    chats = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                           {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(count)]
    return "".join(json.dumps(c) + "\n" for c in chats)


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalPlatform]:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    from kubetune.testing.tiny import make_tiny_causal_lm

    with LocalPlatform.start(tmp_path / "platform") as p:
        model_dir = p.artifacts / "models" / "tiny-llama"
        make_tiny_causal_lm(model_dir)
        with httpx.Client(base_url=p.api_url, headers={"Authorization": f"Bearer {p.admin_token()}"},
                          timeout=60) as admin:
            assert admin.post("/api/v1/trainers", json=local_trainer(model_dir)).status_code == 201
        yield p


class Cli:
    def __init__(self, config_dir: Path, password: str) -> None:
        self.env = {**os.environ, "KUBETUNE_CONFIG": str(config_dir), "KUBETUNE_PASSWORD": password}
        self.env.pop("KUBETUNE_URL", None)
        self.env.pop("KUBETUNE_TOKEN", None)

    def run(self, *args: str, code: int = 0) -> str:
        import subprocess

        done = subprocess.run([sys.executable, "-m", "kubetune.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == code, f"kubetune {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))


def test_cli_journey(platform: LocalPlatform, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "conf", platform.admin_password)
    cli.run("ls", code=3)  # not logged in yet
    assert "logged in" in cli.run("login", "--url", platform.api_url, "-u", platform.admin_username)
    config = tmp_path / "conf" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    project = cli.json("projects", "create", "cli demo", "--description", "from the CLI")
    assert cli.run("projects", "use", project["key"]).strip() == f"default project: {project['key']}"
    assert project["key"] in [p["key"] for p in cli.json("projects", "ls")]

    data = tmp_path / "arith.jsonl"
    data.write_text(_rows())
    cli.run("datasets", "upload", str(data), "--project", project["key"])
    datasets = cli.json("datasets", "ls", "--project", str(project["id"]))
    assert [d["name"] for d in datasets] == ["arith.jsonl"]
    shown = cli.json("datasets", "show", "arith.jsonl", "--project", str(project["id"]))
    assert shown["id"] == datasets[0]["id"]

    training_id = cli.run("train", "--name", "cli run", "--model", "tiny-llama", "--trainer", "lora-cpu",
                          "--dataset", str(datasets[0]["id"]), "--project", project["key"], "--no-serve",
                          "-p", f"max_steps={STEPS}", "-p", "batch_size=4", "-p", "logging_steps=1",
                          "-p", "lora_rank=8", "-p", "learning_rate=3e-3").strip()
    assert len(training_id) == 36  # the Training's uid

    # watch under a pseudo-terminal: the bar redraws in place and the command exits 0 on Succeeded
    child = pexpect.spawn(sys.executable, ["-m", "kubetune.cli", "watch", training_id], env=cli.env,
                          encoding="utf-8", timeout=600, dimensions=(24, 200))
    seen = io.StringIO()
    child.logfile_read = seen
    child.expect(rf"step {STEPS}/{STEPS}")
    child.expect(f"{training_id}: Succeeded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "\r" in seen.getvalue()  # on a terminal the bar is redrawn in place, not one line per frame

    listed = cli.json("ls")
    assert any(t["id"] == training_id and t["status"] == "completed" for t in listed)
    table = cli.run("ls").splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "STATUS"]
    detail = yaml.safe_load(cli.run("show", training_id, "-o", "yaml"))
    assert detail["phase"] == "Succeeded" and detail["progress"]["step"] == STEPS
    curve = cli.run("curve", training_id, "--png", str(tmp_path / "loss.png"))
    assert "loss " in curve and (tmp_path / "loss.png").stat().st_size > 0

    # The local node serves the kubelet's containerLogs (docs/local-node.md), so pods/log works as on a real
    # cluster: the trainer's last lines, its "done" line last.
    logs = cli.run("logs", training_id, "--tail", "5").splitlines()
    assert 0 < len(logs) <= 5 and "done: " in logs[-1], logs

    # serve the run, then chat with it under a pseudo-terminal: answers stream in, a second turn, an empty line
    # ends the session with exit 0
    assert cli.run("serve", "cli-chat", "--project", project["key"], "--training", detail["resource_name"]
                   ).startswith("cli-chat: ")
    _wait_until_ready(cli, project["key"], "cli-chat")
    chat = pexpect.spawn(sys.executable, ["-m", "kubetune.cli", "chat", f"{project['key']}/cli-chat",
                                          "--max-tokens", "6", "--temperature", "0"],
                         env=cli.env, encoding="utf-8", timeout=300, dimensions=(24, 200))
    answers = []
    chat.expect("you> ")
    for question in ("What is 3 plus 3?", "And 4 plus 4?"):
        chat.sendline(question)
        chat.expect("model> ")
        chat.expect("you> ")
        answers.append(chat.before)
    chat.sendline("")
    chat.expect(pexpect.EOF)
    chat.close()
    assert chat.exitstatus == 0, chat.before
    assert all(answer.strip() for answer in answers), answers  # the tiny model's words, whatever they are

    # a second watch of an ended run returns at once with its end
    assert f"{training_id}: Succeeded" in cli.run("watch", training_id)
    # stop on a finished run is refused by the API (exit 1); cancel deletes it; then it is gone (exit 4)
    assert "409" in cli.run("stop", training_id, code=1)
    cli.run("cancel", training_id)
    cli.run("show", training_id, code=4)
    cli.run("train", "--name", "x", code=2)  # TrainingCreate needs base_model: refused before any request

    bad = json.loads(config.read_text())
    bad["token"] = "not-a-token"
    config.write_text(json.dumps(bad))
    cli.run("ls", code=3)


def _wait_until_ready(cli: Cli, project: str, name: str, attempts: int = 120) -> None:
    """`kubetune services` until the service is Ready (the model loads in seconds; each try is a CLI run)."""
    phase = None
    for _ in range(attempts):
        phase = next((s["phase"] for s in cli.json("services", "--project", project) if s["name"] == name), None)
        if phase == "Ready":
            return
        assert phase != "Failed", cli.run("services", "--project", project)
    raise AssertionError(f"{name} never became Ready (last phase {phase})")
