"""The Secret of an InferenceService's API keys (kubetune.crd.serving_keys), owned by the service."""

from __future__ import annotations

from typing import Any

from kubetune.crd import labels as lbl
from kubetune.crd import serving_keys
from kubetune.operator.owner import Owner, child_metadata


def build_serving_key_secret(owner: Owner, client_key: str, platform_key: str | None) -> dict[str, Any]:
    """`api-key`: the service's own key; `keys`: what the server accepts (that key, and the facade's).

    Without a platform key only the service's own key is accepted (and the facade cannot call it).
    """
    accepted = [client_key]
    if platform_key:
        accepted.append(serving_keys.facade_key(platform_key, owner.namespace or "", owner.name, owner.uid))
    meta = child_metadata(owner, serving_keys.secret_name(owner.name), {lbl.COMPONENT: "server"})
    return {
        "apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
        "stringData": {serving_keys.CLIENT_KEY: client_key, serving_keys.KEYS_FILE_KEY: "\n".join(accepted) + "\n"},
    }
