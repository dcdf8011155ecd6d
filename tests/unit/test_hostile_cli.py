"""No traceback for any input: hostile values in every string and path field, through the CLI.

Each example puts one generated value (NUL bytes, control characters, newlines,
FRR syntax, option-like strings, huge strings, odd paths) into one string or
path field of a valid configuration and runs ``validate``, ``show --json
--no-host`` and ``render frr --no-host`` in-process (``main(argv)``, as the
console script does).  Each must exit 0 or 2, print no traceback, and agree
with the others.  ``plan`` reads the kernel once a configuration is valid, so
here it runs on the refused ones only (it must refuse them the same way, before
reading anything); valid configurations are planned by the root tier.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomllib
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evpn_boot.cli.main import main
from tests.unit.config_cases import VALID

#: Every string or path field of the model, as a key path into VALID (extended).
FIELDS: list[tuple[Any, ...]] = [
    ("node", "name"), ("node", "router_mac"),
    ("runtime", "netns"), ("runtime", "host_netns"), ("runtime", "state_dir"),
    ("runtime", "run_dir"), ("runtime", "log_level"),
    ("frr", "image"), ("frr", "config_dir"), ("frr", "container_name"), ("frr", "raw_config"),
    ("underlay", "nic"), ("underlay", "vtep_cidr"), ("underlay", "router_id_cidr"),
    ("underlay", "neighbors", 0, "address"), ("underlay", "neighbors", 0, "password_file"),
    ("l3vni", 0, "vrf"), ("l3vni", 0, "local_cidr"), ("l3vni", 0, "local_cidr_v6"),
    ("l3vni", 0, "import_rts", 0), ("l3vni", 0, "export_rts", 0),
    ("l2vni", 0, "host_bridge"), ("l2vni", 0, "vrf"), ("l2vni", 0, "gateway_ips", 0),
    ("readiness", "require"), ("handoff", "kubeconfig"),
]
#: Fields only valid in another shape of the config (swapped in for the example).
VLAN_FIELDS = [("underlay", "vlan", "parent"), ("underlay", "vlan", "name"),
               ("underlay", "vlan", "address_cidr")]
INDEX_FIELD = ("node", "index_from_interface")

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x20), max_size=10),   # control, NUL
    st.sampled_from([
        "", ".", "..", "/", "//", "-", "--privileged", "-v", "a:b", "a,b", "x\x00y", "\x00",
        "eth0\n", "x\nrouter bgp 1\n neighbor 6.6.6.6 remote-as 1", "!", "#", "é", "🚀",
        "a" * 15, "a" * 16, "a" * 5000, "/dev/null", "/etc/passwd", "/proc/sys/net", "../x",
        "/run/evpn-boot/../x", "relative/dir", "/tmp/x:y,z", "${HOME}", "$(reboot)",
        "0.0.0.0/0", "127.0.0.1", "224.0.0.1", "::", "4294967296:1", "1.2.3.256:1",
        "\u202e", "\ufeff", "\x7f", "\x85", "br-pe-100", "vni100", "lo", "perouter",
    ]),
)


def toml_string(value: str) -> str:
    """A TOML basic string holding ``value`` exactly (control characters escaped)."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any]) -> str:
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in document.items())


def with_value(path: tuple[Any, ...], value: str) -> dict[str, Any]:
    document = tomllib.loads(VALID)
    document["l3vni"][0].update(local_cidr_v6="fd00::/64", import_rts=["64514:1"],
                                export_rts=["64514:1"])
    document["l2vni"][0].update(vrf="red", gateway_ips=["192.170.1.1/24"])
    document["handoff"]["kubeconfig"] = "/etc/kubernetes/kubelet.conf"
    if path in VLAN_FIELDS:
        del document["underlay"]["nic"]
        document["underlay"]["vlan"] = {"parent": "eth0", "id": 10, "name": "eth0.10",
                                        "address_cidr": "192.168.11.0/24"}
    if path == INDEX_FIELD:
        del document["node"]["index"]
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return document


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    assert isinstance(code, int), (argv, code)
    return code, out.out, out.err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(FIELDS + VLAN_FIELDS + [INDEX_FIELD]), value=HOSTILE)
@example(path=("runtime", "netns"), value="pe\x00r")
@example(path=("runtime", "run_dir"), value="/run/\x00")
@example(path=("node", "name"), value="x\nrouter bgp 1\n neighbor 6.6.6.6 remote-as 1")
@example(path=("frr", "image"), value="--privileged")
def test_hostile_string_fields(capsys: pytest.CaptureFixture[str], path: tuple[Any, ...],
                               value: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.toml"
        config.write_text(to_toml(with_value(path, value)), encoding="utf-8")
        before = sorted(os.listdir(scratch))
        codes = {}
        # validate without FRR's parser: FRR's own verdict on raw_config (exit 6)
        # is tests/frr's; here the property is "a clear exit, never a traceback".
        for argv in (["validate", "--no-frr-check"], ["show", "--json", "--no-host"],
                     ["render", "frr", "--no-host"]):
            code, _, err = run(capsys, "-c", str(config), *argv)
            assert code in (0, 2), (argv, code, err)
            assert "Traceback" not in err
            if code == 2:
                assert err.startswith("evpn-boot: error:"), err
            codes[argv[0]] = code
        if codes["validate"] == 2:
            # Refused configurations stay refused everywhere, before the kernel is read.
            assert set(codes.values()) == {2}, codes
            code, _, err = run(capsys, "-c", str(config), "plan")
            assert code == 2 and "Traceback" not in err, err
        assert sorted(os.listdir(scratch)) == before


def test_deep_arrays_are_a_config_error(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(VALID + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run(capsys, "-c", str(config), "validate")
    assert code == 2 and "nested too deeply" in err and "Traceback" not in err


def test_deep_inline_tables_are_a_config_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(VALID + "\nx = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    code, _, err = run(capsys, "-c", str(config), "validate")
    assert code == 2 and "Traceback" not in err


def test_non_utf8_password_file_is_a_config_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(b"\xc3\x28secret\n")
    secret.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(VALID.replace("asn = 64512", f'asn = 64512\npassword_file = "{secret}"'))
    for argv in (["validate"], ["render", "frr", "--show-secrets"]):
        code, _, err = run(capsys, "-c", str(config), *argv)
        assert code == 2 and "not UTF-8" in err and "Traceback" not in err, err
