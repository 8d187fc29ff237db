"""The launcher's contract with the operator (environment to torchrun settings) and the exit codes."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd.exit_codes import EXIT_OK, EXIT_PERMANENT, EXIT_STOPPED, EXIT_TRANSIENT
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.distributed import failures
from kubetune.train.distributed.launch import RDZV_PORT, exit_code_of, is_worker, launch_config, needs_launch, plan
from kubetune.train.loop import _rebatched

pytestmark = pytest.mark.unit


def _config(**distributed: Any) -> TrainRunConfig:
    return TrainRunConfig.model_validate(
        {
            "baseModel": "/models/x",
            "dataset": {"uri": "/data/train.jsonl", "format": "openai_chat_jsonl"},
            "output": "/out",
            "training": {"namespace": "team", "name": "big", "uid": "uid-1"},
            "distributed": distributed,
        }
    )


def test_one_process_never_launches_and_workers_never_relaunch() -> None:
    assert not needs_launch(_config(), {})
    assert needs_launch(_config(processesPerNode=2), {})
    assert not needs_launch(_config(processesPerNode=2), {"LOCAL_RANK": "0"})
    assert is_worker({"TORCHELASTIC_RUN_ID": "x"}) and not is_worker({"RANK": "0"})


def test_single_node_is_standalone_on_a_private_port() -> None:
    launch = plan(_config(processesPerNode=4), {})
    assert (launch.nodes, launch.processes_per_node, launch.node_rank) == (1, 4, 0)
    assert launch.rdzv_endpoint == "localhost:0"
    settings = launch_config(launch, {})
    assert (settings.min_nodes, settings.max_nodes, settings.nproc_per_node) == (1, 1, 4)
    assert settings.rdzv_backend == "c10d" and settings.max_restarts == 0
    assert "is_host" not in settings.rdzv_configs and settings.local_addr == "127.0.0.1"


def test_multi_node_reads_the_index_endpoint_and_id_from_the_pod() -> None:
    env = {"JOB_COMPLETION_INDEX": "2", "KUBETUNE_RDZV_ENDPOINT": "big-0.big-workers"}
    launch = plan(_config(processesPerNode=2, nodes=3, rendezvousTimeoutSeconds=90), env)
    assert (launch.node_rank, launch.is_host, launch.run_id) == (2, False, "uid-1")
    assert launch.rdzv_endpoint == f"big-0.big-workers:{RDZV_PORT}"
    settings = launch_config(launch, {"KUBETUNE_LOCAL_ADDR": "10.0.0.7"})
    assert settings.rdzv_configs["join_timeout"] == 90 and settings.rdzv_configs["is_host"] is False
    assert (settings.min_nodes, settings.max_nodes, settings.local_addr) == (3, 3, "10.0.0.7")
    host = plan(_config(nodes=2), {"NODE_RANK": "0", "KUBETUNE_RDZV_ENDPOINT": "h:1234", "KUBETUNE_RDZV_ID": "r"})
    assert (host.is_host, host.rdzv_endpoint, host.run_id) == (True, "h:1234", "r")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOB_COMPLETION_INDEX": "0"}, "need KUBETUNE_RDZV_ENDPOINT"),
        ({"JOB_COMPLETION_INDEX": "5", "KUBETUNE_RDZV_ENDPOINT": "h"}, "outside 0..1"),
        ({"NODE_RANK": "one", "KUBETUNE_RDZV_ENDPOINT": "h"}, "not a node index"),
    ],
)
def test_multi_node_without_a_usable_environment_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(_config(nodes=2), env)


def test_node_exit_code_prefers_permanent_then_transient_then_stopped() -> None:
    assert exit_code_of({}) == EXIT_OK
    assert exit_code_of({0: EXIT_TRANSIENT, 1: EXIT_PERMANENT}) == EXIT_PERMANENT
    assert exit_code_of({0: EXIT_STOPPED, 1: -15}) == EXIT_STOPPED
    assert exit_code_of({0: EXIT_STOPPED, 1: 1}) == EXIT_TRANSIENT
    assert exit_code_of({1: -9}) == EXIT_TRANSIENT  # killed (OOM): may succeed on retry


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FileNotFoundError("hf://nope not found"), EXIT_PERMANENT),
        (ValueError("maxSeqLength 4096 exceeds the model's 128 positions"), EXIT_PERMANENT),
        (OSError("nope is not a valid model identifier"), EXIT_PERMANENT),
        (failures.PermanentError("qlora needs bitsandbytes"), EXIT_PERMANENT),
        (ConnectionResetError("peer"), EXIT_TRANSIENT),
        (OSError(28, "No space left on device"), EXIT_TRANSIENT),
        (RuntimeError("CUDA error: an illegal memory access"), EXIT_TRANSIENT),
    ],
)
def test_errors_while_preparing_are_classified(error: Exception, code: int) -> None:
    with pytest.raises(type(error)) as raised, failures.preparing():
        raise error
    assert failures.exit_code(raised.value) == code


def test_input_errors_after_preparing_are_transient() -> None:
    assert failures.exit_code(ValueError("nan loss at step 7")) == EXIT_TRANSIENT


def test_a_checkpoint_of_another_global_batch_resumes_at_the_same_examples() -> None:
    # 2 processes x batch 2 x accumulation 2: 8 examples per window; 3 windows seen = 24 examples.
    state = _rebatched({"step": 3, "epoch": 0, "window": 3, "global_batch": 4}, global_batch=2, accumulation=2)
    assert state["window"] == 6 and state["global_batch"] == 2
    same = _rebatched({"step": 3, "epoch": 0, "window": 3, "global_batch": 4}, global_batch=4, accumulation=2)
    assert same["window"] == 3
    assert _rebatched({"window": 3}, global_batch=8, accumulation=1)["window"] == 3  # older checkpoints
