"""vLLM's OpenAI server as a child process of kubetune's server (settings ``vllm_command``).

kubetune resolves the model uri (pvc://, file://, s3:// with the project's credentials, hf://) to a local
directory and hands vLLM that directory, so vLLM needs no storage access of its own; it listens on loopback
only, and kubetune's server is the pod's one door (API keys, admission, cache). When vLLM dies, kubetune's
server stops too, so the kubelet restarts the container rather than leaving a front without an engine.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def vllm_arguments(
    model_dir: Path, served_name: str, url: str, adapters_enabled: bool, extra: Sequence[str]
) -> list[str]:
    """The command line after ``vllm_command``: the model, its name, loopback host and port, LoRA on."""
    parts = urlsplit(url)
    args = [
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        parts.hostname or "127.0.0.1",
        "--port",
        str(parts.port or 8000),
    ]
    if adapters_enabled and "--enable-lora" not in extra:
        args.append("--enable-lora")
    return [*args, *extra]


def vllm_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """vLLM's environment: adapters may be loaded and unloaded while it runs."""
    env = dict(os.environ if base is None else base)
    env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    return env


class VLLMProcess:
    """Starts vLLM, and ends this server when vLLM ends on its own."""

    def __init__(self, command: Sequence[str], args: Sequence[str], exit_with_child: bool = True) -> None:
        self.command = [*command, *args]
        self.exit_with_child = exit_with_child
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        # Armed once vLLM has served: before that, its death is a load error the loader reports.
        self.armed = threading.Event()

    def start(self) -> None:
        log.info("starting vLLM", extra={"details": {"command": self.command}})
        # stdout/stderr go to the container's log alongside kubetune's own lines.
        self.process = subprocess.Popen(self.command, env=vllm_environment(), start_new_session=True)
        threading.Thread(target=self._watch, name="vllm-watch", daemon=True).start()

    def exited(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def _watch(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        if self._stopping.is_set() or not self.armed.is_set():
            return
        log.error("vLLM exited with code %s; stopping the server so that the container restarts", code)
        if self.exit_with_child:
            os.kill(os.getpid(), signal.SIGTERM)

    def stop(self, timeout_s: float = 30) -> None:
        self._stopping.set()
        if self.process is None or self.process.poll() is not None:
            return
        # vLLM's engine runs in worker processes of its own session: end the whole group.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
