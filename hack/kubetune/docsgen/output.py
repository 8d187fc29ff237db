"""Write a generated document, or report that the committed one is stale (the `--check` mode)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: object) -> str:
    return f"`{cell(text)}`" if str(text) else ""


def write_or_check(argv: list[str] | None, doc: Callable[[], str], path: Path, description: str | None) -> int:
    """`python -m <generator> [--check]`: rewrite `path`, or exit 1 when it differs from doc()."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = doc()
    current = path.read_text() if path.exists() else None
    if args.check:
        if current != text:
            print(f"stale: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(REPO_ROOT))
    return 0
