"""One thread per pod: sandbox, init containers, containers, probes, restarts, status, deletion."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from kubetune.localdev.node import hosts, images, limits, runtime, status
from kubetune.localdev.node.envvars import EnvError
from kubetune.localdev.node.ipam import PodIPAllocator
from kubetune.localdev.node.probes import ProbeTracker, check
from kubetune.localdev.node.sandbox import NodeContext, Sandbox
from kubetune.localdev.node.status import RUNNING, TERMINATED, WAITING, ContainerRecord, Termination

log = logging.getLogger(__name__)

SETUP_RETRY_SECONDS = 1.0
DEFAULT_GRACE_SECONDS = 30


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def backoff_seconds(restarts: int, base: float, cap: float) -> float:
    return float(min(base * (2**restarts), cap))


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def grace_seconds(pod: Mapping[str, Any]) -> float:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    return float(grace)


@dataclass
class Running:
    """A container with a live process and its probes."""

    process: runtime.Process
    env: dict[str, str]
    cwd: Path
    probes: dict[str, ProbeTracker] = field(default_factory=dict)


class PodWorker:
    def __init__(self, ctx: NodeContext, allocator: PodIPAllocator, pod: dict[str, Any]) -> None:
        self.ctx = ctx
        self.allocator = allocator
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.key = f"{meta['namespace']}/{meta['name']}"
        self.policy: str = pod["spec"].get("restartPolicy", "Always")
        self.finished_before = is_terminal(pod)  # terminal already: nothing to run, only deletion to finish
        self.started_once: set[str] = set()
        self.init_records = [self._record(c) for c in pod["spec"].get("initContainers") or []]
        self.records = [self._record(c) for c in pod["spec"].get("containers") or []]
        self.running: dict[str, Running] = {}
        self.next_start: dict[str, float] = {}
        self.pull_attempts: dict[str, int] = {}
        self.sandbox: Sandbox | None = None
        self.pod_ip: str | None = None
        self.address_released = False
        self.start_time = _now()
        self.last_sent: Any = None
        self.previous_status: dict[str, Any] = dict(pod.get("status") or {})
        self._wake = threading.Event()
        self._deleting = threading.Event()
        self._gone = threading.Event()
        self._shutdown = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.key}", daemon=True)

    # ---- called from the watch thread and the agent

    def start(self) -> None:
        self.thread.start()

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self._deleting.set()
        self._wake.set()

    def removed(self) -> None:
        """The pod object is gone from the API (force deletion, or our own final delete)."""
        self._gone.set()
        self._wake.set()

    def shutdown(self) -> None:
        """Agent exit: stop the processes, leave the pod object alone."""
        self._shutdown.set()
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    # ---- records

    def _record(self, container: Mapping[str, Any]) -> ContainerRecord:
        record = ContainerRecord(name=container["name"], image=container.get("image", ""))
        old_statuses = [
            *(self.pod.get("status", {}).get("initContainerStatuses") or []),
            *(self.pod.get("status", {}).get("containerStatuses") or []),
        ]
        for old in old_statuses:
            if old.get("name") == record.name:
                # An earlier agent ran this container: its restarts count.
                record.restart_count = int(old.get("restartCount", 0))
                state = old.get("state") or {}
                if "running" in state or "terminated" in state or old.get("lastState"):
                    self.started_once.add(record.name)
        return record

    def _containers(self) -> dict[str, Mapping[str, Any]]:
        spec = self.pod["spec"]
        return {c["name"]: c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}

    # ---- the loop

    def _run(self) -> None:
        try:
            while True:
                if self._shutdown.is_set():
                    self._stop_all(grace_seconds(self.pod))
                    return
                if self._deleting.is_set() or self._gone.is_set():
                    self._finish_deletion()
                    return
                if not self.finished_before:
                    self._step()
                self._wake.wait(self.ctx.config.sync_seconds)
                self._wake.clear()
        except Exception:
            log.exception("pod worker %s crashed; stopping its processes", self.key)
            self._stop_all(0)
        finally:
            self._release()

    def _step(self) -> None:
        if self.sandbox is None and not self._set_up():
            self._publish()
            return
        assert self.sandbox is not None
        if status.pod_phase(self.init_records, self.records) in ("Succeeded", "Failed"):
            self._publish()
            self._release_address()
            return
        try:
            self.sandbox.refresh_tokens()
        except Exception:
            log.warning("refreshing tokens of %s failed", self.key, exc_info=True)
        try:
            for volume in self.sandbox.sync_objects():
                log.info("volume %s of %s follows its object", volume, self.key)
        except Exception:
            log.warning("syncing the volumes of %s failed", self.key, exc_info=True)
        containers = self._containers()
        if not status.initialized(self.init_records):
            self._step_init(containers)
        else:
            for record in self.records:
                self._step_container(record, containers[record.name])
        self._publish()

    def _set_up(self) -> bool:
        try:
            if self.pod_ip is None:
                preferred = (self.pod.get("status") or {}).get("podIP")
                host_network = bool(self.pod["spec"].get("hostNetwork"))
                self.pod_ip = self.ctx.host_ip if host_network else self.allocator.allocate(self.uid, preferred)
                if self.ctx.hosts is not None and not host_network:
                    self.ctx.hosts.add(self.uid, self.pod_ip, hosts.pod_names(self.pod))
            sandbox = Sandbox(self.ctx, self.pod, self.pod_ip, self.ctx.config.pods_dir / self.uid)
            sandbox.prepare()
        except Exception as error:
            # e.g. the namespace's kube-root-ca.crt ConfigMap does not exist yet, or the API server is
            # briefly unreachable: retry, as the kubelet does.
            log.info("pod %s not ready to start: %s", self.key, error)
            for record in [*self.init_records, *self.records]:
                record.waiting_reason, record.waiting_message = "ContainerCreating", str(error)[:500]
            self._wake.wait(SETUP_RETRY_SECONDS)
            return False
        self.sandbox = sandbox
        return True

    def _step_init(self, containers: Mapping[str, Mapping[str, Any]]) -> None:
        for record in self.init_records:
            if record.succeeded:
                continue
            self._step_container(record, containers[record.name])
            return  # one init container at a time, in order

    def _step_container(self, record: ContainerRecord, container: Mapping[str, Any]) -> None:
        if record.done:
            return
        current = self.running.get(record.name)
        if current is None:
            if time.monotonic() >= self.next_start.get(record.name, 0.0):
                self._start(record, container)
            return
        code = current.process.poll()
        if code is not None:
            self._exited(record, container, current, code)
            return
        if self._over_memory_limit(container, current):
            self._exited(record, container, current, current.process.kill_for_memory())
            return
        self._probe(record, container, current)

    def _over_memory_limit(self, container: Mapping[str, Any], current: Running) -> bool:
        # Checked every sync period, so a fast allocation may overshoot briefly before the kill.
        limit = limits.memory_limit(container)
        if limit is None:
            return False
        used = runtime.session_rss_bytes(current.process.pid)
        if used <= limit:
            return False
        log.info("%s/%s uses %d bytes, over its %d byte limit: OOM-killing it", self.key, container["name"],
                 used, limit)
        return True

    def _start(self, record: ContainerRecord, container: Mapping[str, Any]) -> None:
        assert self.sandbox is not None and self.pod_ip is not None
        if self._pull_failed(record, container):
            return
        fs = self.sandbox.filesystems[record.name]
        fs.termination_file.write_bytes(b"")
        try:
            env = self.sandbox.container_env(container)
            argv = self.sandbox.command(container, env)
            cwd = self.sandbox.cwd(container)
            # One file per run, named by the restartCount this run reports (the first run 0, its restart 1):
            # `kubectl logs --previous` reads the one before the last (containerlogs.py).
            restarts = record.restart_count + (1 if record.name in self.started_once else 0)
            log_path = self.sandbox.log_path(record.name, restarts)
            process = runtime.start(argv, env, cwd, log_path, self.ctx.isolate_pids, self.sandbox.netns_fd,
                                    self.sandbox.hosts_file)
        except EnvError as error:
            record.state, record.waiting_reason, record.waiting_message = (
                WAITING,
                "CreateContainerConfigError",
                str(error),
            )
            self.next_start[record.name] = time.monotonic() + SETUP_RETRY_SECONDS
            return
        except runtime.StartError as error:
            now = _now()
            self._terminated(record, Termination(runtime.START_ERROR_EXIT_CODE, "StartError", str(error), None, now))
            return
        except Exception as error:  # e.g. the API server unreachable while reading a ConfigMap
            record.state, record.waiting_reason, record.waiting_message = WAITING, "CreateContainerError", str(error)
            self.next_start[record.name] = time.monotonic() + SETUP_RETRY_SECONDS
            return
        if record.name in self.started_once:
            record.restart_count += 1
        self.started_once.add(record.name)
        record.state, record.started_at, record.pid = RUNNING, process.started_at, process.pid
        record.terminated = None
        record.waiting_reason, record.waiting_message = "", ""
        started = time.monotonic()
        probes = {
            kind: ProbeTracker(container[kind], started, initial=(kind == "livenessProbe"))
            for kind in ("startupProbe", "readinessProbe", "livenessProbe")
            if container.get(kind)
        }
        record.started = "startupProbe" not in probes
        record.ready = "readinessProbe" not in probes and record.started
        self.running[record.name] = Running(process, env, cwd, probes)
        log.info("started %s/%s (pid %d)", self.key, record.name, process.pid)

    def _pull_failed(self, record: ContainerRecord, container: Mapping[str, Any]) -> bool:
        """ErrImagePull on the first try, then ImagePullBackOff between retries, as the kubelet reports."""
        image = str(container.get("image", ""))
        error = images.pull_error(image)
        if error is None:
            return False
        attempts = self.pull_attempts.get(record.name, 0)
        self.pull_attempts[record.name] = attempts + 1
        delay = backoff_seconds(attempts, self.ctx.config.restart_backoff_seconds,
                                self.ctx.config.restart_backoff_cap_seconds)
        record.state = WAITING
        if attempts == 0:
            record.waiting_reason, record.waiting_message = "ErrImagePull", error
        else:
            record.waiting_reason, record.waiting_message = "ImagePullBackOff", f'Back-off pulling image "{image}"'
        self.next_start[record.name] = time.monotonic() + (0.0 if attempts == 0 else delay)
        return True

    def _probe(self, record: ContainerRecord, container: Mapping[str, Any], current: Running) -> None:
        assert self.pod_ip is not None and self.sandbox is not None
        now, netns_fd = time.monotonic(), self.sandbox.netns_fd
        for kind, tracker in current.probes.items():
            if kind != "startupProbe" and not record.started:
                continue  # other probes wait for the startup probe
            if kind == "startupProbe" and record.started:
                continue
            if not tracker.due(now):
                continue
            ok = tracker.record(check(tracker.spec, container, self.pod_ip, current.env, current.cwd, netns_fd), now)
            if kind == "startupProbe":
                record.started = ok
                if not ok and tracker.failures >= int(tracker.spec.get("failureThreshold", 3)):
                    self._kill_unhealthy(record, container, current, "startup")
                    return
                record.ready = record.started and "readinessProbe" not in current.probes
            elif kind == "readinessProbe":
                record.ready = ok
            elif kind == "livenessProbe" and not ok:
                self._kill_unhealthy(record, container, current, "liveness")
                return

    def _kill_unhealthy(
        self, record: ContainerRecord, container: Mapping[str, Any], current: Running, probe: str
    ) -> None:
        log.info("%s/%s failed its %s probe; killing it", self.key, record.name, probe)
        spec = container.get(f"{probe}Probe") or {}
        grace = spec.get("terminationGracePeriodSeconds", grace_seconds(self.pod))
        code = current.process.stop(float(grace))
        self._exited(record, container, current, code)

    def _exited(self, record: ContainerRecord, container: Mapping[str, Any], current: Running, code: int) -> None:
        assert self.sandbox is not None
        del self.running[record.name]
        fs = self.sandbox.filesystems[record.name]
        written = fs.termination_file.read_text(errors="replace") if fs.termination_file.exists() else ""
        message = status.termination_message(
            written, runtime.log_tail(current.process.log_path), code, container.get("terminationMessagePolicy")
        )
        finished = current.process.finished_at or _now()
        reason = "OOMKilled" if current.process.oom_killed else status.termination_reason(code)
        self._terminated(record, Termination(code, reason, message, record.started_at, finished))
        log.info("%s/%s exited with %d", self.key, record.name, code)

    def _terminated(self, record: ContainerRecord, termination: Termination) -> None:
        record.ready = False
        record.started = False
        restart = should_restart(
            "OnFailure" if self.policy == "Always" and self._is_init(record) else self.policy, termination.exit_code
        )
        if restart:
            config = self.ctx.config
            delay = backoff_seconds(
                record.restart_count, config.restart_backoff_seconds, config.restart_backoff_cap_seconds
            )
            self.next_start[record.name] = time.monotonic() + delay
            record.last_terminated = termination
            record.state, record.terminated = WAITING, None
            record.waiting_reason = "CrashLoopBackOff"
            record.waiting_message = f"back-off {delay:.0f}s restarting failed container={record.name}"
        else:
            record.state, record.terminated, record.done = TERMINATED, termination, True

    def _is_init(self, record: ContainerRecord) -> bool:
        return any(r is record for r in self.init_records)

    # ---- status

    def _publish(self) -> None:
        new = status.pod_status(
            self.previous_status,
            self.init_records,
            self.records,
            self.pod_ip,
            self.ctx.host_ip,
            self.start_time,
            _now(),
        )
        comparable = status.without_times(new)
        if comparable == self.last_sent:
            return
        try:
            self.ctx.kube.patch_pod_status(self.pod["metadata"]["namespace"], self.pod["metadata"]["name"], new)
        except ApiException as error:
            if error.status == 404:
                self._gone.set()
                return
            log.warning("status patch of %s failed: %s", self.key, error)
            return
        except Exception as error:  # connection trouble: the next step tries again
            log.warning("status patch of %s failed: %s", self.key, error)
            return
        self.last_sent = comparable
        self.previous_status = new

    # ---- ending

    def _stop_all(self, grace: float) -> None:
        processes = {name: current.process for name, current in self.running.items()}
        for process in processes.values():
            process.terminate()  # every container at once; they share the grace period
        deadline = time.monotonic() + grace
        for name, process in processes.items():
            code = process.stop(max(deadline - time.monotonic(), 0))
            record = next(r for r in [*self.init_records, *self.records] if r.name == name)
            finished = process.finished_at or _now()
            record.state, record.ready, record.started, record.done = TERMINATED, False, False, True
            record.terminated = Termination(code, status.termination_reason(code), "", record.started_at, finished)
        self.running.clear()

    def _finish_deletion(self) -> None:
        grace = grace_seconds(self.pod)
        log.info("pod %s deleted: stopping its containers (grace %.0fs)", self.key, grace)
        self._stop_all(grace)
        if self._gone.is_set():
            return
        meta = self.pod["metadata"]
        if not self.finished_before and self.sandbox is not None:
            for record in [*self.init_records, *self.records]:
                if record.state != TERMINATED:  # never started, or waiting to restart
                    record.state = TERMINATED
                    record.terminated = Termination(
                        137, "ContainerStatusUnknown", "the pod was deleted before the container ran", None, _now()
                    )
                record.done = True
            self._publish()
        try:
            self.ctx.kube.delete_pod_now(meta["namespace"], meta["name"], self.uid)
        except Exception as error:
            log.warning("final delete of %s failed: %s", self.key, error)

    def _release_address(self) -> None:
        # Exactly once: after the release another pod may be handed the same address.
        if self.pod_ip is not None and self.pod_ip != self.ctx.host_ip and not self.address_released:
            self.address_released = True
            if self.ctx.hosts is not None:
                self.ctx.hosts.remove(self.uid)
            self.allocator.release(self.pod_ip, self.uid)

    def _release(self) -> None:
        self._stop_all(0)
        self._release_address()
        if self.sandbox is not None:
            # After an agent stop the directories stay for a restarted agent; host links never do.
            if self._shutdown.is_set():
                self.sandbox.remove_host_links()
            else:
                self.sandbox.remove()
