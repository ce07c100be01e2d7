"""Kubernetes name validation (DNS-1123), applied to alert labels before any API call."""

from __future__ import annotations

import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def is_dns1123_label(value: str) -> bool:
    """Namespaces, services, container names: lowercase alphanumerics and '-', <= 63 chars."""
    return 0 < len(value) <= 63 and bool(_LABEL.match(value))


def is_dns1123_subdomain(value: str) -> bool:
    """Most object names (deployments, pods...): DNS labels joined by '.', <= 253 chars."""
    return 0 < len(value) <= 253 and bool(_SUBDOMAIN.match(value))


def is_label_value(value: str) -> bool:
    """A label value (used in label selectors): <= 63 chars, alphanumerics, '-', '_', '.'."""
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def validate_namespace(value: str) -> str | None:
    """None when valid, else why not."""
    if is_dns1123_label(value):
        return None
    return f"namespace {value!r} is not a valid DNS-1123 label"


def validate_name(value: str, kind: str = "object") -> str | None:
    if is_dns1123_subdomain(value):
        return None
    return f"{kind} name {value!r} is not a valid DNS-1123 subdomain"
