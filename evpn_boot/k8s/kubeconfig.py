"""Find the node's kubeconfig and read the credentials it holds.

evpn-boot reuses kubelet's own identity (``system:node:<name>``), which the
NodeRestriction admission plugin allows to patch exactly its own Node object.
Kubelet's kubeconfig lives in a distribution-specific place, so the default
search path lists kubeadm, OpenShift and k3s/rke2 locations in that order.  A
file found there need not be a kubeconfig at all: on OpenShift
``/etc/kubernetes/kubelet.conf`` is a KubeletConfiguration, so anything that
does not look like a kubeconfig is skipped with a debug log, not an error.

Relative file references in a kubeconfig are relative to the kubeconfig's own
directory, as kubectl resolves them.  Secrets (keys, tokens) are never logged.
"""

from __future__ import annotations

import base64
import binascii
import glob
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from evpn_boot.errors import ErrorKind, EvpnBootError

log = logging.getLogger(__name__)

#: Kubelet kubeconfigs, in the order they are tried (globs allowed).
DEFAULT_SEARCH_PATH: tuple[str, ...] = (
    "/etc/kubernetes/kubelet.conf",               # kubeadm
    "/var/lib/kubelet/kubeconfig",                # OpenShift / RHCOS (after bootstrap)
    "/var/lib/rancher/*/agent/kubelet.kubeconfig",  # k3s, rke2
)


class KubeconfigError(EvpnBootError):
    """A kubeconfig exists but cannot be used (bad YAML, missing user, unreadable file)."""

    kind = ErrorKind.RUNTIME


@dataclass(frozen=True)
class Credentials:
    """Everything the HTTPS client needs to reach one API server as one user.

    PEM material is held as bytes (read once from embedded data or files); the
    token file, if any, is kept as a path and re-read on every request because
    projected and bound tokens rotate.
    """

    source: Path
    server: str
    ca_pem: Optional[bytes] = None
    client_cert_pem: Optional[bytes] = None
    client_key_pem: Optional[bytes] = None
    token: Optional[str] = None
    token_file: Optional[Path] = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: Optional[str] = None

    def bearer_token(self) -> Optional[str]:
        """The token to send now, if any (a token file wins over a literal token)."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip() or None
            except OSError as exc:
                raise KubeconfigError(
                    f"read token file {self.token_file} named by {self.source}: "
                    f"{exc.strerror}") from exc
        return self.token

    def __repr__(self) -> str:  # never print keys or tokens
        return (f"Credentials(source={str(self.source)!r}, server={self.server!r}, "
                f"client_cert={self.client_cert_pem is not None}, "
                f"token={self.token is not None or self.token_file is not None})")


class NotAKubeconfigError(ValueError):
    """The file parses but is some other document (e.g. a KubeletConfiguration)."""


def expand_search_path(patterns: Sequence[str]) -> list[Path]:
    """Patterns -> existing candidate files, in order; a glob expands sorted."""
    found: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            found.extend(Path(p) for p in sorted(glob.glob(pattern)))
        elif Path(pattern).exists():
            found.append(Path(pattern))
    return found


def discover(configured: Optional[Path],
             search_path: Sequence[str] = DEFAULT_SEARCH_PATH) -> Optional[Credentials]:
    """The credentials to use, or None when no usable kubeconfig exists (yet).

    ``configured`` (``[handoff] kubeconfig``) is the only candidate when set: an
    administrator who names a file means that file.  Otherwise the first
    usable file on ``search_path`` wins; files that are not kubeconfigs or that
    cannot be used are skipped with a debug log, since kubelet may not have
    written its own yet (TLS bootstrap) and boot must never wait on it.
    """
    candidates = [configured] if configured is not None else expand_search_path(search_path)
    for path in candidates:
        try:
            return load(path)
        except NotAKubeconfigError as exc:
            log.debug("skipping %s: not a kubeconfig (%s)", path, exc)
        except FileNotFoundError:
            log.debug("skipping %s: does not exist", path)
        except KubeconfigError as exc:
            log.debug("skipping %s: %s", path, exc)
    return None


def load(path: Path) -> Credentials:
    """Read one kubeconfig file; raises NotAKubeconfigError or KubeconfigError."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KubeconfigError(f"read kubeconfig {path}: {exc.strerror}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NotAKubeconfigError(f"not YAML: {exc.__class__.__name__}") from None
    return parse(document, path)


def parse(document: Any, path: Path) -> Credentials:
    """A parsed kubeconfig document -> Credentials of its current context."""
    if not isinstance(document, dict):
        raise NotAKubeconfigError("not a mapping")
    kind = document.get("kind")
    if kind not in (None, "Config") or "clusters" not in document:
        raise NotAKubeconfigError(f"kind {kind!r}, apiVersion {document.get('apiVersion')!r}")
    base = path.parent
    context = _current_context(document, path)
    cluster = _named(document, "clusters", "cluster", context.get("cluster"), path)
    user = _named(document, "users", "user", context.get("user"), path)
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise KubeconfigError(f"{path}: cluster server {server!r} is not an https:// URL")
    creds = Credentials(
        source=path,
        server=server.rstrip("/"),
        ca_pem=_pem(cluster, "certificate-authority-data", "certificate-authority", base, path),
        client_cert_pem=_pem(user, "client-certificate-data", "client-certificate", base, path),
        client_key_pem=_pem(user, "client-key-data", "client-key", base, path),
        token=user.get("token") if isinstance(user.get("token"), str) else None,
        token_file=_path(user.get("tokenFile"), base),
        insecure_skip_tls_verify=cluster.get("insecure-skip-tls-verify") is True,
        tls_server_name=cluster.get("tls-server-name"),
    )
    if (creds.client_cert_pem is None) != (creds.client_key_pem is None):
        raise KubeconfigError(f"{path}: user has a client certificate without a key "
                              "or a key without a certificate")
    if creds.client_cert_pem is None and creds.token is None and creds.token_file is None:
        raise KubeconfigError(f"{path}: user has no client certificate and no token "
                              "(exec and auth-provider plugins are not supported)")
    return creds


def _current_context(document: dict[str, Any], path: Path) -> dict[str, Any]:
    name = document.get("current-context")
    contexts = document.get("contexts") or []
    if not name and isinstance(contexts, list) and len(contexts) == 1:
        name = contexts[0].get("name") if isinstance(contexts[0], dict) else None
    if not name:
        raise KubeconfigError(f"{path}: no current-context")
    return _named(document, "contexts", "context", name, path)


def _named(document: dict[str, Any], section: str, key: str, name: Any,
           path: Path) -> dict[str, Any]:
    entries = document.get(section) or []
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == name:
                value = entry.get(key)
                if isinstance(value, dict):
                    return value
    raise KubeconfigError(f"{path}: no {key} named {name!r} in {section}")


def _path(value: Any, base: Path) -> Optional[Path]:
    if not isinstance(value, str) or not value:
        return None
    candidate = Path(value)
    return candidate if candidate.is_absolute() else base / candidate


def _pem(section: dict[str, Any], data_key: str, file_key: str, base: Path,
         path: Path) -> Optional[bytes]:
    """Embedded base64 data wins over a file reference, as in kubectl."""
    data = section.get(data_key)
    if isinstance(data, str) and data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeconfigError(f"{path}: {data_key} is not valid base64") from exc
    file = _path(section.get(file_key), base)
    if file is None:
        return None
    try:
        return file.read_bytes()
    except OSError as exc:
        raise KubeconfigError(f"{path}: read {file_key} {file}: {exc.strerror}") from exc
