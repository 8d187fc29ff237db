"""`kubetune completion bash|zsh|fish`: each script parses in its real shell (bash -n, zsh -n,
fish --no-execute) and completes commands, options and option values when the shell runs it.

zsh's completion system needs a terminal; its script is run with `_describe`, `_files` and `compadd`
stood in by functions that print what they are offered (the generated logic is what is under test).
The shells come from Debian (hack/shells/setup.sh, part of `make setup`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kubetune.cli import main


def _script(shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["completion", shell]) == 0
    path = tmp_path / f"kubetune.{shell}"
    path.write_text(capsys.readouterr().out)
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: run hack/shells/setup.sh (make setup does)")
    return found


def _run(*argv: str) -> list[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(("shell", "check"), [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")])
def test_the_script_parses_in_its_shell(shell: str, check: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(shell, tmp_path, capsys)
    assert "kubetune" in script.read_text() and "train" in script.read_text()
    _run(_shell(shell), check, str(script))


def test_bash_completes_commands_after_an_option_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script("bash", tmp_path, capsys)
    run = f'source {script}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kubetune; printf "%s\\n" "${{COMPREPLY[@]}}"'
    assert _run(_shell("bash"), "-c", run, "_", "kubetune", "tr") == ["train"]
    assert _run(_shell("bash"), "-c", run, "_", "kubetune", "ls", "-o", "") == ["table", "json", "yaml"]
    assert "--limit" in _run(_shell("bash"), "-c", run, "_", "kubetune", "ls", "-o", "json", "--")


def test_zsh_offers_commands_options_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script("zsh", tmp_path, capsys)
    stubs = ('compdef() { :; }; _describe() { print -l -- "${(@P)${@[-1]}}"; }; _files() { print FILES; }; '
             "compadd() { shift; print -l -- \"$@\"; }; ")
    run = stubs + f'source {script}; words=("$@"); CURRENT=$#; _kubetune'
    top = _run(_shell("zsh"), "-fc", run, "_", "kubetune", "")
    assert "train:submit a training; prints its id" in top
    assert any(line.startswith("logs:") for line in top) and any(line.startswith("--version:") for line in top)
    assert _run(_shell("zsh"), "-fc", run, "_", "kubetune", "ls", "-o", "") == ["table", "json", "yaml"]
    after_value = _run(_shell("zsh"), "-fc", run, "_", "kubetune", "ls", "-o", "json", "")
    assert any(line.startswith("--limit") for line in after_value) and not any("train:" in x for x in after_value)
    assert any(line.startswith("upload:") for line in _run(_shell("zsh"), "-fc", run, "_", "kubetune", "datasets", ""))


def test_fish_completes_commands_options_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script("fish", tmp_path, capsys)

    def complete(line: str) -> list[str]:
        return _run(_shell("fish"), "--no-config", "-c", f"source {script}; complete -C '{line}'")

    assert complete("kubetune tr") == ["train\tsubmit a training; prints its id"]
    assert [c.split("\t")[0] for c in complete("kubetune ls -o ")] == ["json", "table", "yaml"]
    assert "--limit" in [c.split("\t")[0] for c in complete("kubetune ls -o json --")]
    assert {"upload", "ls", "show"} <= {c.split("\t")[0] for c in complete("kubetune datasets ")}
