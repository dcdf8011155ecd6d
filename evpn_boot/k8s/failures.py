"""How a Kubernetes API call failed, as the handoff state machine reasons about it.

Kept apart from the HTTPS client so the pure state machine
(:mod:`evpn_boot.k8s.handoff`) imports no networking module.
"""

from __future__ import annotations

import enum
from typing import Optional

from evpn_boot.errors import ErrorKind, EvpnBootError


class Failure(enum.Enum):
    """Why an API call failed, grouped the way an operator acts on it."""

    NO_KUBECONFIG = "no usable kubeconfig"
    UNREACHABLE = "API server unreachable"
    TLS = "TLS failure"
    UNAUTHORIZED = "401 Unauthorized (credentials rejected)"
    FORBIDDEN = "403 Forbidden (credentials may not do this)"
    NOT_FOUND = "404 Not Found (Node not registered yet)"
    CONFLICT = "409 Conflict"
    SERVER_ERROR = "5xx server error"
    BAD_RESPONSE = "unexpected response"


class ApiError(EvpnBootError):
    """One failed API call; ``failure`` classifies it, ``str()`` names call and cause."""

    kind = ErrorKind.RUNTIME

    def __init__(self, failure: Failure, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.status = status


def classify_status(status: int) -> Failure:
    if status == 401:
        return Failure.UNAUTHORIZED
    if status == 403:
        return Failure.FORBIDDEN
    if status == 404:
        return Failure.NOT_FOUND
    if status == 409:
        return Failure.CONFLICT
    if status >= 500:
        return Failure.SERVER_ERROR
    return Failure.BAD_RESPONSE
