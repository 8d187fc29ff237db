"""A small synchronous client of vLLM's OpenAI server, for the model thread of kubetune's server.

Prompts go as token ids, encoded by kubetune with the model's own tokenizer: truncation, special tokens and
the scoring prefix then match the transformers runtime exactly, and vLLM never re-tokenizes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx


class VLLMError(Exception):
    """vLLM answered with an error or could not be reached."""


class VLLMClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 600.0,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # vLLM listens on the pod's loopback: no proxy may stand between the two containers.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers=headers,
            trust_env=False,
            transport=transport,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as error:
            raise VLLMError(f"vLLM at {self._http.base_url} is unreachable: {error}") from error
        if response.status_code >= 400:
            raise VLLMError(f"vLLM {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def healthy(self) -> bool:
        try:
            return self._http.get("/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def models(self) -> list[dict[str, Any]]:
        try:
            response = self._http.get("/v1/models")
        except httpx.HTTPError as error:
            raise VLLMError(f"vLLM at {self._http.base_url} is unreachable: {error}") from error
        if response.status_code >= 400:
            raise VLLMError(f"vLLM /v1/models answered {response.status_code}: {response.text[:500]}")
        data: list[dict[str, Any]] = response.json().get("data", [])
        return data

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/v1/completions", body).json()
        return result

    def stream_completion(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The chunks of a streamed completion (server-sent events), until [DONE]."""
        try:
            with self._http.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise VLLMError(f"vLLM /v1/completions answered {response.status_code}: {response.text[:500]}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    yield json.loads(data)
        except httpx.HTTPError as error:
            raise VLLMError(f"vLLM stream failed: {error}") from error

    def load_lora_adapter(self, name: str, path: str) -> None:
        """Needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True in vLLM's environment (the operator sets it)."""
        self._post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": path})

    def unload_lora_adapter(self, name: str) -> None:
        self._post("/v1/unload_lora_adapter", {"lora_name": name})
