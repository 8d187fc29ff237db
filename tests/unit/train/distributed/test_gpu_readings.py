"""Every node's GPU readings reach rank 0's status: the node index each reading carries, the order and
cap of the merged list, the cadence rank 0 sets, who reads and who keeps (the collective faked here;
tests/integration/train/test_distributed_gpu_readings.py runs it over a real gloo group)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.crd.training import MAX_GPU_READINGS, TrainingStatus
from kubetune.train.distributed.gpu_readings import GpuReadings, merge, node_index
from kubetune.train.distributed.world import World
from kubetune.train.reporter import validate_status

pytestmark = pytest.mark.unit


def reading(index: int, name: str = "H100") -> dict[str, Any]:
    return {"index": index, "name": name, "utilizationPercent": 50.0, "memoryUsedMb": 1.0, "memoryTotalMb": 80.0}


def test_the_node_index_is_the_pods_index_before_torchruns_node_rank() -> None:
    assert node_index({"JOB_COMPLETION_INDEX": "3", "GROUP_RANK": "0"}) == 3
    assert node_index({"NODE_RANK": "2"}) == 2
    assert node_index({"GROUP_RANK": "1"}) == 1
    assert node_index({"JOB_COMPLETION_INDEX": ""}) == 0
    assert node_index({}) == 0


def test_one_process_reads_its_devices_on_the_reporter_thread_with_node_0() -> None:
    readings = GpuReadings(lambda: [reading(0), reading(1)], node=0)
    readings.attach(World())  # a world of one: no collective
    fields = readings.status_fields()
    assert [(g["node"], g["index"]) for g in fields["gpu"]] == [(0, 0), (0, 1)]
    assert GpuReadings(lambda: [], node=0).status_fields() == {}


def test_the_status_keeps_the_node_of_every_reading() -> None:
    parts: list[list[dict[str, Any]] | None] = [
        [{**reading(1), "node": 0}, {**reading(0), "node": 0}],
        [],  # local rank 1 of node 0 reads nothing
        [{**reading(0, "A100"), "node": 1}],
        None,
    ]
    merged = merge(parts)
    assert [(g["node"], g["index"]) for g in merged] == [(0, 0), (0, 1), (1, 0)]
    wire = validate_status({"gpu": merged})
    assert [g["node"] for g in wire["gpu"]] == [0, 0, 1]
    assert wire["gpu"][2]["name"] == "A100"
    # Readers of the old shape (no node) still validate: the field is optional.
    assert TrainingStatus.model_validate({"gpu": [reading(0)]}).gpu[0].node is None  # type: ignore[index]


def test_a_large_run_reports_its_first_devices_within_the_crd_bound() -> None:
    parts: list[list[dict[str, Any]] | None] = [
        [{**reading(i), "node": n} for i in range(16)] for n in reversed(range(10))
    ]
    merged = merge(parts)
    assert len(merged) == MAX_GPU_READINGS
    assert merged[-1] == {**reading(15), "node": 7}
    validate_status({"gpu": merged})
    with pytest.raises(ValueError):
        validate_status({"gpu": [*merged, {**reading(0), "node": 8}]})


def test_rank_0_asks_for_a_gather_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("kubetune.train.distributed.gpu_readings.time.monotonic", lambda: now[0])
    gathered: list[Any] = []
    monkeypatch.setattr("torch.distributed.gather_object", lambda obj, parts, dst: gathered.append(obj))
    main = GpuReadings(lambda: [reading(0)], interval=5.0, node=0)
    main.attach(World(rank=0, world_size=2))
    other = GpuReadings(lambda: [reading(0)], interval=5.0, node=1)
    other.attach(World(rank=1, world_size=2))
    assert other.due_flag() == 0.0  # only rank 0 decides
    assert main.due_flag() == 1.0  # the first step gathers
    main.collect()
    assert main.due_flag() == 0.0
    now[0] += 5.0
    assert main.due_flag() == 1.0


def test_each_nodes_first_process_reads_and_only_rank_0_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-node x 2-process group: the objects each rank sends, and what rank 0 keeps for its status."""
    sent: dict[int, list[dict[str, Any]]] = {}
    calls = {"reads": 0}

    def reader() -> list[dict[str, Any]]:
        calls["reads"] += 1
        return [reading(0)]

    ranks = [(rank, rank % 2, rank // 2) for rank in range(4)]  # (rank, local rank, node)
    members = []
    for rank, local_rank, node in ranks:
        member = GpuReadings(reader, node=node)
        member.attach(World(rank=rank, world_size=4, local_rank=local_rank))
        members.append(member)

    def gather_object(obj: Any, parts: list[Any] | None, dst: int) -> None:
        sent[len(sent)] = obj
        if parts is not None:  # rank 0 collects last here: everyone else has sent
            parts[:] = [sent[r] for r in range(4)]

    monkeypatch.setattr("torch.distributed.gather_object", gather_object)
    for member in reversed(members):
        member.collect()
    assert calls["reads"] == 2  # local rank 0 of each node, nobody else
    assert sent[0] == [] and sent[2] == []  # ranks 3 and 1 (local rank 1) send nothing
    assert members[0].status_fields() == {"gpu": [{**reading(0), "node": 0}, {**reading(0), "node": 1}]}
    assert members[3].status_fields() == {}  # other ranks keep nothing and never report


def test_a_failing_reader_never_stops_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("NVML gone")

    monkeypatch.setattr("torch.distributed.gather_object", lambda obj, parts, dst: parts.__setitem__(0, obj))
    alone = GpuReadings(broken, node=0)
    alone.attach(World())
    assert alone.status_fields() == {}
    main = GpuReadings(broken, node=0)
    main.attach(World(rank=0, world_size=2))
    main.collect()  # the gather still runs (the peers are in it), with nothing from this node
    assert main.status_fields() == {}
