"""Kubernetes LabelSelector matching (``matchLabels`` + ``matchExpressions``).

Used to tell whether an OpenPERouter Underlay applies to a node: an Underlay
without ``nodeSelector`` applies to every node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional


class SelectorError(ValueError):
    """A selector the API server would not have accepted."""


def matches(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector`` (None or empty: everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    return all(_expression(expr, labels) for expr in selector.get("matchExpressions") or [])


def _expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise SelectorError(f"unknown label selector operator {op!r} for key {key!r}")
