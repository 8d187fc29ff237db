"""What every OpenAI route shares: the caller's project and cursor paging.

The project: the `OpenAI-Project` header (what the SDK sends for `OpenAI(project=...)`) names it by
key, namespace or numeric id; without it, the caller's only project (an API key made for one project)
or default project. Ids (file-..., ftjob-...) are looked up in that project only, so another
project's id is a 404 whoever asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol, TypeVar

from fastapi import Header, Query

from kubetune.api import access
from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.mapping.meta import Obj

ProjectHeader = Annotated[str | None, Header(alias="OpenAI-Project", max_length=253,
                                             description="The project (default: the caller's only one).")]
After = Annotated[str | None, Query(max_length=253, description="Cursor: the last id of the previous page.")]


class HasId(Protocol):
    id: str


T = TypeVar("T", bound=HasId)


def project(ctx: AppContext, user: Principal, header: str | None) -> Obj:
    return access.default_project(ctx.cache, user, header or None, ctx.settings.project_namespace_prefix)


def page(items: Sequence[T], after: str | None, limit: int) -> tuple[list[T], bool]:
    """The items after the cursor (OpenAI's `after`), at most `limit`, and whether more follow."""
    start = 0
    if after:
        ids = [item.id for item in items]
        if after not in ids:
            raise ApiError(400, f"no object {after!r} to page after", details={"param": "after"})
        start = ids.index(after) + 1
    chosen = list(items[start:start + limit])
    return chosen, start + limit < len(items)


def invalid(message: str, param: str | None = None, code: str = "invalid_request", status: int = 400) -> ApiError:
    """An OpenAI-style refusal naming the parameter (rendered by core/errors.py's openai family)."""
    return ApiError(status, message, code=code, details={"param": param} if param else None)
