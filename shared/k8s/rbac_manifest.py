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
    for item in expand_namespaces(docs, namespaces):
        subjects = item.get("subjects")
        if subjects is not None:
            item["subjects"] = [t for s in subjects if (t := _subject(s, identities))]
            if not item["subjects"]:
                continue  # no identity configured for it: no binding
        out.append(item)
    return out


def expand_namespaces(
    documents: Sequence[dict[str, Any]], namespaces: Sequence[str]
) -> list[dict[str, Any]]:
    """Copies of the documents: one per namespace for those in the NAMESPACE placeholder (a
    ServiceAccount subject in NAMESPACE follows its binding), the others as they are."""
    out: list[dict[str, Any]] = []
    for doc in documents:
        if (doc.get("metadata") or {}).get("namespace") != NAMESPACE_PLACEHOLDER:
            out.append(copy.deepcopy(doc))
            continue
        for namespace in namespaces:
            item = copy.deepcopy(doc)
            item["metadata"]["namespace"] = namespace
            for subject in item.get("subjects") or []:
                if subject.get("namespace") == NAMESPACE_PLACEHOLDER:
                    subject["namespace"] = namespace
            out.append(item)
    return out


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
