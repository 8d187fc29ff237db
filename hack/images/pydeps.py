"""Resolve and install one image's Python dependencies: the same code on the build host and in a Dockerfile.

Standard library only: it runs in a Dockerfile's build stage before anything is installed.

    # host (hack/images/wheels.sh): resolve against the index for the image's platform, write a lock
    python3 hack/images/pydeps.py lock --extra runtime --cpu --out runtime-cpu.txt --platform-args
    # build stage: install from a wheelhouse (no index) when one is mounted, else resolve against the index
    python3 hack/images/pydeps.py install --extra operator --python /opt/kubetune/bin/python --wheelhouse /wheelhouse
    python3 hack/images/pydeps.py project --python /opt/kubetune/bin/python --wheelhouse /wheelhouse
    /opt/kubetune/bin/python hack/images/pydeps.py stage --dist kubetune --to /stage

`--cpu` leaves out the parts of PyPI's torch stack that only a GPU uses. PyPI's torch 2.11 is the CUDA 13 build and
cannot drop the nvidia-* wheels wholesale: torch/_C links libtorch_cuda.so, whose link closure (readelf NEEDED)
holds cudart, cublas(Lt), cudnn, cufft, cufile, cupti, curand, cusparse (+ nvJitLink), cusparseLt, nccl and
nvshmem, so `import torch` fails without them. What no shared object of torch links, and a CPU never loads, goes:
triton (GPU kernels, 641 MB installed), cusolver (dlopened by GPU linear algebra), nvrtc (GPU run-time
compilation), nvtx and cuda-bindings: about 1.1 GB of 4.4 GB. A lock lists the whole closure as name==version
(installed with --no-deps).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

# What the images run on (Debian bookworm's python3.11, glibc 2.36, x86_64): the host resolves for this
# platform, whatever its own interpreter is.
# pip does not widen a --platform to the older manylinux tags it implies, so every one is named.
_MANYLINUX = [f"manylinux_2_{v}_x86_64" for v in range(36, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
PLATFORM_ARGS = ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--only-binary", ":all:"]
PLATFORM_ARGS += [arg for tag in _MANYLINUX for arg in ("--platform", tag)]
# The build backend of pyproject.toml, needed (offline) to build the project's own wheel in the image.
BUILD_SET = "build"
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"extra\s*==\s*[\"']([^\"']+)[\"']")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def set_name(extra: str, cpu: bool) -> str:
    return f"{extra}-cpu" if cpu else extra


def requirements(pyproject: Path, extra: str) -> list[str]:
    """The core dependencies plus one extra's (or the build backend's requirements for `build`)."""
    data = tomllib.loads(pyproject.read_text())
    if extra == BUILD_SET:
        return list(data["build-system"]["requires"])
    extras = data["project"].get("optional-dependencies", {})
    if extra not in extras:
        raise SystemExit(f"pydeps: pyproject.toml has no extra {extra!r} (has: {', '.join(sorted(extras))})")
    return list(data["project"]["dependencies"]) + list(extras[extra])


def resolve(python: str, reqs: list[str], extra_pip_args: list[str]) -> list[dict[str, object]]:
    """pip's own resolver, without installing: the report lists every package of the closure."""
    with tempfile.TemporaryDirectory() as tmp:
        req_file = Path(tmp, "requirements.txt")
        req_file.write_text("\n".join(reqs) + "\n")
        report = Path(tmp, "report.json")
        # --target: pip accepts platform options only with it (nothing is written on a dry run).
        cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--target",
               str(Path(tmp, "target")), "--report", str(report), "-r", str(req_file), *extra_pip_args]
        subprocess.run(cmd, check=True)
        install: list[dict[str, object]] = json.loads(report.read_text())["install"]
        return install


def _requires(item: dict[str, object]) -> list[str]:
    meta = item["metadata"]
    assert isinstance(meta, dict)
    return list(meta.get("requires_dist") or [])


# Packages only a GPU uses (see the module docstring), and what becomes unreachable without them.
CPU_DROP = frozenset({"triton", "nvidia-cusolver", "nvidia-cuda-nvrtc", "nvidia-nvtx", "cuda-bindings"})


def _parse(req: str) -> tuple[str, set[str], str] | None:
    """name, extras and marker of a requirement string (enough of PEP 508 for pip's report)."""
    m = _REQ.match(req)
    if not m:
        return None
    extras = {canonical(e) for e in (m.group(2) or "").split(",") if e.strip()}
    return canonical(m.group(1)), extras, req.partition(";")[2]


def gpu_only(items: list[dict[str, object]], reqs: list[str]) -> set[str]:
    """Packages of the closure reachable only through CPU_DROP: the closure without edges into CPU_DROP.

    Extras are followed (torch pulls its CUDA libraries through cuda-toolkit[cublas,cudart,...]).
    """
    by_name = {canonical(str(i["metadata"]["name"])): i for i in items}  # type: ignore[index]
    seen: dict[str, set[str]] = {}
    stack = [p[:2] for r in reqs if (p := _parse(r)) and p[0] in by_name and p[0] not in CPU_DROP]
    while stack:
        name, extras = stack.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        for req in _requires(by_name[name]):
            parsed = _parse(req)
            if not parsed:
                continue
            dep, dep_extras, marker = parsed
            wanted = _EXTRA.search(marker)
            if wanted and canonical(wanted.group(1)) not in seen[name]:
                continue
            if dep in by_name and dep not in CPU_DROP:
                stack.append((dep, dep_extras))
    return set(by_name) - set(seen)


def lock(python: str, pyproject: Path, extra: str, cpu: bool, extra_pip_args: list[str]) -> list[str]:
    reqs = requirements(pyproject, extra)
    items = resolve(python, reqs, extra_pip_args)
    drop = gpu_only(items, reqs) if cpu else set()
    pins = []
    for item in items:
        meta = item["metadata"]
        assert isinstance(meta, dict)
        if canonical(meta["name"]) not in drop:
            pins.append(f"{canonical(meta['name'])}=={meta['version']}")
    return sorted(pins)


def install(python: str, pyproject: Path, extra: str, cpu: bool, wheelhouse: Path | None) -> None:
    name = set_name(extra, cpu)
    locked = wheelhouse / f"{name}.txt" if wheelhouse else None
    # An empty mount (the Dockerfiles' default stage) means the index; a wheelhouse without this set's lock
    # is a mistake, not a reason to go online.
    if wheelhouse and locked and not locked.is_file() and any(wheelhouse.iterdir()):
        raise SystemExit(f"pydeps: the wheelhouse {wheelhouse} has no {locked.name} (rebuild: hack/images/wheels.sh)")
    if locked and locked.is_file():
        print(f"pydeps: {name} from the wheelhouse {wheelhouse} (no index)", flush=True)
        cmd = [python, "-m", "pip", "install", "--no-index", "--find-links", str(wheelhouse), "--no-deps",
               "-r", str(locked)]
        subprocess.run(cmd, check=True)
        return
    print(f"pydeps: {name} from the package index", flush=True)
    pins = lock(python, pyproject, extra, cpu, [])
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("\n".join(pins) + "\n")
        f.flush()
        subprocess.run([python, "-m", "pip", "install", "--no-deps", "-r", f.name], check=True)


def install_project(python: str, source: Path, wheelhouse: Path | None) -> None:
    """The project's own wheel, dependencies already in place; offline, its build backend comes from the wheelhouse."""
    cmd = [python, "-m", "pip", "install", "--no-deps"]
    if wheelhouse and (wheelhouse / f"{BUILD_SET}.txt").is_file():
        cmd += ["--no-index", "--find-links", str(wheelhouse)]
    subprocess.run([*cmd, str(source)], check=True)


def stage(dist: str, to: Path) -> int:
    """Copy an installed distribution's files to `to`, keeping their absolute paths.

    Run by the venv's interpreter in a build stage: the final stage takes the dependencies' venv (a layer
    that changes only with pyproject.toml) and then this small tree, so a source edit adds megabytes, not the
    whole venv again.
    """
    copied = 0
    for file in importlib.metadata.distribution(dist).files or []:
        src = Path(os.path.normpath(file.locate()))
        if not src.is_file():
            continue
        dst = to / src.relative_to("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        copied += 1
    if not copied:
        raise SystemExit(f"pydeps: no files of {dist!r} to stage")
    return copied


def wheel_files(pool: Path, locks: list[Path]) -> list[str]:
    """The wheels in pool that the locks pin (a shared download folder holds other versions too)."""
    pins = {line.strip() for lock in locks for line in lock.read_text().splitlines() if line.strip()}
    chosen: dict[str, str] = {}
    for wheel in sorted(pool.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        pin = f"{canonical(name)}=={version}"
        if pin in pins:
            chosen[pin] = wheel.name
    if missing := sorted(pins - set(chosen)):
        raise SystemExit(f"pydeps: no wheel in {pool} for {', '.join(missing)}")
    return sorted(chosen.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["lock", "install", "project", "files", "stage"])
    parser.add_argument("--extra", default="", help=f"lock, install: an extra of pyproject.toml, or {BUILD_SET!r}")
    parser.add_argument("--cpu", action="store_true", help="leave out what only a GPU uses (CPU_DROP)")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose pip resolves or installs")
    parser.add_argument("--wheelhouse", type=Path, help="install: a folder with <set>.txt and its wheels")
    parser.add_argument("--out", type=Path, help="lock: where to write the pins (default: stdout)")
    parser.add_argument("--platform-args", action="store_true", help="lock: resolve for the images' platform")
    parser.add_argument("--pool", type=Path, help="files: the download folder")
    parser.add_argument("--dist", default="kubetune", help="stage: the installed distribution")
    parser.add_argument("--to", type=Path, help="stage: where its files go (absolute paths kept)")
    parser.add_argument("--locks", nargs="+", type=Path, default=[], help="files: lock files")
    args = parser.parse_args(argv)
    if args.command == "stage":
        print(f"pydeps: staged {stage(args.dist, args.to)} files of {args.dist} in {args.to}")
        return
    if args.command == "files":
        print("\n".join(wheel_files(args.pool, args.locks)))
        return
    if args.command == "project":
        install_project(args.python, args.pyproject.parent, args.wheelhouse)
        return
    if not args.extra:
        parser.error("--extra is required")
    if args.command == "lock":
        pins = lock(args.python, args.pyproject, args.extra, args.cpu, PLATFORM_ARGS if args.platform_args else [])
        text = "\n".join(pins) + "\n"
        if args.out:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
    else:
        install(args.python, args.pyproject, args.extra, args.cpu, args.wheelhouse)


if __name__ == "__main__":
    main()
