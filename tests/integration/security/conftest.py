"""The tenancy suite: attacks tried as two ordinary accounts would, through REST, kubectl and pods.

The helper modules of the api and operator suites (api_facade.py, operator_waits.py) are importable here,
so every test file in this folder builds on the same facade and operator harnesses.
"""

from __future__ import annotations

import sys
from pathlib import Path

_INTEGRATION = Path(__file__).resolve().parent.parent
for _suite in ("api", "operator"):
    if str(_INTEGRATION / _suite) not in sys.path:
        sys.path.append(str(_INTEGRATION / _suite))
