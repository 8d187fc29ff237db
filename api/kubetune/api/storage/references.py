"""A client's references (base model, dataset, split names) through the one resolver, as a 400 with the reason.

The operator and the runtime check the same rules again (kubetune.crd.references); the facade's check
is the one a REST client sees first, before anything is created.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubetune.api.core.errors import ApiError
from kubetune.api.storage.store import ArtifactStore
from kubetune.crd.references import InvalidReference, check_name, resolve


def check_reference(store: ArtifactStore, namespace: str, uri: str, what: str,
                    trusted: Iterable[str] = ()) -> str:
    """``uri`` when it resolves inside the project (or is one of the admin's ``trusted`` uris)."""
    try:
        resolve(uri, namespace, store.layout().with_trusted(list(trusted)), what)
    except InvalidReference as exc:
        raise ApiError(400, str(exc)) from exc
    return uri


def check_split(name: str | None, what: str) -> None:
    if name is None:
        return
    try:
        check_name(name, what)
    except InvalidReference as exc:
        raise ApiError(400, str(exc)) from exc


def check_data_file(store: ArtifactStore, namespace: str, uri: str, what: str) -> None:
    """A dataset uri in the project's prefix must name a file (a directory is a 400, not a 500 later)."""
    ref = resolve(uri, namespace, store.layout(), what)
    if store.is_dir(namespace, ref.key):
        raise ApiError(400, f"{what} {ref.key!r} is a directory; a file is expected here")
