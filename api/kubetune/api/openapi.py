"""Write or check the committed OpenAPI document (api/openapi.json).

    python -m kubetune.api.openapi            # regenerate api/openapi.json
    python -m kubetune.api.openapi --check    # exit 1 when the file differs from the app
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "openapi.json"


def document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a cluster (the fake is never called)."""
    from pydantic import SecretStr

    from kubetune.api.cluster.fake import FakeCluster
    from kubetune.api.core.config import Settings
    from kubetune.api.main import create_app

    settings = Settings(environment="development", jwt_secret=SecretStr("x" * 40),
                        storage_root="file:///var/lib/kubetune/artifacts")
    return create_app(settings, FakeCluster(), start_cache=False).openapi()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when the committed file has drifted")
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is out of date: run python -m kubetune.api.openapi", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
