"""Fixtures for the facade's unit tests (helpers live in api_env.py)."""

from api_env import chat_jsonl, env

__all__ = ["chat_jsonl", "env"]
