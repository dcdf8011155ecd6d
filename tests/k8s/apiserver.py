"""A tiny Kubernetes API server for tests: TLS on 127.0.0.1, client certificates.

It implements only what evpn-boot calls, with the real API server's semantics:

- ``GET /readyz`` (200 ``ok``),
- ``GET /api/v1/nodes/NAME`` (404 Status when the Node is not registered),
- ``PATCH /api/v1/nodes/NAME`` with ``application/merge-patch+json`` only
  (415 otherwise): RFC 7386 (``null`` deletes a key, objects merge, everything
  else replaces), a ``metadata.resourceVersion`` in the patch is a precondition
  (409 Conflict when stale), every change bumps resourceVersion;
- authentication by client certificate (CN is the user) or bearer token, 401
  otherwise; authorization like NodeRestriction: ``system:node:X`` may only read
  and patch Node X (403 otherwise), and users in ``read_only`` may not patch;
- errors are ``Status`` objects with ``reason`` and ``code``;
- ``inject(method, code, times)`` makes the next calls fail, for 5xx/409 tests;
- ``PATCH /api/v1/nodes/NAME/status`` (the status subresource) with
  ``application/strategic-merge-patch+json``: ``status.conditions`` merge by
  ``type`` (their patchMergeKey), the rest of ``status`` as a merge patch,
  anything outside ``status`` is ignored (as the subresource does);
- NodeRestriction on taints: ``system:node:X`` may not change ``spec.taints``
  of its Node once registered (403 ``node "X" is not allowed to modify taints``).
"""

from __future__ import annotations

import copy
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import trustme

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           409: "Conflict", 415: "UnsupportedMediaType", 500: "InternalError",
           503: "ServiceUnavailable"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": REASONS.get(code, "Unknown"), "code": code}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeApiServer:
    """State (nodes, tokens, injected failures) survives stop()/start(), like etcd."""

    def __init__(self, ca: trustme.CA, *, client_certs: str = "required") -> None:
        self.ca = ca
        self.port = free_port()
        self.client_certs = client_certs
        self.nodes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.read_only: set[str] = set()
        self.requests: list[tuple[str, str, Optional[str]]] = []   # method, path, user
        self._injected: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._version = 100
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._server_cert = ca.issue_cert("127.0.0.1", "localhost")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def add_node(self, name: str, annotations: Optional[dict[str, str]] = None) -> None:
        with self._lock:
            self._version += 1
            self.nodes[name] = {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": name, "resourceVersion": str(self._version),
                                             "annotations": dict(annotations or {})}}

    def annotations(self, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self.nodes[name]["metadata"].get("annotations") or {})

    def set_annotation(self, name: str, key: str, value: Optional[str]) -> None:
        """What the reconciler does (as another user): a merge patch of one annotation."""
        with self._lock:
            self._apply(name, {"metadata": {"annotations": {key: value}}})

    def condition(self, name: str, kind: str) -> Optional[dict[str, Any]]:
        with self._lock:
            for c in (self.nodes[name].get("status") or {}).get("conditions") or []:
                if c.get("type") == kind:
                    return dict(c)
            return None

    def taints(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list((self.nodes[name].get("spec") or {}).get("taints") or [])

    def inject(self, method: str, code: int, times: int = 1) -> None:
        with self._lock:
            self._injected.extend([(method, code)] * times)

    def patches(self) -> list[tuple[str, str, Optional[str]]]:
        return [r for r in self.requests if r[0] == "PATCH"]

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        assert self._httpd is None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_cert.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = (ssl.CERT_REQUIRED if self.client_certs == "required"
                               else ssl.CERT_OPTIONAL)
        httpd = _TLSServer(("127.0.0.1", self.port), _Handler, context, self)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(5)
        self._httpd = None
        self._thread = None

    # ---------------------------------------------------------------- semantics

    def _apply(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        node = self.nodes[name]
        merged = merge_patch(node, patch)
        self._version += 1
        merged["metadata"]["resourceVersion"] = str(self._version)
        merged["metadata"]["name"] = name
        self.nodes[name] = merged
        return copy.deepcopy(merged)

    def handle(self, method: str, path: str, user: Optional[str], content_type: str,  # noqa: PLR0911
               body: bytes) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, user))
            for i, (m, code) in enumerate(self._injected):
                if m == method:
                    del self._injected[i]
                    return code, status(code, f"injected {code}")
            if user is None:
                return 401, status(401, "Unauthorized")
            if path == "/readyz" and method == "GET":
                return 200, "ok"
            prefix = "/api/v1/nodes/"
            if not path.startswith(prefix):
                return 404, status(404, "the server could not find the requested resource")
            name = path[len(prefix):]
            subresource = ""
            if name.endswith("/status"):
                name, subresource = name[:-len("/status")], "status"
            if user.startswith("system:node:") and user != f"system:node:{name}":
                return 403, status(403, f'nodes "{name}" is forbidden: User "{user}" cannot '
                                        f"{method.lower()} a different node")
            if method == "PATCH" and user in self.read_only:
                return 403, status(403, f'nodes "{name}" is forbidden: User "{user}" cannot '
                                        'patch resource "nodes"')
            if name not in self.nodes:
                return 404, status(404, f'nodes "{name}" not found')
            if method == "GET":
                return 200, copy.deepcopy(self.nodes[name])
            if method != "PATCH":
                return 405, status(405, "method not allowed")
            if subresource:
                return self._patch_status(name, content_type, body)
            if content_type != "application/merge-patch+json":
                return 415, status(415, f"the body of the request was in an unknown format - "
                                        f"accepted media types include: "
                                        f"application/merge-patch+json (got {content_type})")
            try:
                patch = json.loads(body)
            except ValueError:
                return 400, status(400, "invalid JSON")
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            current = self.nodes[name]["metadata"]["resourceVersion"]
            if wanted is not None and wanted != current:
                return 409, status(409, f'Operation cannot be fulfilled on nodes "{name}": the '
                                        "object has been modified; please apply your changes "
                                        "to the latest version and try again")
            taints_before = (self.nodes[name].get("spec") or {}).get("taints")
            if user.startswith("system:node:") and merge_patch(self.nodes[name], patch).get(
                    "spec", {}).get("taints") != taints_before:
                return 403, status(403, f'nodes "{name}" is forbidden: node "{name}" is not '
                                        "allowed to modify taints")
            return 200, self._apply(name, patch)

    def _patch_status(self, name: str, content_type: str, body: bytes) -> tuple[int, Any]:
        if content_type != "application/strategic-merge-patch+json":
            return 415, status(415, f"unsupported media type for nodes/status here: "
                                    f"{content_type}")
        try:
            patch = json.loads(body)
        except ValueError:
            return 400, status(400, "invalid JSON")
        node = self.nodes[name]
        current = dict(node.get("status") or {})
        wanted = dict(patch.get("status") or {})
        by_type = {c["type"]: c for c in current.get("conditions") or []}
        for c in wanted.pop("conditions", None) or []:
            by_type[c["type"]] = {**by_type.get(c["type"], {}), **c}
        merged = merge_patch(current, wanted)
        if by_type:
            merged["conditions"] = list(by_type.values())
        return 200, self._apply(name, {"status": merged})


class _TLSServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext,
                 api: FakeApiServer) -> None:
        super().__init__(address, handler)
        self.context = context
        self.api = api

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Handshake in the request thread, so a client that fails TLS cannot stall
        # the accept loop.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass   # a client hanging up mid-request is part of the tests


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _user(self) -> Optional[str]:
        cert = self.connection.getpeercert()  # type: ignore[attr-defined]
        if cert:
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        return str(value)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.server.api.tokens.get(auth[len("Bearer "):])
        return None

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        code, payload = self.server.api.handle(method, self.path, self._user(),
                                               self.headers.get("Content-Type", ""), body)
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str)
                         else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PATCH(self) -> None:  # also nodes/NAME/status
        self._serve("PATCH")
