"""Where `kubetune login` keeps the API URL and token: ~/.config/kubetune/config.json (or $KUBETUNE_CONFIG/),
mode 0600 because it holds a bearer token."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Config:
    url: str | None = None
    token: str | None = None
    username: str | None = None
    project: str | None = None


def config_path() -> Path:
    base = os.environ.get("KUBETUNE_CONFIG")
    directory = Path(base) if base else Path.home() / ".config" / "kubetune"
    return directory / "config.json"


def load() -> Config:
    path = config_path()
    if not path.exists():
        return Config()
    data = json.loads(path.read_text())
    return Config(**{k: data.get(k) for k in ("url", "token", "username", "project")})


def save(config: Config) -> Path:
    """Write atomically with 0600 from the start, so the token is never readable by others, not even briefly."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(config), f, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
