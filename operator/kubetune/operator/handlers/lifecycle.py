"""kopf settings at start-up: workers, storage prefixes, no peering (leader election does that job)."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kubetune.operator import bookkeeping
from kubetune.operator.handlers.common import REGISTRY, runtime_of

ANNOTATION_PREFIX = "operator.kubetune.io"


@kopf.on.startup(registry=REGISTRY)
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    rt = runtime_of(memo)
    settings.execution.max_workers = rt.settings.workers
    # No settings.queueing.worker_limit: with a limit, objects whose workers wait in the queue
    # starved (seen in the integration tests); memory is bounded by compact indexes instead.
    settings.posting.level = logging.WARNING  # our own Events tell the story; kopf's would double them
    bookkeeping.configure(settings)  # kopf's records in status.kopf: no write of their own
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.standalone = True
    settings.networking.request_timeout = 60


@kopf.on.login(registry=REGISTRY)
def login(memo: kopf.Memo, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf uses exactly the endpoint and credentials of the operator's own API client."""
    rt = runtime_of(memo)
    if not rt.settings.kubeconfig:
        result: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs)  # rotates tokens
        return result
    cfg = rt.kube.api.configuration
    auth = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken") or ""
    scheme, _sep, token = auth.partition(" ") if " " in auth else ("Bearer", "", auth)
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert or None,
        insecure=not cfg.verify_ssl,
        scheme=scheme if token else None,
        token=token or None,
        certificate_path=cfg.cert_file or None,
        private_key_path=cfg.key_file or None,
    )
