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


For the handoff controller (other users than nodes):

- ``GET /api/v1/nodes`` with ``labelSelector`` (``k=v``, ``k!=v``, ``k``, ``!k``);
- ``GET /api/v1/namespaces/NS/pods`` with ``labelSelector`` and ``fieldSelector``
  ``spec.nodeName=X`` (pods by node);
- ``GET /apis/GROUP/VERSION/namespaces/NS/underlays`` (404 when no such group);
- ConfigMaps: GET, merge PATCH, POST (409 when it exists);
- a DaemonSet controller: each :class:`FakeDaemonSet` has the node affinity
  ``KEY NotIn [VALUES]``; after every Node change it creates its pod on nodes
  that match and deletes it from nodes that no longer do, as the real one
  does; pods are Ready at once unless their node is in ``never_ready``.
"""

from __future__ import annotations

import copy
import json
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

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


@dataclass(frozen=True)
class FakeDaemonSet:
    """A DaemonSet with ``affinity_key NotIn affinity_values`` (OpenPERouter's, gated)."""

    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    affinity_key: str
    affinity_values: tuple[str, ...]

    def wants(self, node: dict[str, Any]) -> bool:
        labels = node["metadata"].get("labels") or {}
        return labels.get(self.affinity_key) not in self.affinity_values


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """An equality-based label selector string, as kube-apiserver parses it."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


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
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}      # (namespace, name) -> Pod
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.underlays: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (group/v, ns)
        self.daemonsets: list[FakeDaemonSet] = []
        self.never_ready: set[str] = set()
        #: (node, pod name, "created"|"deleted"), in order: the DaemonSet controller's log
        self.pod_events: list[tuple[str, str, str]] = []
        #: called (under the lock) with the node's name whenever a pod is created there
        self.pod_observer: Optional[Callable[[str], None]] = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def add_node(self, name: str, annotations: Optional[dict[str, str]] = None,
                 labels: Optional[dict[str, str]] = None) -> None:
        """Register a Node (``labels``: kubelet's ``--node-labels``)."""
        with self._lock:
            self._version += 1
            self.nodes[name] = {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": name, "resourceVersion": str(self._version),
                                             "annotations": dict(annotations or {}),
                                             "labels": dict(labels or {})}}
            self._reconcile_daemonsets()

    def annotations(self, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self.nodes[name]["metadata"].get("annotations") or {})

    def set_annotation(self, name: str, key: str, value: Optional[str]) -> None:
        """What the reconciler does (as another user): a merge patch of one annotation."""
        with self._lock:
            self._apply(name, {"metadata": {"annotations": {key: value}}})

    def add_daemonset(self, ds: FakeDaemonSet) -> None:
        with self._lock:
            self.daemonsets.append(ds)
            self._reconcile_daemonsets()

    def set_images(self, name: str, images: list[str]) -> None:
        """What kubelet reports in .status.images."""
        with self._lock:
            self._apply(name, {"status": {"images": [{"names": [i], "sizeBytes": 1}
                                                     for i in images]}})

    def router_pods(self, node: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(p) for p in self.pods.values()
                    if p["spec"]["nodeName"] == node]

    def set_pod_ready(self, node: str, ready: bool) -> None:
        with self._lock:
            if ready:
                self.never_ready.discard(node)
            else:
                self.never_ready.add(node)
            for pod in self.pods.values():
                if pod["spec"]["nodeName"] == node:
                    pod["status"] = _pod_status(ready)

    def labels(self, name: str) -> dict[str, str]:
        with self._lock:
            return dict(self.nodes[name]["metadata"].get("labels") or {})

    def set_label(self, name: str, key: str, value: Optional[str]) -> None:
        """A label change by another user (an admin, nodemarker)."""
        with self._lock:
            self._apply(name, {"metadata": {"labels": {key: value}}})

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
        self._reconcile_daemonsets()
        return copy.deepcopy(merged)

    def _reconcile_daemonsets(self) -> None:
        """The DaemonSet controller's reaction to Node changes (label-driven affinity)."""
        for ds in self.daemonsets:
            for node_name, node in self.nodes.items():
                pod_name = f"{ds.name}-{node_name}"
                key = (ds.namespace, pod_name)
                if ds.wants(node) and key not in self.pods:
                    self.pods[key] = {
                        "apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": pod_name, "namespace": ds.namespace,
                                     "labels": dict(ds.labels)},
                        "spec": {"nodeName": node_name},
                        "status": _pod_status(node_name not in self.never_ready)}
                    self.pod_events.append((node_name, pod_name, "created"))
                    if self.pod_observer is not None:
                        self.pod_observer(node_name)
                elif not ds.wants(node) and key in self.pods:
                    del self.pods[key]
                    self.pod_events.append((node_name, pod_name, "deleted"))

    def _collections(self, method: str, path: str, query: dict[str, str], user: str,  # noqa: PLR0911
                     body: bytes) -> Optional[tuple[int, Any]]:
        """The controller's calls; None for a Node and its status (handled below)."""
        parts = path.strip("/").split("/")
        is_node_object = parts[:3] == ["api", "v1", "nodes"] and (
            len(parts) == 4 or (len(parts) == 5 and parts[4] == "status"))
        if is_node_object or path == "/readyz":
            return None
        if user.startswith("system:node:"):
            return 403, status(403, f'User "{user}" cannot {method.lower()} {path}')
        labels = query.get("labelSelector", "")
        if parts == ["api", "v1", "nodes"] and method == "GET":
            items = [copy.deepcopy(n) for n in self.nodes.values()
                     if selector_matches(labels, n["metadata"].get("labels") or {})]
            return 200, {"kind": "NodeList", "items": items,
                         "metadata": {"resourceVersion": str(self._version)}}
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            field = query.get("fieldSelector", "")
            node = field.split("=", 1)[1] if field.startswith("spec.nodeName=") else None
            items = [copy.deepcopy(p) for (ns, _), p in sorted(self.pods.items())
                     if ns == parts[3] and selector_matches(labels, p["metadata"]["labels"])
                     and (node is None or p["spec"]["nodeName"] == node)]
            return 200, {"kind": "PodList", "items": items, "metadata": {}}
        if len(parts) == 6 and parts[0] == "apis" and parts[5] == "underlays":
            key = (f"{parts[1]}/{parts[2]}", parts[4])
            if not any(group == key[0] for group, _ in self.underlays):
                return 404, status(404, "the server could not find the requested resource")
            return 200, {"kind": "UnderlayList", "items": copy.deepcopy(
                self.underlays.get(key, [])), "metadata": {}}
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) >= 5 \
                and parts[4] == "configmaps":
            return self._configmap(method, parts, body)
        return 404, status(404, "the server could not find the requested resource")

    def _configmap(self, method: str, parts: list[str], body: bytes) -> tuple[int, Any]:  # noqa: PLR0911
        namespace = parts[3]
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            return 400, status(400, "invalid JSON")
        if len(parts) == 5 and method == "POST":
            name = doc.get("metadata", {}).get("name", "")
            if (namespace, name) in self.configmaps:
                return 409, status(409, f'configmaps "{name}" already exists')
            self.configmaps[(namespace, name)] = doc
            return 201, copy.deepcopy(doc)
        key = (namespace, parts[5]) if len(parts) == 6 else None
        if key is None or key not in self.configmaps:
            return 404, status(404, f'configmaps "{parts[-1]}" not found')
        if method == "GET":
            return 200, copy.deepcopy(self.configmaps[key])
        if method == "PATCH":
            self.configmaps[key] = merge_patch(self.configmaps[key], doc)
            return 200, copy.deepcopy(self.configmaps[key])
        return 405, status(405, "method not allowed")

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
            url = urllib.parse.urlsplit(path)
            query = dict(urllib.parse.parse_qsl(url.query))
            answer = self._collections(method, url.path, query, user, body)
            if answer is not None:
                return answer
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

    def do_POST(self) -> None:
        self._serve("POST")


def _pod_status(ready: bool) -> dict[str, Any]:
    return {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
