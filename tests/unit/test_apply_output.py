"""What `evpn-boot apply` prints about FRR (the line after the dataplane summary)."""

from __future__ import annotations

import pytest

from evpn_boot.cli.dataplane_cmds import frr_summary
from evpn_boot.frr.lifecycle import FrrResult


@pytest.mark.parametrize("action", ["started", "reloaded", "restarted", "unchanged"])
def test_frr_summary_names_the_action_and_container(action: str) -> None:
    line = frr_summary(FrrResult(action, "evpn-boot-frr"))
    assert line == f"frr: {action} (container evpn-boot-frr)"


def test_frr_summary_lists_written_files_sorted() -> None:
    line = frr_summary(FrrResult("reloaded", "frr", frozenset({"frr.conf", "daemons"})))
    assert line == "frr: reloaded (container frr, wrote daemons, frr.conf)"
