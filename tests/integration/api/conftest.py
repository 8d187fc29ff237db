"""Fixtures for the facade on the real control plane (helpers in api_facade.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from api_facade import Facade, facade
from kubernetes import client


@pytest_asyncio.fixture(loop_scope="function")
async def api(api_client: client.ApiClient, tmp_path: Path) -> AsyncIterator[Facade]:
    async with facade(api_client, tmp_path / "store") as f:
        yield f
