"""Two "pods" (processes with the Indexed Job's environment) meet through the c10d rendezvous on node
0 and train like one process; a node whose peers never come fails after the rendezvous timeout with a
clear message and the transient exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_processes import free_port, logged_losses, run_config, start_node, write_config

from kubetune.crd.exit_codes import EXIT_TRANSIENT
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.train.runner import run

pytestmark = pytest.mark.integration


def test_two_nodes_rendezvous_and_train_like_one_process(tiny_llama: Path, memorisable: Path, tmp_path: Path) -> None:
    hp = {"maxSteps": 3}
    single = run(
        TrainRunConfig.model_validate(run_config(tiny_llama, memorisable, tmp_path / "one", batchSize=4, **hp))
    )
    config = run_config(
        tiny_llama,
        memorisable,
        tmp_path / "two",
        batchSize=2,
        distributed={"nodes": 2, "rendezvousTimeoutSeconds": 120},
        **hp,
    )
    config["training"] = {"namespace": "team", "name": "gang", "uid": "uid-gang"}
    path = write_config(config, tmp_path / "two.json")
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [start_node(path, tmp_path / f"node-{i}.log", i, endpoint) for i in (1, 0)]  # the host comes last
    codes = [node.wait(timeout=600) for node in nodes]
    for i in (0, 1):
        print((tmp_path / f"node-{i}.log").read_text(errors="replace")[-3000:])
    assert codes == [0, 0]
    assert logged_losses(tmp_path / "two") == pytest.approx(single.losses, rel=2e-3, abs=2e-4)
    assert "node 1 of 2" in (tmp_path / "node-1.log").read_text()


def test_a_node_alone_gives_up_after_the_rendezvous_timeout(
    tiny_llama: Path, memorisable: Path, tmp_path: Path
) -> None:
    config = run_config(
        tiny_llama, memorisable, tmp_path / "alone", distributed={"nodes": 2, "rendezvousTimeoutSeconds": 10}
    )
    node = start_node(
        write_config(config, tmp_path / "alone.json"), tmp_path / "alone.log", 0, f"127.0.0.1:{free_port()}"
    )
    assert node.wait(timeout=300) == EXIT_TRANSIENT
    reason = (tmp_path / "alone-termination-log").read_text()
    assert "not all 2 nodes joined within 10s" in reason
