"""deploy/rbac.yaml for real identities and namespaces: what to `kubectl apply` on each cluster.

The template's subjects are ``alertloop-<function>@PROJECT_ID.iam.gserviceaccount.com`` and its
namespaced documents live in ``NAMESPACE``; `render` puts in the service account e-mails (from
the cluster table's identities) and repeats the namespaced documents once per allowed namespace::

    alertloop doctor --print-rbac | kubectl --context CLUSTER apply -f -
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"
NAMESPACE_PLACEHOLDER = "NAMESPACE"
_SUBJECT = re.compile(r"^alertloop-(?P<fn>[a-z]+)@PROJECT_ID\.iam\.gserviceaccount\.com$")


class RbacTemplateError(ValueError):
    pass


def template_documents(path: Path = TEMPLATE) -> list[dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RbacTemplateError(
            f"cannot read {path}: {exc.strerror} (run from an alertloop checkout)"
        ) from exc
    return [d for d in yaml.safe_load_all(text) if d]


def render(
    identities: Mapping[str, str],
    namespaces: Sequence[str],
    documents: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The manifests for these identities (function -> e-mail) and namespaces."""
    docs = template_documents() if documents is None else documents
    out: list[dict[str, Any]] = []
    for doc in docs:
        copies = (
            [_in_namespace(doc, ns) for ns in namespaces]
            if doc.get("metadata", {}).get("namespace") == NAMESPACE_PLACEHOLDER
            else [copy.deepcopy(doc)]
        )
        for item in copies:
            subjects = item.get("subjects")
            if subjects is not None:
                item["subjects"] = [t for s in subjects if (t := _subject(s, identities))]
                if not item["subjects"]:
                    continue  # no identity configured for it: no binding
            out.append(item)
    return out


def _in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    item = copy.deepcopy(doc)
    item["metadata"]["namespace"] = namespace
    return item


def _subject(subject: dict[str, Any], identities: Mapping[str, str]) -> dict[str, Any]:
    match = _SUBJECT.match(str(subject.get("name", "")))
    if match is None:
        return subject
    email = identities.get(match["fn"])
    if email is None:
        return {}
    return {**subject, "name": email}


def render_yaml(identities: Mapping[str, str], namespaces: Sequence[str]) -> str:
    return yaml.safe_dump_all(render(identities, namespaces), sort_keys=False, explicit_start=True)
