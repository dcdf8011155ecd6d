"""Fixtures for the handoff tests: a CA, API servers (always stopped), kubeconfigs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import trustme
import yaml

from tests.k8s.apiserver import FakeApiServer

NODE = "node-a"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def api_servers() -> Iterator[Callable[..., FakeApiServer]]:
    made: list[FakeApiServer] = []

    def make(ca: trustme.CA, *, start: bool = True, **kwargs: Any) -> FakeApiServer:
        server = FakeApiServer(ca, **kwargs)
        made.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def api(ca: trustme.CA, api_servers: Callable[..., FakeApiServer]) -> FakeApiServer:
    server = api_servers(ca)
    server.add_node(NODE)
    return server


def kubeconfig_document(server: str, *, ca_pem: Optional[bytes] = None,
                        cert_pem: Optional[bytes] = None, key_pem: Optional[bytes] = None,
                        token: Optional[str] = None, files: Optional[Path] = None,
                        token_file: Optional[str] = None) -> dict[str, Any]:
    """A kubeconfig; with ``files`` the PEMs go to files referenced relatively."""
    cluster: dict[str, Any] = {"server": server}
    user: dict[str, Any] = {}

    def put(section: dict[str, Any], key: str, data: Optional[bytes], filename: str) -> None:
        if data is None:
            return
        if files is None:
            section[f"{key}-data"] = base64.b64encode(data).decode()
        else:
            (files / filename).write_bytes(data)
            section[key] = filename

    put(cluster, "certificate-authority", ca_pem, "ca.crt")
    put(user, "client-certificate", cert_pem, "client.crt")
    put(user, "client-key", key_pem, "client.key")
    if token is not None:
        user["token"] = token
    if token_file is not None:
        user["tokenFile"] = token_file
    return {"apiVersion": "v1", "kind": "Config", "current-context": "default",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "default", "context": {"cluster": "c", "user": "u"}}]}


@pytest.fixture
def write_kubeconfig(tmp_path: Path, ca: trustme.CA) -> Callable[..., Path]:
    """Write a kubeconfig for ``server`` with a client cert for system:node:NODE."""
    counter = iter(range(1000))

    def write(server: FakeApiServer, *, path: Optional[Path] = None, user: str = NODE,
              trust: Optional[trustme.CA] = None, cert: bool = True,
              token: Optional[str] = None, as_files: bool = False,
              token_file: Optional[str] = None) -> Path:
        target = path or tmp_path / f"kubeconfig-{next(counter)}"
        target.parent.mkdir(parents=True, exist_ok=True)
        leaf = ca.issue_cert(user, common_name=f"system:node:{user}") if cert else None
        doc = kubeconfig_document(
            server.url, ca_pem=(trust or ca).cert_pem.bytes(),
            cert_pem=leaf.cert_chain_pems[0].bytes() if leaf else None,
            key_pem=leaf.private_key_pem.bytes() if leaf else None,
            token=token, files=target.parent if as_files else None, token_file=token_file)
        target.write_text(yaml.safe_dump(doc))
        return target

    return write
