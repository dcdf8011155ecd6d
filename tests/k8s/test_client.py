"""The HTTPS client against the local TLS API server: auth, TLS and status handling."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import trustme

from evpn_boot.k8s import kubeconfig
from evpn_boot.k8s.client import ApiClient, ApiError, Failure, build_ssl_context
from tests.k8s.apiserver import FakeApiServer, merge_patch
from tests.k8s.conftest import NODE


def client_for(path: Path) -> ApiClient:
    return ApiClient(kubeconfig.load(path), timeout=2.0)


def test_merge_patch_follows_rfc7386() -> None:
    # The examples of RFC 7386 section 3, condensed.
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
              "tags": ["example", "sample"], "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890",
             "author": {"familyName": None}, "tags": ["example"]}
    assert merge_patch(target, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
        "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}


def test_client_certificate_auth(api: FakeApiServer,
                                 write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api, as_files=True))
    client.readyz()
    node = client.get_node(NODE)
    assert node["metadata"]["name"] == NODE
    assert api.requests[-1] == ("GET", f"/api/v1/nodes/{NODE}", f"system:node:{NODE}")


def test_token_auth(ca: trustme.CA, api_servers: Callable[..., FakeApiServer],
                    write_kubeconfig: Callable[..., Path], tmp_path: Path) -> None:
    server = api_servers(ca, client_certs="optional")
    server.add_node(NODE)
    server.tokens["s3cret"] = f"system:node:{NODE}"
    client = client_for(write_kubeconfig(server, cert=False, token="s3cret"))
    assert client.get_node(NODE)["metadata"]["name"] == NODE
    assert server.requests[-1][2] == f"system:node:{NODE}"
    wrong = client_for(write_kubeconfig(server, cert=False, token="wrong"))
    with pytest.raises(ApiError) as caught:
        wrong.get_node(NODE)
    assert caught.value.failure is Failure.UNAUTHORIZED and caught.value.status == 401
    assert "Unauthorized" in str(caught.value) and "wrong" not in str(caught.value)


def test_merge_patch_deletes_with_null_and_bumps_resource_version(
        api: FakeApiServer, write_kubeconfig: Callable[..., Path]) -> None:
    api.set_annotation(NODE, "keep", "1")
    api.set_annotation(NODE, "drop", "2")
    client = client_for(write_kubeconfig(api))
    before = client.get_node(NODE)["metadata"]["resourceVersion"]
    after = client.patch_node(NODE, {"metadata": {"annotations": {"drop": None, "new": "3"}}})
    assert after["metadata"]["annotations"] == {"keep": "1", "new": "3"}
    assert int(after["metadata"]["resourceVersion"]) > int(before)
    assert api.annotations(NODE) == {"keep": "1", "new": "3"}


def test_stale_resource_version_is_a_conflict(api: FakeApiServer,
                                              write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api))
    version = client.get_node(NODE)["metadata"]["resourceVersion"]
    api.set_annotation(NODE, "someone", "else")        # the Node changes under us
    with pytest.raises(ApiError) as caught:
        client.patch_node(NODE, {"metadata": {"resourceVersion": version,
                                              "annotations": {"x": "y"}}})
    assert caught.value.failure is Failure.CONFLICT
    assert "the object has been modified" in str(caught.value)
    assert "x" not in api.annotations(NODE)


def test_node_restriction_and_missing_node(api: FakeApiServer,
                                           write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api, user="node-b"))
    with pytest.raises(ApiError) as forbidden:
        client.get_node(NODE)
    assert forbidden.value.failure is Failure.FORBIDDEN
    with pytest.raises(ApiError) as missing:
        client.get_node("node-b")
    assert missing.value.failure is Failure.NOT_FOUND
    assert 'nodes "node-b" not found' in str(missing.value)


def test_server_errors(api: FakeApiServer, write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api))
    api.inject("GET", 503)
    with pytest.raises(ApiError) as caught:
        client.readyz()
    assert caught.value.failure is Failure.SERVER_ERROR and caught.value.status == 503
    client.readyz()


def test_wrong_ca_is_a_tls_failure(api: FakeApiServer,
                                   write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api, trust=trustme.CA()))
    with pytest.raises(ApiError) as caught:
        client.readyz()
    assert caught.value.failure is Failure.TLS
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate verify failed" \
        in str(caught.value)
    assert api.requests == []


def test_missing_client_certificate_is_refused(api: FakeApiServer,
                                               write_kubeconfig: Callable[..., Path]) -> None:
    client = client_for(write_kubeconfig(api, cert=False, token="unused"))
    with pytest.raises(ApiError) as caught:
        client.readyz()
    assert caught.value.failure in (Failure.TLS, Failure.UNREACHABLE)
    assert api.requests == []            # the server never saw an HTTP request


def test_unreachable(ca: trustme.CA, api_servers: Callable[..., FakeApiServer],
                     write_kubeconfig: Callable[..., Path]) -> None:
    server = api_servers(ca, start=False)
    client = client_for(write_kubeconfig(server))
    with pytest.raises(ApiError) as caught:
        client.readyz()
    assert caught.value.failure is Failure.UNREACHABLE
    assert server.url in str(caught.value)


def test_embedded_key_is_not_left_on_disk(api: FakeApiServer, tmp_path: Path,
                                          write_kubeconfig: Callable[..., Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    build_ssl_context(kubeconfig.load(write_kubeconfig(api)))
    assert list((tmp_path / "tmp").iterdir()) == []
