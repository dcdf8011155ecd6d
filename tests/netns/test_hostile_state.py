"""A corrupt or foreign state.json / released.json: refused (exit 8) with the way out.

Against the real kernel (tests/netns' lab): the record is broken after a real
apply, every command that would trust it refuses and changes nothing, and the
documented recovery works.
"""

from __future__ import annotations

import json

import pytest

from tests.netns.test_dataplane import Lab, lab  # noqa: F401  (the fixture)
from tests.support.netns import list_netns

pytestmark = pytest.mark.root

EXIT_STATE = 8


@pytest.mark.parametrize("junk", [
    pytest.param(b"\x00garbage{", id="not-json"),
    pytest.param(json.dumps({"netns": 5, "host_links": "x"}).encode(), id="wrong-types"),
    pytest.param(json.dumps({"version": 99}).encode(), id="other-version"),
    pytest.param(json.dumps({"host_links": ["../../etc"]}).encode(), id="bad-name"),
    pytest.param(b"[" * 5000, id="deep"),
])
def test_corrupt_state_is_refused_then_discarded(lab: Lab, junk: bytes) -> None:  # noqa: F811
    lab.cli("apply", "--skip-frr")
    state = lab.tmp / "state" / "state.json"
    state.write_bytes(junk)
    for argv in (("plan",), ("apply", "--skip-frr"), ("teardown",)):
        result = lab.cli(*argv, check=False)
        assert result.returncode == EXIT_STATE, (argv, result.stderr)
        assert str(state) in result.stderr and "teardown --discard-state" in result.stderr
        assert "Traceback" not in result.stderr
    assert lab.router in list_netns()               # nothing was touched
    assert "br-hs-110" in lab.links(lab.host)
    assert state.read_bytes() == junk

    done = lab.cli("teardown", "--discard-state")
    assert "set aside" in done.stdout
    assert "host/br-hs-110 carries evpn-boot's tag but is not recorded" in done.stdout
    assert lab.router not in list_netns()
    assert (lab.tmp / "state" / "state.json.discarded").read_bytes() == junk
    assert not state.exists()


def test_corrupt_release_record_is_refused_until_teardown(lab: Lab) -> None:  # noqa: F811
    lab.cli("apply", "--skip-frr")
    record = lab.tmp / "run" / "released.json"
    record.write_text('{"released_at": 1}')
    record.chmod(0o644)
    refused = lab.cli("apply", "--skip-frr", check=False)
    assert refused.returncode == EXIT_STATE, refused.stderr
    assert str(record) in refused.stderr and "evpn-boot teardown" in refused.stderr
    lab.cli("teardown")
    assert not record.exists()
    lab.cli("apply", "--skip-frr")
    lab.cli("teardown")
