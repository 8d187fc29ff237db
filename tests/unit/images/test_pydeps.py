"""hack/images/pydeps.py: which packages the CPU runtime leaves out, which wheels a wheelhouse takes, and
the requirement sets it reads from pyproject.toml (pure functions; the builds themselves: tests/images)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pydeps", REPO / "hack/images/pydeps.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["pydeps"] = module
    spec.loader.exec_module(module)
    return module


pydeps = _load()


def item(name: str, version: str, *requires: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}}


# The shape of PyPI's torch 2.11 stack, as pip's report gives it.
REPORT = [
    item("torch", "2.11.0", "filelock", "cuda-toolkit[cublas,cudart]==13.0.2; platform_system == \"Linux\"",
         "cuda-bindings<14,>=13.0.3; platform_system == \"Linux\"", "nvidia-cudnn-cu13==9.19.0.56",
         "triton==3.6.0; platform_system == \"Linux\"", "optree>=0.13.0; extra == \"optree\""),
    item("filelock", "4.3.2"),
    item("cuda-toolkit", "13.0.2", "nvidia-cublas==13.1.0.3; extra == \"cublas\"",
         "nvidia-cuda-runtime==13.0.96; extra == \"cudart\"", "nvidia-cuda-nvrtc==13.0.88; extra == \"nvrtc\"",
         "nvidia-cusolver==12.0.4.66; extra == \"cusolver\""),
    item("nvidia-cublas", "13.1.0.3"),
    item("nvidia-cuda-runtime", "13.0.96"),
    item("nvidia-cuda-nvrtc", "13.0.88"),
    item("nvidia-cusolver", "12.0.4.66"),
    item("nvidia-cudnn-cu13", "9.19.0.56", "nvidia-cublas"),
    item("cuda-bindings", "13.5.0", "cuda-pathfinder~=1.1"),
    item("cuda-pathfinder", "1.9.1"),
    item("triton", "3.6.0"),
    item("nvidia-ml-py", "13.615.71"),
    item("peft", "0.21.2", "torch>=1.13.0"),
]


def test_cpu_drops_what_only_a_gpu_loads_and_keeps_what_torch_links() -> None:
    dropped = pydeps.gpu_only(REPORT, ["torch==2.11.0", "peft==0.21.2", "nvidia-ml-py==13.615.71"])
    # triton, cuda-bindings (and what only they pull), nvrtc and cusolver go ...
    assert dropped == {"triton", "cuda-bindings", "cuda-pathfinder", "nvidia-cuda-nvrtc", "nvidia-cusolver"}


def test_cpu_follows_extras_to_the_libraries_torch_links() -> None:
    dropped = pydeps.gpu_only(REPORT, ["torch==2.11.0"])
    # ... while cudart and cublas, reached only through cuda-toolkit's extras, stay (libtorch_cuda.so links them).
    for kept in ("cuda-toolkit", "nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cudnn-cu13", "filelock"):
        assert kept not in dropped
    # NVML's Python bindings are a direct requirement, not a CUDA library.
    assert "nvidia-ml-py" in pydeps.gpu_only(REPORT, ["torch==2.11.0"])
    assert "nvidia-ml-py" not in pydeps.gpu_only(REPORT, ["torch==2.11.0", "nvidia-ml-py"])


def test_requirements_from_pyproject() -> None:
    pyproject = REPO / "pyproject.toml"
    operator = pydeps.requirements(pyproject, "operator")
    assert any(r.startswith("pydantic==") for r in operator) and any(r.startswith("kopf==") for r in operator)
    assert not any(r.startswith("torch") for r in operator + pydeps.requirements(pyproject, "api"))
    assert any(r.startswith("hatchling") for r in pydeps.requirements(pyproject, "build"))
    with pytest.raises(SystemExit, match="no extra 'gpu'"):
        pydeps.requirements(pyproject, "gpu")


def test_wheel_files_take_the_pinned_versions_and_refuse_a_gap(tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    pool.mkdir()
    for name in ("pydantic_core-2.50.4-cp311-cp311-manylinux_2_17_x86_64.whl", "PyYAML-6.0.3-cp311-cp311-any.whl",
                 "pyyaml-6.0.2-cp311-cp311-any.whl"):
        (pool / name).write_bytes(b"")
    lock = tmp_path / "api.txt"
    lock.write_text("pydantic-core==2.50.4\npyyaml==6.0.3\n")
    assert pydeps.wheel_files(pool, [lock]) == ["PyYAML-6.0.3-cp311-cp311-any.whl",
                                                "pydantic_core-2.50.4-cp311-cp311-manylinux_2_17_x86_64.whl"]
    lock.write_text("pyyaml==6.0.3\nfastapi==0.163.2\n")
    with pytest.raises(SystemExit, match=re.escape("fastapi==0.163.2")):
        pydeps.wheel_files(pool, [lock])


def test_install_refuses_a_wheelhouse_without_the_sets_lock(tmp_path: Path) -> None:
    (tmp_path / "operator.txt").write_text("pyyaml==6.0.3\n")
    with pytest.raises(SystemExit, match=re.escape("no runtime-cpu.txt")):
        pydeps.install(sys.executable, REPO / "pyproject.toml", "runtime", True, tmp_path)
