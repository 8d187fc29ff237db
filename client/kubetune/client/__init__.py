"""The kubetune Python SDK: a typed REST client of the kubetune API facade.

    from kubetune.client import Client
    kt = Client("http://127.0.0.1:8080", token="...")
    for t in kt.trainings():
        print(t.id, t.status)
"""

from kubetune.client.errors import ApiError, AuthError, NotFoundError
from kubetune.client.sdk import Client, ProgressFrame

__all__ = ["ApiError", "AuthError", "Client", "NotFoundError", "ProgressFrame"]
