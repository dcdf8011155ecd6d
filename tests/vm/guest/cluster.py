"""The VM's stand-in for the cluster: a one-Node API server, OpenPERouter's
gated router DaemonSet, and what kubelet does with it (stdlib only).

There is no Kubernetes in the VM.  What evpn-boot talks to is real HTTPS
(``GET /readyz``, GET/merge-PATCH of its Node, a bearer token), served from a
self-signed certificate made at provisioning.  The Node lives in
``/var/lib/evpn-e2e/cluster/node.json`` (on disk, so it survives reboots like
etcd).  Two reactions play the cluster's part in the gate:

* the DaemonSet controller: when a PATCH changes ``evpn-boot.io/gate``, the
  router stand-in is started (``released``) or stopped (``supervising``), as
  the controller would create or delete OpenPERouter's router pod;
* kubelet: when the kubelet stand-in starts, it restarts the router pod that
  is bound to the node unless the gate is closed (kubelet's admission of a
  pod whose node affinity no longer matches fails).

The router stand-in does what OpenPERouter's router pod does: wait up to 60 s
for ``/var/run/netns/perouter``, then start FRR's bgpd in it with ``nsenter
--net``.  When it starts it records whether evpn-boot's FRR container is
running at that moment: the checks fail on any record that says so.

What this proves: evpn-boot's side of the gate (closing it before READY at a
reboot, opening it only after its FRR stopped) and the ordering against a
kubelet that honours it.  What it does not: the real DaemonSet controller and
kubelet admission, which are Kubernetes' (``tests/k8s`` plays the same rules
against the project's TLS API server).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import signal
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DIR = Path(os.environ.get("EVPN_E2E_CLUSTER_DIR", "/var/lib/evpn-e2e/cluster"))
KUBECONFIG = Path(os.environ.get("EVPN_E2E_KUBECONFIG", "/etc/evpn-boot/kubeconfig"))
NODE_FILE = DIR / "node.json"
RUN = Path(os.environ.get("EVPN_E2E_RUN", "/run/evpn-e2e"))
STARTS = RUN / "router-starts.jsonl"       # one line per router stand-in start, this boot
GATE_LOG = DIR / "gate.jsonl"              # every gate change: boot id, monotonic time, value
NODE = "vm-node"
PORT = int(os.environ.get("EVPN_E2E_API_PORT", "6443"))
TOKEN = "node-token"
ADMIN = "admin-token"
GATE = "evpn-boot.io/gate"
NETNS = Path("/var/run/netns/perouter")
LOCK = threading.Lock()


def mono() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def note(msg: str) -> None:
    print(f"evpn-e2e: cluster: {msg}", flush=True)


def merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def load_node() -> dict[str, Any]:
    return json.loads(NODE_FILE.read_text())


def save_node(node: dict[str, Any]) -> None:
    tmp = NODE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(node))
    os.replace(tmp, NODE_FILE)


def gate_of(node: dict[str, Any]) -> str:
    return str((node["metadata"].get("labels") or {}).get(GATE, ""))


# --- provisioning --------------------------------------------------------------

def provision() -> None:
    """Certificate, the Node as kubelet registers it (gate closed), the kubeconfig."""
    DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", str(DIR / "tls.key"), "-out", str(DIR / "tls.crt"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    save_node({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": NODE, "resourceVersion": "1", "annotations": {},
                            "labels": {GATE: "supervising"}}})
    KUBECONFIG.parent.mkdir(parents=True, exist_ok=True)
    ca = (DIR / "tls.crt").read_text()
    import base64
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "vm",
           "clusters": [{"name": "vm", "cluster": {
               "server": f"{'https'}://127.0.0.1:{PORT}",
               "certificate-authority-data": base64.b64encode(ca.encode()).decode()}}],
           "users": [{"name": "node", "user": {"token": TOKEN}}],
           "contexts": [{"name": "vm", "context": {"cluster": "vm", "user": "node"}}]}
    KUBECONFIG.write_text(json.dumps(doc))   # JSON is YAML
    KUBECONFIG.chmod(0o600)


# --- the API server ------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, code: int, body: Any) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth in (f"Bearer {TOKEN}", f"Bearer {ADMIN}"):
            return True
        self.reply(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
        return False

    def do_GET(self) -> None:
        if not self.authorized():
            return
        if self.path == "/readyz":
            self.reply(200, "ok")
        elif self.path == f"/api/v1/nodes/{NODE}":
            with LOCK:
                self.reply(200, load_node())
        else:
            self.reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self.authorized():
            return
        if self.path != f"/api/v1/nodes/{NODE}":
            self.reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            return
        patch = json.loads(body)
        with LOCK:
            node = load_node()
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted is not None and wanted != node["metadata"]["resourceVersion"]:
                self.reply(409, {"kind": "Status", "code": 409, "reason": "Conflict"})
                return
            before = gate_of(node)
            node = merge(node, patch)
            node["metadata"]["resourceVersion"] = str(int(node["metadata"]
                                                          ["resourceVersion"]) + 1)
            save_node(node)
            after = gate_of(node)
            if after != before:
                with GATE_LOG.open("a") as log:
                    log.write(json.dumps({"boot": boot_id(), "mono": mono(), "gate": after})
                              + "\n")
                daemonset_reaction(after)
            self.reply(200, node)


def daemonset_reaction(gate: str) -> None:
    """The DaemonSet controller: the router pod follows the gate's node affinity."""
    if gate == "supervising":
        subprocess.run(["systemctl", "stop", "openpe-router.service"], check=False,
                       capture_output=True)
        note("gate closed: router stand-in removed")
    else:
        start_router("daemonset")


def start_router(why: str) -> None:
    subprocess.run(["systemd-run", "--unit", "openpe-router", "--collect",
                    "--property", "StandardOutput=journal+console",
                    "/usr/bin/python3", str(Path(__file__).resolve()), "router", why],
                   check=False, capture_output=True)
    note(f"router stand-in started ({why})")


def serve() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(DIR / "tls.crt"), str(DIR / "tls.key"))
    httpd = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    note(f"API server on 127.0.0.1:{PORT}")
    httpd.serve_forever()


# --- kubelet and the router pod ---------------------------------------------

def kubelet() -> None:
    """What kubelet does at start with the router pod bound to this node."""
    gate = gate_of(load_node())
    if gate == "supervising":
        note("kubelet: router pod not admitted (gate closed)")
    elif gate:
        start_router("kubelet")


def frr_container_running() -> bool:
    proc = subprocess.run(["podman", "inspect", "--format", "{{.State.Running}}",
                           "evpn-boot-frr"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() == "true"


def router(why: str) -> None:
    """OpenPERouter's router pod: wait for the netns (60 s), then FRR in it."""
    deadline = mono() + 60
    while not NETNS.exists():
        if mono() > deadline:
            raise SystemExit("router stand-in: no /var/run/netns/perouter after 60 s")
        time.sleep(1)
    RUN.mkdir(parents=True, exist_ok=True)
    record = {"mono": mono(), "why": why, "evpn_boot_frr_running": frr_container_running()}
    with STARTS.open("a") as out:
        out.write(json.dumps(record) + "\n")
    work = Path("/run/openpe-router")
    work.mkdir(parents=True, exist_ok=True)
    (work / "bgpd.conf").write_text("router bgp 64514\n bgp router-id 10.0.0.2\n")
    # As FRR's own user (in the frrvty group; root is not, and bgpd refuses).
    for path in (work, work / "bgpd.conf"):
        os.chown(path, pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid)
    log = os.open(RUN / "router-standin.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.execvp("nsenter", ["nsenter", f"--net={NETNS}", "/usr/lib/frr/bgpd", "-Z",
                          "-f", str(work / "bgpd.conf"), "-i", str(work / "bgpd.pid"),
                          "--vty_socket", str(work), "-u", "frr", "-g", "frr"])


def request_handoff() -> None:
    """The handoff controller's request (written directly: one node, no controller)."""
    with LOCK:
        node = load_node()
        node["metadata"]["annotations"]["evpn-boot.io/handoff"] = "requested"
        node["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
        save_node(node)


def main() -> None:
    mode = sys.argv[1]
    if mode == "provision":
        provision()
    elif mode == "serve":
        serve()
    elif mode == "kubelet":
        kubelet()
    elif mode == "router":
        router(sys.argv[2] if len(sys.argv) > 2 else "")
    elif mode == "request-handoff":
        request_handoff()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
