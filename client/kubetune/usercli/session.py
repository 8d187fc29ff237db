"""The logged-in client a command uses: URL and token from the config file, overridable by flags/env."""

from __future__ import annotations

import argparse
import os

from kubetune.client import Client
from kubetune.client import config as cfg


class NotLoggedInError(Exception):
    """No URL or token: `kubetune login` first (exit code 3, like any auth failure)."""


def client(args: argparse.Namespace) -> Client:
    conf = cfg.load()
    url = getattr(args, "url", None) or os.environ.get("KUBETUNE_URL") or conf.url
    token = os.environ.get("KUBETUNE_TOKEN") or conf.token
    if not url or not token:
        raise NotLoggedInError(f"not logged in: run `kubetune login --url URL` (config: {cfg.config_path()})")
    return Client(url, token)
