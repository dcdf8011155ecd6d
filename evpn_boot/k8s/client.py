"""A small HTTPS client for the few Kubernetes API calls evpn-boot makes.

Only the standard library (http.client + ssl): the calls are ``GET /readyz``,
``GET /api/v1/nodes/NAME``, a JSON merge patch (RFC 7386,
``application/merge-patch+json``) of the Node's annotations or taints, and a
strategic merge patch of its ``status`` (the ``EVPNReady`` condition).  Every failure is
raised as :class:`ApiError` carrying a :class:`Failure` class, which is what the
handoff state machine reasons about (it logs once per change and retries;
nothing here is fatal to the node).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Optional

from evpn_boot.k8s.failures import ApiError, Failure, classify_status
from evpn_boot.k8s.kubeconfig import Credentials, KubeconfigError

__all__ = ["MERGE_PATCH", "ApiClient", "ApiError", "Failure", "build_ssl_context",
           "classify_status"]

MERGE_PATCH = "application/merge-patch+json"
#: What kubelet sends to nodes/status: lists with a merge key (conditions: ``type``)
#: merge item by item, so one condition is set without touching kubelet's.
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def build_ssl_context(creds: Credentials) -> ssl.SSLContext:
    """A verifying TLS context for ``creds`` (client certificate loaded if present).

    ``ssl`` only loads a certificate chain from files, so embedded PEM is written
    to a private (0700) temporary directory with 0600 files and removed again as
    soon as it is loaded.
    """
    if creds.insecure_skip_tls_verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif creds.ca_pem is not None:
        context = ssl.create_default_context(cadata=creds.ca_pem.decode("ascii", "replace"))
    else:
        context = ssl.create_default_context()
    if creds.client_cert_pem is not None and creds.client_key_pem is not None:
        with tempfile.TemporaryDirectory(prefix="evpn-boot-k8s-") as tmp:
            cert = _write_private(Path(tmp) / "client.crt", creds.client_cert_pem)
            key = _write_private(Path(tmp) / "client.key", creds.client_key_pem)
            try:
                context.load_cert_chain(str(cert), str(key))
            except ssl.SSLError as exc:
                raise ApiError(Failure.TLS, f"load client certificate from {creds.source}: "
                                            f"{exc.reason or exc}") from exc
    return context


def _write_private(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


class ApiClient:
    """Blocking calls against one API server; a new connection per call.

    The calls are seconds apart, so keeping connections alive would only add
    state to get wrong when the API server flaps.  ``timeout`` bounds connect and
    each read, so the supervision loop is never held for long.
    """

    def __init__(self, creds: Credentials, timeout: float = 5.0) -> None:
        self.creds = creds
        self.timeout = timeout
        url = urllib.parse.urlsplit(creds.server)
        self._host = url.hostname or ""
        self._port = url.port or 443
        self._prefix = url.path.rstrip("/")
        self._context = build_ssl_context(creds)

    def readyz(self) -> None:
        """Succeeds when the API server reports itself ready."""
        self._request("GET", "/readyz", what="readiness probe")

    def get_node(self, name: str) -> dict[str, Any]:
        return self._json(self._request("GET", _node_path(name), what=f"get Node {name}"),
                          f"get Node {name}")

    def patch_node(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of the Node (``None`` values delete keys)."""
        body = json.dumps(patch).encode()
        what = f"patch Node {name}"
        return self._json(self._request("PATCH", _node_path(name), body=body,
                                        content_type=MERGE_PATCH, what=what), what)

    # ------------------------------------------- the handoff controller's calls

    def get_path(self, path: str, query: Optional[dict[str, str]] = None) -> dict[str, Any]:
        """GET an API path (a list or an object), e.g. ``/api/v1/nodes``."""
        full = path + ("?" + urllib.parse.urlencode(query) if query else "")
        what = f"GET {path}"
        return self._json(self._request("GET", full, what=what), what)

    def patch_path(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of the object at ``path``."""
        what = f"patch {path}"
        return self._json(self._request("PATCH", path, body=json.dumps(patch).encode(),
                                        content_type=MERGE_PATCH, what=what), what)

    def create_path(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to the collection at ``path``."""
        what = f"create in {path}"
        return self._json(self._request("POST", path, body=json.dumps(body).encode(),
                                        content_type="application/json", what=what), what)
    def patch_node_status(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Strategic merge patch of the Node's ``status`` subresource (its conditions)."""
        body = json.dumps(patch).encode()
        what = f"patch Node {name} status"
        return self._json(self._request("PATCH", _node_path(name) + "/status", body=body,
                                        content_type=STRATEGIC_PATCH, what=what), what)

    # ------------------------------------------------------------------ internals

    def _request(self, method: str, path: str, *, what: str, body: Optional[bytes] = None,
                 content_type: Optional[str] = None) -> bytes:
        headers = {"Accept": "application/json", "User-Agent": "evpn-boot"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            token = self.creds.bearer_token()
        except KubeconfigError as exc:
            raise ApiError(Failure.NO_KUBECONFIG, str(exc)) from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        server_hostname = self.creds.tls_server_name or None
        connection = _Connection(self._host, self._port, timeout=self.timeout,
                                 context=self._context, server_hostname=server_hostname)
        where = f"{what} at {self.creds.server}"
        try:
            connection.request(method, self._prefix + path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except ssl.SSLError as exc:
            raise ApiError(Failure.TLS, f"{where}: {exc.reason or exc}") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            # A server that refuses our (missing) client certificate under TLS 1.3
            # often just resets the connection after the handshake.
            raise ApiError(Failure.UNREACHABLE, f"{where}: connection reset ({exc})") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ApiError(Failure.UNREACHABLE, f"{where}: {exc}") from exc
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return data
        raise ApiError(classify_status(response.status),
                       f"{where}: HTTP {response.status}: {_status_message(data)}",
                       status=response.status)

    @staticmethod
    def _json(data: bytes, what: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise ApiError(Failure.BAD_RESPONSE, f"{what}: response is not JSON") from exc
        if not isinstance(value, dict):
            raise ApiError(Failure.BAD_RESPONSE, f"{what}: response is not a JSON object")
        return value


class _Connection(http.client.HTTPSConnection):
    """HTTPSConnection that can verify against a name other than the host (tls-server-name)."""

    def __init__(self, host: str, port: int, *, timeout: float, context: ssl.SSLContext,
                 server_hostname: Optional[str]) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname or host
        self._tls_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=self._server_hostname)


def _node_path(name: str) -> str:
    return "/api/v1/nodes/" + urllib.parse.quote(name, safe="")


def _status_message(data: bytes) -> str:
    """The message of a Kubernetes Status object, or a short excerpt of the body."""
    try:
        status = json.loads(data)
    except ValueError:
        return data[:200].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(status, dict) and status.get("kind") == "Status":
        return f"{status.get('reason', '')}: {status.get('message', '')}".strip(": ")
    return "(non-Status JSON body)"
