"""Operator benchmark (issue 3, section 7): create-to-Job latency, total time against a plain-client
baseline, and operator memory with thousands of Trainings present.

    .venv/bin/python bench/operator/run.py                         # 1,000 burst, 5,000 for memory
    .venv/bin/python bench/operator/run.py --burst 200 --total 400  # a quick look

It starts a local control plane (no node: every Training is suspended, so no pod runs), then
1. baseline: a plain client does, for each of N Trainings, exactly what the operator does for it
   (create the Training, ServiceAccount, Role, RoleBinding, ConfigMap, suspended Job, one status
   patch and one Event) with as many threads as the operator has workers;
2. operator: the real `kubetune-operator` process; N Trainings are created by the same number of
   threads while a watch records when each Job appears;
3. paced: once the burst has settled, --paced Trainings created at half the baseline's throughput
   (the latency without a queue);
4. memory: more Trainings up to --total, then the operator's resident memory once all are Stopped.
Results go to bench/results/operator.json and are printed with their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from kubetune.crd import labels as lbl
from kubetune.crd.trainer import TrainerSpec
from kubetune.crd.training import TrainingSpec
from kubetune.localdev.clients import client_configuration
from kubetune.localdev.controlplane import ControlPlane
from kubetune.localdev.crds import install_crds
from kubetune.operator.builders.configmap import build_run_config_map
from kubetune.operator.builders.job import build_job
from kubetune.operator.builders.rbac import build_role, build_role_binding, build_service_account
from kubetune.operator.builders.runconfig import build_run_config
from kubetune.operator.events import build_event
from kubetune.operator.kube import Kube
from kubetune.operator.owner import Owner
from kubetune.operator.phases import TrainingState, training_conditions
from kubetune.operator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TRAINER = {"image": "kubetune/runtime:bench", "tasks": ["causal-lm"], "methods": ["lora"],
           "models": [{"id": "tiny", "name": "Tiny", "uri": "file:///models/tiny"}], "resources": {"gpus": 0}}


@dataclass
class Result:
    trainings: int
    workers: int
    baseline_seconds: float
    operator_seconds: float
    overhead_ratio: float
    latency_p50_seconds: float
    latency_p99_seconds: float
    latency_max_seconds: float
    operator_cpu_ms_per_training: float
    paced_rate_per_second: float
    paced_latency_p50_seconds: float
    paced_latency_p99_seconds: float
    memory_trainings: int
    operator_rss_mb: float
    operator_peak_rss_mb: float
    operator_rss_before_trim_mb: float
    command: str


def training_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "kubetune.io/v1alpha1", "kind": "Training", "metadata": {"name": name},
            "spec": {"trainerRef": "bench", "baseModel": "tiny", "suspend": True,
                     # Inside the namespace's own prefix of the store (the operator's default mount path):
                     # the reference resolver refuses anything else before a Job exists.
                     "dataset": {"uri": "file:///var/lib/kubetune/artifacts/bench/data/chat.jsonl",
                                 "format": "openai_chat_jsonl"}}}


def namespace(kube: Kube, name: str) -> None:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def baseline_one(kube: Kube, ns: str, name: str, settings: Settings) -> None:
    """What the operator does for one suspended Training, done directly."""
    created = kube.create({**training_body(name), "metadata": {"name": name, "namespace": ns}})
    assert created is not None
    owner = Owner.of(created)
    spec = TrainingSpec.model_validate(created["spec"])
    trainer = TrainerSpec.model_validate(TRAINER)
    config = build_run_config(namespace=ns, name=name, uid=owner.uid, spec=spec, trainer=trainer, dataset=None,
                              settings=settings)
    for child in (build_service_account(owner), build_role(owner), build_role_binding(owner),
                  build_run_config_map(owner, config), build_job(owner, spec, trainer, settings)):
        kube.create(child)
    state = TrainingState("Stopped", "Suspended", "stopped")
    kube.patch("kubetune.io/v1alpha1", "Training", ns, name, {"status": {
        "phase": "Stopped", "message": state.message, "attempts": 0, "jobName": lbl.training_job_name(name),
        "observedGeneration": 1, "conditions": training_conditions(state, 1)}}, subresource="status")
    kube.create(build_event(owner, "Stopped", state.message))


def run_baseline(kube: Kube, n: int, workers: int, settings: Settings) -> float:
    namespace(kube, "baseline")
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: baseline_one(kube, "baseline", f"b-{i:05d}", settings), range(n)))
    return time.perf_counter() - start


class JobWatch:
    """Records when each Training's Job is first seen (a watch, from before the burst)."""

    def __init__(self, api: client.ApiClient, ns: str) -> None:
        self.batch = client.BatchV1Api(api)
        self.ns = ns
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        rv = self.batch.list_namespaced_job(ns).metadata.resource_version
        self.thread = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.thread.start()

    def _run(self, rv: str) -> None:
        try:
            self._follow(rv)
        except Exception as exc:  # the control plane stops at the end of the run
            print(f"job watch ended: {type(exc).__name__}", file=sys.stderr)

    def _follow(self, rv: str) -> None:
        while True:
            stream = watch.Watch().stream(self.batch.list_namespaced_job, self.ns, resource_version=rv,
                                          timeout_seconds=600, _preload_content=False)
            for event in stream:
                obj = event["raw_object"]
                rv = obj["metadata"]["resourceVersion"]
                training = obj["metadata"]["labels"].get(lbl.TRAINING)
                if event["type"] == "ADDED" and training:
                    with self.cond:
                        self.seen.setdefault(training, time.perf_counter())
                        self.cond.notify_all()

    def wait(self, names: list[str], timeout: float) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: all(n in self.seen for n in names), timeout=timeout):
                missing = [n for n in names if n not in self.seen]
                raise TimeoutError(f"{len(missing)} Jobs not created, e.g. {missing[:3]}")


def wait_all_stopped(api: client.ApiClient, ns: str, n: int, timeout: float) -> None:
    custom = client.CustomObjectsApi(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = custom.list_namespaced_custom_object("kubetune.io", "v1alpha1", ns, "trainings")
        stopped = {i["metadata"]["name"] for i in listed["items"] if (i.get("status") or {}).get("phase") == "Stopped"}
        if len(stopped) >= n:
            return
        rv = listed["metadata"]["resourceVersion"]
        for _ in watch.Watch().stream(custom.list_namespaced_custom_object, "kubetune.io", "v1alpha1", ns,
                                      "trainings", resource_version=rv, timeout_seconds=30):
            break  # something changed: list again
    raise TimeoutError("not every Training reached Stopped")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_operator(cp: ControlPlane, ns: str, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBETUNE_OPERATOR_ARTIFACT_PVC": "", "KUBETUNE_OPERATOR_METRICS_PORT": "0",
           "KUBETUNE_OPERATOR_HEALTH_PORT": "0", "KUBETUNE_OPERATOR_WORKERS": str(workers),
           "KUBETUNE_OPERATOR_LOG_LEVEL": "WARNING"}
    argv = [sys.executable, "-m", "kubetune.operator.main", "--kubeconfig", str(cp.kubeconfig), "-n", ns,
            "--no-leader-election", "--log-format", "json"]
    return subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def create_all(kube: Kube, ns: str, names: list[str], workers: int) -> dict[str, float]:
    started: dict[str, float] = {}

    def one(name: str) -> None:
        started[name] = time.perf_counter()
        kube.create({**training_body(name), "metadata": {"name": name, "namespace": ns}})

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, names))
    return started


def create_paced(kube: Kube, ns: str, names: list[str], rate: float) -> dict[str, float]:
    """Create at a steady rate (below the API server's limit): latency without a queue."""
    started: dict[str, float] = {}
    begin = time.perf_counter()
    for i, name in enumerate(names):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the load generator, not waiting for a result
        started[name] = time.perf_counter()
        kube.create({**training_body(name), "metadata": {"name": name, "namespace": ns}})
    return started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(args: argparse.Namespace) -> Result:
    settings = Settings(artifact_pvc=None, leader_election=False)
    with ControlPlane.start() as cp, client.ApiClient(client_configuration(cp.kubeconfig)) as api:
        install_crds(api)
        kube = Kube(api)
        kube.create({"apiVersion": "kubetune.io/v1alpha1", "kind": "Trainer", "metadata": {"name": "bench"},
                     "spec": TRAINER})
        baseline = run_baseline(kube, args.burst, args.workers, settings)
        print(f"baseline: {args.burst} Trainings' objects in {baseline:.1f}s", flush=True)

        ns = "bench"
        namespace(kube, ns)
        log = Path(args.log)
        proc = start_operator(cp, ns, args.workers, log)
        try:
            jobs = JobWatch(api, ns)
            create_all(kube, ns, ["warmup"], 1)  # the operator is up once it handles one
            jobs.wait(["warmup"], timeout=120)
            names = [f"t-{i:05d}" for i in range(args.burst)]
            cpu_before = cpu_seconds(proc.pid)
            started = create_all(kube, ns, names, args.workers)
            jobs.wait(names, timeout=1800)
            burst_cpu = cpu_seconds(proc.pid) - cpu_before
            latencies = [jobs.seen[n] - started[n] for n in names]
            total = max(jobs.seen[n] for n in names) - min(started.values())
            print(f"operator: {args.burst} Jobs in {total:.1f}s; p50 {percentile(latencies, 0.5):.2f}s "
                  f"p99 {percentile(latencies, 0.99):.2f}s; operator CPU {burst_cpu:.1f}s", flush=True)

            wait_all_stopped(api, ns, args.burst + 1, timeout=1800)  # let the burst settle first
            paced = [f"p-{i:05d}" for i in range(args.paced)]
            rate = args.paced_fraction * args.burst / baseline
            started_paced = create_paced(kube, ns, paced, rate)
            jobs.wait(paced, timeout=600)
            paced_latencies = [jobs.seen[n] - started_paced[n] for n in paced]
            print(f"paced at {rate:.1f}/s: p50 {percentile(paced_latencies, 0.5):.2f}s "
                  f"p99 {percentile(paced_latencies, 0.99):.2f}s", flush=True)

            more = [f"m-{i:05d}" for i in range(max(0, args.total - args.burst - args.paced - 1))]
            for start in range(0, len(more), 500):
                chunk = more[start:start + 500]
                create_all(kube, ns, chunk, args.workers)
                jobs.wait(chunk, timeout=1800)
            wait_all_stopped(api, ns, args.total, timeout=1800)
            busy, _ = rss_mb(proc.pid)
            # The operator returns freed memory every 30 s (memory_trim_seconds): sample past two trims.
            time.sleep(65)
            rss, peak = rss_mb(proc.pid)
            print(f"memory right after the last Training settled: {busy:.0f} MB", flush=True)
            print(f"memory: {rss:.0f} MB resident (peak {peak:.0f} MB) with {args.total} Trainings", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    return Result(
        trainings=args.burst, workers=args.workers, baseline_seconds=round(baseline, 2),
        operator_seconds=round(total, 2), overhead_ratio=round(total / baseline, 2),
        latency_p50_seconds=round(percentile(latencies, 0.5), 3),
        latency_p99_seconds=round(percentile(latencies, 0.99), 3), latency_max_seconds=round(max(latencies), 3),
        operator_cpu_ms_per_training=round(1000 * burst_cpu / args.burst, 1),
        paced_rate_per_second=round(rate, 1), paced_latency_p50_seconds=round(percentile(paced_latencies, 0.5), 3),
        paced_latency_p99_seconds=round(percentile(paced_latencies, 0.99), 3),
        memory_trainings=args.total, operator_rss_mb=round(rss, 1), operator_peak_rss_mb=round(peak, 1),
        operator_rss_before_trim_mb=round(busy, 1),
        command=" ".join(["bench/operator/run.py", *sys.argv[1:]]),
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=1000, help="Trainings created at once (latency, time)")
    parser.add_argument("--total", type=int, default=5000, help="Trainings present for the memory figure")
    parser.add_argument("--paced", type=int, default=300, help="Trainings created at a steady rate")
    parser.add_argument("--paced-fraction", type=float, default=0.5,
                        help="steady rate as a fraction of the baseline's throughput")
    parser.add_argument("--workers", type=int, default=16, help="operator workers = baseline threads")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "operator.json"))
    parser.add_argument("--log", default="/tmp/kubetune-bench-operator.log", help="operator log file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    result = main(arguments)
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))
    print(f"total time: operator / baseline = {result.overhead_ratio:.2f}x (target <= 1.5x); "
          f"burst p99 {result.latency_p99_seconds:.2f}s, paced p99 {result.paced_latency_p99_seconds:.2f}s "
          f"(target < 2s); memory {result.operator_rss_mb:.0f} MB "
          f"(target < 300 MB)")
