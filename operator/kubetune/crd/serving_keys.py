"""API keys of inference servers, shared by the operator (which writes them) and the facade (which sends one).

Each InferenceService with ``auth: apiKey`` gets the Secret ``<name>-serving-key``, created by the
operator as an owned child. Its ``keys`` entry is the file the server reads (one accepted key a
line): the service's own random key (also under ``api-key``, for clients in the project) and,
when the platform has a serving key, the facade's key for this service.

The facade's key is derived, not stored: HMAC-SHA256 of ``namespace/name/uid`` under the
platform's serving key, which only the operator and the facade hold. So the facade needs no
right to read Secrets in project namespaces (it does nothing there but impersonate users), a
server's Secret opens that server only, and a service deleted and created again under the same
name (a new uid) gets a new key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from kubetune.crd.labels import serving_key_secret_name

KEYS_FILE_KEY = "keys"  # what the server mounts: every accepted key, one a line
CLIENT_KEY = "api-key"  # the service's own key, for callers inside the project
FACADE_KEY_PREFIX = "ktf_"
CLIENT_KEY_PREFIX = "kts_"


secret_name = serving_key_secret_name


def facade_key(serving_key: str, namespace: str, name: str, uid: str) -> str:
    """The key the facade sends to this service's server (and the operator writes into its Secret)."""
    digest = hmac.new(serving_key.encode(), f"{namespace}/{name}/{uid}".encode(), hashlib.sha256).hexdigest()
    return FACADE_KEY_PREFIX + digest


def new_client_key() -> str:
    return CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)
