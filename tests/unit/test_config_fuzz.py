"""Property tests: no TOML document, however odd, crashes the loader.

The loader either returns a Config or raises ConfigError; any other exception
would surface to the user as a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evpn_boot.config.load import parse_config
from evpn_boot.config.model import Config
from evpn_boot.errors import ConfigError
from tests.unit.config_cases import VALID

KNOWN_KEYS = ["node", "index", "index_from_interface", "name", "runtime", "netns", "host_netns",
              "underlay", "asn", "vtep_cidr", "router_id_cidr", "nic", "vlan", "macvlan",
              "parent", "id", "neighbors", "address", "bfd", "password_file", "l3vni", "vrf",
              "vni", "local_cidr", "host_asn", "l2vni", "gateway_ips", "host_bridge",
              "readiness", "require", "timeout_s", "handoff", "enabled", "frr", "table",
              "import_rts", "export_rts", "mtu", "ebgp_multihop", "hold_time"]

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["100.65.0.0/24", "eth1", "fd00::/64", "192.168.11.2", "red",
                     "any-established", "1.2.3.4/33", "64514:100", "/tmp/x"]),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.from_regex(r"[a-z_]{1,12}", fullmatch=True))


def values(depth: int = 2) -> st.SearchStrategy[Any]:
    if depth == 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=3),
                     st.dictionaries(keys, inner, max_size=4))


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items()) + "\n"


def load_never_crashes(text: str) -> None:
    try:
        result = parse_config(text.encode("utf-8", "surrogatepass"), "<fuzz>")
    except ConfigError as exc:
        assert exc.problems, "a ConfigError must say what is wrong"
        assert all(isinstance(p, str) and p for p in exc.problems)
    else:
        assert isinstance(result, Config)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    load_never_crashes(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values(), max_size=8))
def test_random_documents(document: dict[str, Any]) -> None:
    load_never_crashes(to_toml(document))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_valid_config_with_one_line_replaced(data: st.DataObject) -> None:
    lines = VALID.splitlines()
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    key = lines[index].split("=")[0].strip() if "=" in lines[index] else data.draw(keys)
    lines[index] = f"{key} = {toml_value(data.draw(values(1)))}"
    load_never_crashes("\n".join(lines) + "\n")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_valid_config_with_lines_dropped(data: st.DataObject) -> None:
    lines = VALID.splitlines()
    drop = data.draw(st.sets(st.integers(min_value=0, max_value=len(lines) - 1), max_size=6))
    load_never_crashes("\n".join(line for i, line in enumerate(lines) if i not in drop) + "\n")
