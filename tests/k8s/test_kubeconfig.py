"""Kubeconfig discovery and credential loading (no server needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trustme
import yaml

from evpn_boot.k8s import kubeconfig
from evpn_boot.k8s.kubeconfig import KubeconfigError, NotAKubeconfigError
from tests.k8s.conftest import kubeconfig_document

KUBELET_CONFIGURATION = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509:
    clientCAFile: /etc/kubernetes/kubelet-ca.crt
cgroupDriver: systemd
clusterDNS: [172.30.0.10]
"""


@pytest.fixture
def pki(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("node-a", common_name="system:node:node-a")


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def test_search_path_skips_missing_and_kubelet_configuration(
        tmp_path: Path, ca: trustme.CA, pki: trustme.LeafCert,
        caplog: pytest.LogCaptureFixture) -> None:
    kubeadm = _write(tmp_path / "etc/kubernetes/kubelet.conf", KUBELET_CONFIGURATION)
    openshift = tmp_path / "var/lib/kubelet/kubeconfig"          # absent
    k3s = _write(tmp_path / "var/lib/rancher/k3s/agent/kubelet.kubeconfig", kubeconfig_document(
        "https://10.0.0.1:6443", ca_pem=ca.cert_pem.bytes(),
        cert_pem=pki.cert_chain_pems[0].bytes(), key_pem=pki.private_key_pem.bytes()))
    search = (str(kubeadm), str(openshift), str(tmp_path / "var/lib/rancher/*/agent/"
                                                           "kubelet.kubeconfig"))
    with caplog.at_level(logging.DEBUG, logger="evpn_boot.k8s.kubeconfig"):
        creds = kubeconfig.discover(None, search)
    assert creds is not None
    assert creds.source == k3s
    assert creds.server == "https://10.0.0.1:6443"
    assert creds.client_cert_pem == pki.cert_chain_pems[0].bytes()
    skipped = [r.getMessage() for r in caplog.records]
    assert any(str(kubeadm) in m and "not a kubeconfig" in m and "KubeletConfiguration" in m
               for m in skipped), skipped
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


def test_first_usable_file_wins(tmp_path: Path, ca: trustme.CA) -> None:
    first = _write(tmp_path / "a", kubeconfig_document("https://a:6443", token="t1"))
    second = _write(tmp_path / "b", kubeconfig_document("https://b:6443", token="t2"))
    creds = kubeconfig.discover(None, (str(first), str(second)))
    assert creds is not None and creds.server == "https://a:6443"


def test_configured_path_is_the_only_candidate(tmp_path: Path) -> None:
    usable = _write(tmp_path / "kubelet.conf", kubeconfig_document("https://a:6443", token="t"))
    assert kubeconfig.discover(tmp_path / "missing", (str(usable),)) is None
    creds = kubeconfig.discover(usable, ())
    assert creds is not None and creds.source == usable


def test_nothing_found(tmp_path: Path) -> None:
    assert kubeconfig.discover(None, (str(tmp_path / "x"), str(tmp_path / "*/y"))) is None


def test_file_references_are_relative_to_the_kubeconfig(tmp_path: Path, ca: trustme.CA,
                                                        pki: trustme.LeafCert) -> None:
    folder = tmp_path / "pki"
    folder.mkdir()
    doc = kubeconfig_document("https://api:6443/", ca_pem=ca.cert_pem.bytes(),
                              cert_pem=pki.cert_chain_pems[0].bytes(),
                              key_pem=pki.private_key_pem.bytes(), files=folder)
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == "ca.crt"
    creds = kubeconfig.load(_write(folder / "kubeconfig", doc))
    assert creds.server == "https://api:6443"
    assert creds.ca_pem == ca.cert_pem.bytes()
    assert creds.client_key_pem == pki.private_key_pem.bytes()


def test_token_file_is_reread(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("first\n")
    creds = kubeconfig.load(_write(tmp_path / "kc", kubeconfig_document(
        "https://api:6443", token="literal", token_file="token")))
    assert creds.bearer_token() == "first"
    (tmp_path / "token").write_text("rotated\n")
    assert creds.bearer_token() == "rotated"
    assert "rotated" not in repr(creds) and "literal" not in repr(creds)


def test_embedded_data_must_be_base64(tmp_path: Path) -> None:
    doc = kubeconfig_document("https://api:6443", token="t")
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = "not base64!"
    with pytest.raises(KubeconfigError, match="certificate-authority-data is not valid base64"):
        kubeconfig.load(_write(tmp_path / "kc", doc))


@pytest.mark.parametrize(("document", "error", "match"), [
    ("just a string", NotAKubeconfigError, "not a mapping"),
    ("a: [unclosed", NotAKubeconfigError, "not YAML"),
    ({"kind": "Config", "clusters": [], "contexts": [], "users": []}, KubeconfigError,
     "no current-context"),
    ({"kind": "Config", "current-context": "x", "clusters": [], "contexts": [], "users": []},
     KubeconfigError, "no context named 'x'"),
])
def test_unusable_documents(tmp_path: Path, document: object, error: type[Exception],
                            match: str) -> None:
    with pytest.raises(error, match=match):
        kubeconfig.load(_write(tmp_path / "kc", document))


def test_user_without_credentials_or_with_half_a_keypair(tmp_path: Path,
                                                         pki: trustme.LeafCert) -> None:
    with pytest.raises(KubeconfigError, match="no client certificate and no token"):
        kubeconfig.load(_write(tmp_path / "a", kubeconfig_document("https://api:6443")))
    half = kubeconfig_document("https://api:6443", cert_pem=pki.cert_chain_pems[0].bytes())
    with pytest.raises(KubeconfigError, match="without a key"):
        kubeconfig.load(_write(tmp_path / "b", half))


def test_plain_http_server_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="not an https:// URL"):
        kubeconfig.load(_write(tmp_path / "kc", kubeconfig_document("http://api:8080",
                                                                    token="t")))


def test_single_context_without_current_context(tmp_path: Path) -> None:
    doc = kubeconfig_document("https://api:6443", token="t")
    del doc["current-context"]
    assert kubeconfig.load(_write(tmp_path / "kc", doc)).token == "t"


def test_insecure_and_tls_server_name(tmp_path: Path) -> None:
    doc = kubeconfig_document("https://10.0.0.1:6443", token="t")
    doc["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True,
                                          "tls-server-name": "api.example"})
    creds = kubeconfig.load(_write(tmp_path / "kc", doc))
    assert creds.insecure_skip_tls_verify and creds.tls_server_name == "api.example"
