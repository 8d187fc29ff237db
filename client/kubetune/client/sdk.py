"""`Client`: the kubetune REST API as typed Python calls.

Responses are parsed into the facade's own pydantic schemas (kubetune.api.schemas), so the SDK and
the server cannot drift apart silently: a renamed field fails here, in a test, not in a user's script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from kubetune.api.schemas.platform import (
    DatasetList,
    DatasetRead,
    LossCurve,
    ProjectList,
    ProjectRead,
    Token,
    UserRead,
)
from kubetune.api.schemas.serving import InferenceServiceList, InferenceServiceRead
from kubetune.api.schemas.sktai import TrainingCreate, TrainingRead, TrainingsRead, TrainingStatusRead
from kubetune.client.errors import error_for

M = TypeVar("M", bound=BaseModel)
# A training's stream stays quiet between steps; the server sends keep-alives, so a long read timeout is safe.
STREAM_TIMEOUT = httpx.Timeout(30, read=300)


@dataclass
class ProgressFrame:
    """One frame of a training's SSE stream: `kind` is status, event, progress or end."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                return str(value.get("message") or value)
            if value:
                return str(value)
    return json.dumps(body)[:500]


class Client:
    """A kubetune API client. `token` is a bearer token (`Client.login` gets one from a password)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        resp = self.http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            raise error_for(resp.status_code, _detail(resp), method, path)
        return resp

    def _get(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate(self._request("GET", path, **kwargs).json())

    # -- auth
    @classmethod
    def login(cls, url: str, username: str, password: str, *,
              transport: httpx.BaseTransport | None = None) -> Token:
        """Exchange a username and password for a bearer token (OAuth2 password form)."""
        with cls(url, transport=transport) as anon:
            resp = anon._request("POST", "/api/v1/auth/token", data={"username": username, "password": password})
            return Token.model_validate(resp.json())

    def me(self) -> UserRead:
        return self._get(UserRead, "/api/v1/auth/me")

    # -- projects
    def projects(self) -> list[ProjectRead]:
        return self._get(ProjectList, "/api/v1/projects").projects

    def create_project(self, name: str, description: str | None = None) -> ProjectRead:
        body = {"name": name, "description": description}
        return ProjectRead.model_validate(self._request("POST", "/api/v1/projects", json=body).json())

    def project(self, project_id: int | str) -> ProjectRead:
        return self._get(ProjectRead, f"/api/v1/projects/{project_id}")

    def default_project(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/api/v1/auth/me/default-project").json()
        return result

    def set_default_project(self, project: int | str) -> dict[str, Any]:
        resp = self._request("PUT", "/api/v1/auth/me/default-project", json={"project_id": str(project)})
        result: dict[str, Any] = resp.json()
        return result

    # -- datasets
    def datasets(self, project_id: int | None = None) -> list[DatasetRead]:
        params = {"project_id": project_id} if project_id is not None else {}
        return self._get(DatasetList, "/api/v1/datasets", params=params).datasets

    def upload_dataset(self, path: Path, project_id: int | str | None = None) -> dict[str, Any]:
        with path.open("rb") as f:
            params = {"project_id": str(project_id)} if project_id is not None else {}
            resp = self._request("POST", "/api/finetune/upload-dataset", params=params,
                                 files={"file": (path.name, f)})
        result: dict[str, Any] = resp.json()
        return result

    def dataset(self, ref: str, project_id: int | None = None) -> DatasetRead:
        """A dataset by numeric id or name (the listing is the source: there is no GET-by-id route)."""
        for ds in self.datasets(project_id):
            if str(ds.id) == ref or ds.name == ref:
                return ds
        raise error_for(404, f"dataset {ref!r} not found", "GET", "/api/v1/datasets")

    # -- trainings
    def trainings(self, page: int = 1, size: int = 100) -> list[TrainingRead]:
        params: dict[str, Any] = {"page": page, "size": size}
        return self._get(TrainingsRead, "/api/v1/trainings", params=params).data

    def training(self, training_id: str) -> TrainingRead:
        return self._get(TrainingRead, f"/api/v1/trainings/{training_id}")

    def create_training(self, spec: TrainingCreate) -> TrainingRead:
        body = spec.model_dump(mode="json", exclude_none=True)
        return TrainingRead.model_validate(self._request("POST", "/api/v1/trainings", json=body).json())

    def training_status(self, training_id: str) -> TrainingStatusRead:
        return self._get(TrainingStatusRead, f"/api/v1/trainings/{training_id}/status")

    def stop_training(self, training_id: str) -> TrainingRead:
        return TrainingRead.model_validate(self._request("POST", f"/api/v1/trainings/{training_id}/stop").json())

    def resume_training(self, training_id: str) -> TrainingRead:
        return TrainingRead.model_validate(self._request("POST", f"/api/v1/trainings/{training_id}/resume").json())

    def cancel_training(self, training_id: str) -> dict[str, Any]:
        """Cancel = delete the Training (its pods go with it); stop keeps it for a later resume."""
        return self._action("DELETE", f"/api/v1/trainings/{training_id}")

    def _action(self, method: str, path: str) -> dict[str, Any]:
        resp = self._request(method, path)
        if not resp.content:
            return {}
        body = resp.json()
        return body if isinstance(body, dict) else {"result": body}

    def loss_curve(self, numeric_id: int) -> LossCurve:
        return self._get(LossCurve, "/api/v1/metrics/loss", params={"experiment_id": numeric_id})

    def follow(self, training_id: str) -> Iterator[ProgressFrame]:
        """The training's SSE stream frame by frame, until its `end` frame."""
        path = f"/api/v1/trainings/{training_id}/events/stream"
        with self.http.stream("GET", path, timeout=STREAM_TIMEOUT) as sse:
            if sse.status_code >= 400:
                sse.read()
                raise error_for(sse.status_code, _detail(sse), "GET", path)
            kind = "message"
            for line in sse.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: "):
                    frame = ProgressFrame(kind, json.loads(line[len("data: "):]))
                    yield frame
                    if kind == "end":
                        return
                elif not line:
                    kind = "message"

    # -- serving
    def services(self, project: int | str) -> list[InferenceServiceRead]:
        return self._get(InferenceServiceList, f"/api/v1/projects/{project}/inference-services").items

    def serve(self, project: int | str, name: str, *, training: str | None = None,
              base_model: str | None = None) -> InferenceServiceRead:
        """Serve a Training's output (by name or numeric id) or a base model, as an InferenceService."""
        body = {k: v for k, v in {"name": name, "training": training, "base_model": base_model}.items() if v}
        resp = self._request("POST", f"/api/v1/projects/{project}/inference-services", json=body)
        return InferenceServiceRead.model_validate(resp.json())

    def chat(self, model: str, messages: list[dict[str, str]], *, max_tokens: int | None = None,
             temperature: float | None = None) -> Iterator[str]:
        """A streamed chat completion through the gateway (/v1/chat/completions): the text deltas."""
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        with self.http.stream("POST", "/v1/chat/completions", json=body, timeout=STREAM_TIMEOUT) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise error_for(resp.status_code, _detail(resp), "POST", "/v1/chat/completions")
            for line in resp.iter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[len("data: "):]
                if payload.strip() == "[DONE]":
                    return
                for choice in json.loads(payload).get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield str(text)

    def logs(self, training_id: str, *, follow: bool = False, node: int | None = None, previous: bool = False,
             tail: int | None = None) -> Iterator[str]:
        """The training pod's log lines (GET /api/v1/trainings/{id}/logs)."""
        params: dict[str, Any] = {"follow": follow, "previous": previous}
        if node is not None:
            params["node"] = node
        if tail is not None:
            params["tail"] = tail
        path = f"/api/v1/trainings/{training_id}/logs"
        with self.http.stream("GET", path, params=params, timeout=STREAM_TIMEOUT) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise error_for(resp.status_code, _detail(resp), "GET", path)
            yield from resp.iter_lines()
