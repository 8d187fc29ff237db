"""pytest imports test modules by basename (rootdir-relative packages are not used here): two files with one
name anywhere under tests/ stop the whole run at collection. Caught here with the file names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).parents[1]


def test_module_basenames_are_unique() -> None:
    # tests/images is its own run (make test-images), never collected with the rest.
    modules = [p for p in TESTS.rglob("*.py") if "images" not in p.relative_to(TESTS).parts[:1]
               and p.name != "conftest.py" and "__pycache__" not in p.parts]
    twice = sorted(name for name, n in Counter(p.name for p in modules).items() if n > 1)
    assert not twice, {name: [str(p.relative_to(TESTS)) for p in modules if p.name == name] for name in twice}
