"""REST answers what Kubernetes answers: users x projects x verbs, the facade under its chart identity.

The facade impersonates each caller, so whether a REST call may act is Kubernetes' decision. Here every
cell of a matrix (platform admin, project admin, editor, viewer, non-member; two projects; trainings,
datasets, inference services, members, the project itself) is asked twice: once through REST, once
of the real API server with `kubectl auth can-i --as kubetune:user:<name>` (or, for the Namespace
object, with the request itself made as that user: can-i cannot ask about a Namespace from inside it).
A REST 2xx must meet a "yes", a 403/404 a "no". The facade's own credentials, given to kubectl,
cannot create a Job (or a Training) in a project.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_facade import Facade, facade
from kubernetes import client

from kubetune.api.cluster import TRAININGS
from kubetune.localdev.controlplane import ControlPlane

pytestmark = pytest.mark.integration

KUBECTL = "/usr/bin/kubectl"
GROUP = "kubetune.io"
ROWS = "".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                        {"role": "assistant", "content": f"a{i}"}]}) + "\n" for i in range(4))
TRAINER = {
    "display_name": "LoRA", "description": "tiny", "image": "kubetune/trainer:dev", "tasks": ["causal-lm"],
    "methods": ["lora"], "parameters": [{"name": "epochs", "type": "float", "default": 1, "minimum": 0,
                                         "maximum": 10}],
    "models": [{"id": "tiny", "name": "tiny", "uri": "hf://tiny/model", "size": "1M", "type": "chat"}],
}


@dataclass
class Who:
    name: str  # facade username
    token: str
    groups: tuple[str, ...]

    @property
    def kube_user(self) -> str:
        return f"kubetune:user:{self.name}"


@dataclass
class Project:
    id: int
    key: str
    namespace: str
    training: dict[str, Any]  # sktai TrainingRead of a Training that stays
    dataset_id: str


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def can_i(kubeconfig: Path, who: Who, verb: str, resource: str, namespace: str) -> bool:
    """`kubectl auth can-i` as the user; exit status 0 is yes, 1 is no (anything else fails the test)."""
    groups = [f"--as-group={g}" for g in who.groups]
    done = kubectl(kubeconfig, "auth", "can-i", verb, resource, "-n", namespace, f"--as={who.kube_user}", *groups)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def kubectl_as(kubeconfig: Path, who: Who, *args: str) -> bool:
    """The request itself, made by kubectl as the user: succeeded, or was refused (Forbidden/NotFound)."""
    groups = [f"--as-group={g}" for g in who.groups]
    done = kubectl(kubeconfig, *args, f"--as={who.kube_user}", *groups)
    if done.returncode != 0:
        assert "Forbidden" in done.stderr or "NotFound" in done.stderr, done.stderr
    return done.returncode == 0


async def _user(api: Facade, name: str) -> str:
    await api.ctx.users.put_user(name, f"{name}-password")
    return str(await api.login(name, f"{name}-password"))


async def _project(api: Facade, owner: Who, trainer: str, label: str) -> Project:
    made = await api.client.post("/api/v1/projects", json={"name": label}, headers=api.auth(owner.token))
    assert made.status_code == 201, made.text
    p = made.json()
    up = await api.client.post(f"/api/finetune/upload-dataset?project_id={p['key']}",
                               files={"file": ("chat.jsonl", ROWS.encode())}, headers=api.auth(owner.token))
    assert up.status_code == 201, up.text
    training = await _training(api, owner, p["id"], trainer, up.json()["path"])
    return Project(p["id"], p["key"], p["namespace"], training, up.json()["dataset_id"])


async def _training(api: Facade, who: Who, project_id: int, trainer: str, path: str) -> dict[str, Any]:
    body = {"project_id": str(project_id), "name": "run", "trainer_id": trainer, "base_model": "tiny",
            "dataset_path": path, "params": {"epochs": 1}, "task_id": "t", "serve": False}
    made = await api.client.post("/api/v1/trainings", json=body, headers=api.auth(who.token))
    assert made.status_code == 201, made.text
    return dict(made.json())


def _isvc(namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"model": {"baseModel": "hf://tiny/model"}, "replicas": 0}}


Cell = tuple[str, str, str]  # (what, verb, resource) for the report


async def test_rest_answers_agree_with_kubernetes_for_every_user_project_and_verb(
        api_client: client.ApiClient, control_plane: ControlPlane, tmp_path: Path) -> None:
    kubeconfig = Path(control_plane.kubeconfig)
    async with facade(api_client, tmp_path / "store") as api:
        tag = uuid.uuid4().hex[:6]
        admin = Who("admin", await api.login("admin", "admin123"), ("kubetune:users", "kubetune:admins"))
        people = {role: Who(f"{role}-{tag}", await _user(api, f"{role}-{tag}"), ("kubetune:users",))
                  for role in ("owner", "editor", "viewer", "outsider")}
        trainer = f"lora-{tag}"
        made = await api.client.post("/api/v1/trainers", json={**TRAINER, "name": trainer},
                                     headers=api.auth(admin.token))
        assert made.status_code == 201, made.text
        mine = await _project(api, people["owner"], trainer, f"mine {tag}")
        theirs = await _project(api, people["outsider"], trainer, f"theirs {tag}")
        for role in ("editor", "viewer"):
            added = await api.client.post(f"/api/v1/projects/{mine.id}/members",
                                          headers=api.auth(people["owner"].token),
                                          json={"name": people[role].name, "role": role})
            assert added.status_code == 201, added.text
        custom = client.CustomObjectsApi(api_client)
        for p in (mine, theirs):
            custom.create_namespaced_custom_object(GROUP, "v1alpha1", p.namespace, "inferenceservices",
                                                   _isvc(p.namespace, "srv"))
        await api.ctx.cache.until(lambda: all(api.ctx.cache.inference_services.get("srv", p.namespace)
                                              for p in (mine, theirs)), 30)
        api.ctx.authorizer.forget()

        rows: list[tuple[str, str, Cell, int, bool]] = []
        callers = [admin, *people.values()]
        for who in callers:
            for project in (mine, theirs):
                rows += await _row(api, api_client, who, project, trainer)

        with ThreadPoolExecutor(8) as pool:
            verdicts = list(pool.map(lambda row: _kube_says(kubeconfig, row[4], row[1], row[2]),
                                     [(r[0], r[1], r[2], r[3], _who(callers, r[0])) for r in rows]))
        assert len(rows) == len(callers) * 2 * 15  # every cell was asked
        disagreements = [(who, ns, cell, status, says) for (who, ns, cell, status, _), says in zip(rows, verdicts,
                                                                                                   strict=True)
                         if (200 <= status < 300) != says]
        assert disagreements == [], disagreements
        # The matrix is not trivially all-yes or all-no: each role sees a different mix.
        by_user = {who.name: {(r[1], r[2]) for r, ok in zip(rows, verdicts, strict=True) if r[0] == who.name and ok}
                   for who in callers}
        assert by_user[admin.name] > by_user[people["owner"].name] > by_user[people["editor"].name] \
            > by_user[people["viewer"].name]
        assert all(ns != mine.namespace for ns, _ in by_user[people["outsider"].name])


def _who(callers: list[Who], name: str) -> Who:
    return next(w for w in callers if w.name == name)


def _kube_says(kubeconfig: Path, who: Who, namespace: str, cell: Cell) -> bool:
    _, verb, resource = cell
    if resource == "namespaces":
        if verb == "get":
            return kubectl_as(kubeconfig, who, "get", "namespace", namespace)
        return kubectl_as(kubeconfig, who, "annotate", "--overwrite", "--dry-run=server", "namespace", namespace,
                          "kubetune.io/description=probe")
    return can_i(kubeconfig, who, verb, resource, namespace)


async def _row(api: Facade, api_client: client.ApiClient, who: Who, p: Project, trainer: str
               ) -> list[tuple[str, str, Cell, int, bool]]:
    """Every REST probe for one caller and one project: (user, namespace, cell, status, placeholder)."""
    h = api.auth(who.token)
    c = api.client
    guest = f"guest-{uuid.uuid4().hex[:6]}"
    await api.ctx.users.put_user(guest, "guest-password")
    victim = await _fresh_training(api, api_client, p)
    probes: list[tuple[Cell, Callable[[], Awaitable[httpx.Response]]]] = [
        (("project", "get", "namespaces"), lambda: c.get(f"/api/v1/projects/{p.id}", headers=h)),
        (("project", "update", "namespaces"),
         lambda: c.put(f"/api/v1/projects/{p.id}", headers=h, json={"description": "probe"})),
        (("trainings", "list", "trainings.kubetune.io"), lambda: c.get(f"/api/v1/services/{p.key}/trains", headers=h)),
        (("trainings", "get", "trainings.kubetune.io"),
         lambda: c.get(f"/api/v1/trainings/{p.training['id']}", headers=h)),
        (("trainings", "create", "trainings.kubetune.io"), lambda: c.post("/api/v1/trainings", headers=h, json={
            "project_id": str(p.id), "name": "probe", "trainer_id": trainer, "base_model": "tiny",
            "dataset_id": p.dataset_id, "params": {"epochs": 1}, "serve": False})),
        (("trainings", "patch", "trainings.kubetune.io"),
         lambda: c.put(f"/api/v1/trainings/{p.training['id']}", headers=h, json={"description": "probe"})),
        (("trainings", "delete", "trainings.kubetune.io"), lambda: c.delete(f"/api/v1/trainings/{victim}", headers=h)),
        (("datasets", "list", "datasets.kubetune.io"), lambda: c.get(f"/api/v1/datasets?project_id={p.id}", headers=h)),
        (("datasets", "get", "datasets.kubetune.io"), lambda: c.get(
            f"/api/finetune/download_dataset_jsonl?project_id={p.key}&task_id=t&dataset_id={p.dataset_id}", headers=h)),
        (("datasets", "create", "datasets.kubetune.io"), lambda: c.post(
            f"/api/finetune/upload-dataset?project_id={p.key}", headers=h,
            files={"file": ("probe.jsonl", ROWS.encode())})),
        (("inferenceservices", "list", "inferenceservices.kubetune.io"),
         lambda: _listed(c, h, p)),
        (("members", "list", "rolebindings"), lambda: c.get(f"/api/v1/projects/{p.id}/members", headers=h)),
        (("members", "create", "rolebindings"), lambda: c.post(
            f"/api/v1/projects/{p.id}/members", headers=h, json={"name": guest, "role": "viewer"})),
        (("members", "update", "rolebindings/kubetune-viewer"), lambda: c.put(
            f"/api/v1/projects/{p.id}/members/{guest}", headers=h, json={"role": "editor"})),
        (("members-remove", "update", "rolebindings/kubetune-editor"), lambda: c.delete(
            f"/api/v1/projects/{p.id}/members/{guest}", headers=h)),
    ]
    out = []
    admin_headers = api.auth(await api.login("admin", "admin123"))
    for cell, probe in probes:
        if cell[0] in ("members", "members-remove") and cell[1] == "update":
            await _ensure_guest(api, p, guest, "viewer" if cell[0] == "members" else "editor", admin_headers)
        resp = await probe()
        assert resp.status_code < 300 or resp.status_code in (403, 404), (who.name, cell, resp.status_code, resp.text)
        out.append((who.name, p.namespace, cell, resp.status_code, False))
    return out


async def _listed(c: httpx.AsyncClient, h: dict[str, str], p: Project) -> httpx.Response:
    """The inference model list spans projects: 200 when this project's server is in it, else 403."""
    resp = await c.get("/api/v1/inference/models", headers=h)
    assert resp.status_code == 200, resp.text
    shown = any(m["id"] == f"{p.key}/srv" for m in resp.json()["models"])
    return httpx.Response(200 if shown else 403)


async def _ensure_guest(api: Facade, p: Project, guest: str, role: str, admin: dict[str, str]) -> None:
    """Put the guest in `role` (as the platform admin), so a member update or removal has a target."""
    listing = (await api.client.get(f"/api/v1/projects/{p.id}/members", headers=admin)).json()["members"]
    if any(m["name"] == guest for m in listing):
        resp = await api.client.put(f"/api/v1/projects/{p.id}/members/{guest}", headers=admin, json={"role": role})
    else:
        resp = await api.client.post(f"/api/v1/projects/{p.id}/members", headers=admin,
                                     json={"name": guest, "role": role})
    assert resp.status_code < 300, resp.text


async def _fresh_training(api: Facade, api_client: client.ApiClient, p: Project) -> str:
    """A Training made with kubectl's rights (the delete probe consumes one per cell); its sktai id."""
    name = f"victim-{uuid.uuid4().hex[:6]}"
    body = await asyncio.to_thread(client.CustomObjectsApi(api_client).get_namespaced_custom_object,
                                   GROUP, "v1alpha1", p.namespace, TRAININGS.plural, p.training["resource_name"])
    copy = {"apiVersion": body["apiVersion"], "kind": "Training", "spec": body["spec"],
            "metadata": {"name": name, "namespace": p.namespace, "labels": body["metadata"].get("labels", {})}}
    made = await asyncio.to_thread(client.CustomObjectsApi(api_client).create_namespaced_custom_object,
                                   GROUP, "v1alpha1", p.namespace, TRAININGS.plural, copy)
    uid = made["metadata"]["uid"]
    await api.ctx.cache.until(lambda: api.ctx.cache.trainings.by_uid(uid) is not None, 30)
    return str(uid)


def _facade_kubeconfig(api: Facade, path: Path) -> Path:
    """A kubeconfig holding the facade's own credentials (its ServiceAccount token)."""
    cfg = api.ctx.own_cluster._api.configuration
    token = str(cfg.api_key["authorization"]).removeprefix("Bearer ")
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "facade",
        "clusters": [{"name": "cp", "cluster": {"server": cfg.host, "certificate-authority": cfg.ssl_ca_cert}}],
        "users": [{"name": "facade", "user": {"token": token}}],
        "contexts": [{"name": "facade", "context": {"cluster": "cp", "user": "facade"}}],
    }))
    return path


async def test_the_facades_own_credentials_cannot_run_work_in_a_project(
        api_client: client.ApiClient, tmp_path: Path) -> None:
    async with facade(api_client, tmp_path / "store") as api:
        owner = await _user(api, f"o-{uuid.uuid4().hex[:6]}")
        made = await api.client.post("/api/v1/projects", json={"name": "p"}, headers=api.auth(owner))
        assert made.status_code == 201, made.text
        ns = made.json()["namespace"]
        own = _facade_kubeconfig(api, tmp_path / "facade.kubeconfig")
        job = kubectl(own, "create", "job", "escape", "--image=busybox", "-n", ns, "--", "true")
        assert job.returncode != 0 and "forbidden" in job.stderr.lower(), job.stderr
        for verb, resource in (("create", "jobs.batch"), ("create", "pods"), ("create", "trainings.kubetune.io"),
                               ("delete", "trainings.kubetune.io"), ("create", "rolebindings"),
                               ("get", "secrets"), ("create", "configmaps")):
            done = kubectl(own, "auth", "can-i", verb, resource, "-n", ns)
            assert done.returncode == 1 and done.stdout.strip() == "no", (verb, resource, done.stdout, done.stderr)
        # ... while what it is for still works: impersonating, and reviewing access.
        assert kubectl(own, "auth", "can-i", "impersonate", "users").returncode == 0
        assert kubectl(own, "auth", "can-i", "create", "subjectaccessreviews.authorization.k8s.io").returncode == 0
        # The same facade, acting for the project's owner, writes there: the owner's rights, not its own.
        listing = await api.client.get(f"/api/v1/projects/{made.json()['id']}/members", headers=api.auth(owner))
        assert listing.status_code == 200 and listing.json()["total"] == 1
        upload = await api.client.post(f"/api/finetune/upload-dataset?project_id={made.json()['key']}",
                                       files={"file": ("d.jsonl", ROWS.encode())}, headers=api.auth(owner))
        assert upload.status_code == 201, upload.text
