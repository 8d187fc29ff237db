"""Whether a namespace is a project, the only place where the operator may create children.

With the chart's admission policy on (``settings.projects_only``), the API server refuses the
operator's Jobs, Deployments, ServiceAccounts, ... outside project namespaces (label
``kubetune.io/project``). Rather than retrying that 403 unseen, a Training or InferenceService in such a
namespace waits Pending with the reason below and a message saying how to fix it, before any child is
attempted; it is checked again every RECHECK_SECONDS, so labelling the namespace lets it proceed.
"""

from __future__ import annotations

from kubetune.crd import labels as lbl

NOT_A_PROJECT = "NotAProject"
RECHECK_SECONDS = 10.0


def not_a_project(namespace: str, is_project: bool | None, projects_only: bool) -> str | None:
    """Why work in `namespace` must wait, or None when it may go on.

    `is_project`: the project label as the operator's namespace index last saw it; None when the
    namespace is not (yet) in the index, which the operator treats as not a project.
    """
    if not projects_only or is_project:
        return None
    return (f"namespace {namespace} is not a kubetune project (no label {lbl.PROJECT}), and the platform "
            f"creates Jobs and servers only in projects: label it (kubectl label namespace {namespace} "
            f"{lbl.PROJECT}={namespace}) or create this resource in a project's namespace")
