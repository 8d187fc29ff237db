"""pytest imports test modules by basename (rootdir-relative packages are not used here): two files with one
name anywhere under tests/ stop the whole run at collection. Caught here with the file names.

Without packages, a fixture of scope "package" lives to the end of the session, so a folder's operator or
node would keep running under every later test: that scope is refused here too."""

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


def test_no_fixture_claims_package_scope() -> None:
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if "__pycache__" not in p.parts and p.name != Path(__file__).name
                 and 'scope="package"' in p.read_text()]
    assert not offenders, f"package scope is session scope here (no __init__.py): {offenders}"
