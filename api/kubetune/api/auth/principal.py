"""The caller, and the Kubernetes identity the facade impersonates for it.

What a caller may see and do is Kubernetes' decision (auth/authorizer.py asks SubjectAccessReviews,
writes carry Impersonate-User/Group): `projects` is the set of project namespaces the authorizer
found visible for this request, filled in by deps.get_current_user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

USER_PREFIX = "kubetune:user:"
API_KEY_USER_PREFIX = "kubetune:apikey:"
USERS_GROUP = "kubetune:users"
API_KEYS_GROUP = "kubetune:apikeys"
ADMINS_GROUP = "kubetune:admins"


def kube_user_of(username: str) -> str:
    """The Kubernetes user name of a facade user (`kubectl auth can-i --as kubetune:user:<name>`)."""
    return USER_PREFIX + username


def kube_user_of_api_key(name: str) -> str:
    return API_KEY_USER_PREFIX + name


@dataclass(frozen=True)
class Principal:
    username: str
    kind: Literal["user", "serviceaccount", "apikey"] = "user"
    is_admin: bool = False
    user_id: int | None = None
    namespaces: frozenset[str] = field(default_factory=frozenset)  # an API key's grants (bound by RoleBindings)
    groups: tuple[str, ...] = ()  # a service account's groups, as its TokenReview gave them
    projects: frozenset[str] = field(default_factory=frozenset)  # visible project namespaces (SAR-decided)
    cluster_wide: bool = False  # may read namespaces cluster-wide (platform admins): every namespace is visible
    default_project: str = ""  # namespace a request without a project falls back to when several are visible

    @property
    def kube_user(self) -> str:
        """Who the facade impersonates: service accounts as themselves, users and keys under kubetune's prefixes."""
        if self.kind == "serviceaccount":
            return self.username
        if self.kind == "apikey":
            return kube_user_of_api_key(self.username.removeprefix("apikey:"))
        return kube_user_of(self.username)

    @property
    def kube_groups(self) -> tuple[str, ...]:
        if self.kind == "serviceaccount":
            return self.groups
        base = API_KEYS_GROUP if self.kind == "apikey" else USERS_GROUP
        return (base, ADMINS_GROUP) if self.is_admin else (base,)

    def can_access(self, namespace_obj: dict[str, Any]) -> bool:
        """Is this project visible to the caller? Kubernetes decided it (SAR) when the request began."""
        return self.cluster_wide or (namespace_obj.get("metadata") or {}).get("name") in self.projects

    def sees_namespace(self, namespace: str) -> bool:
        return self.cluster_wide or namespace in self.projects
