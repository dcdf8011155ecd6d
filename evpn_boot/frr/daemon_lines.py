"""Which FRR daemon a configuration line belongs to, for the daemons evpn-boot
does not run.

``vtysh --dryrun`` knows every daemon's grammar, so ``router ospf`` passes it,
and ``bgpd -C`` only says "No such command" for lines another daemon owns.  A
line for a daemon that ``daemons`` leaves off would be accepted and then
silently ignored at run time; this table names them (FRR's vtysh assigns these
commands to these daemons), so the validator can refuse them.
"""

from __future__ import annotations

import re

#: The daemons ``templates/daemons.j2`` enables (a unit test keeps them equal).
ENABLED = frozenset({"zebra", "bgpd", "bfdd", "staticd"})

#: daemon -> the commands that only it accepts (top level, or inside ``interface``).
_FOREIGN: dict[str, tuple[str, ...]] = {
    "ospfd": (r"router ospf(\s|$)", r"\s+ip ospf\s"),
    "ospf6d": (r"router ospf6(\s|$)", r"\s+ipv6 ospf6\s"),
    "ripd": (r"router rip(\s|$)", r"\s+ip rip\s"),
    "ripngd": (r"router ripng(\s|$)", r"\s+ipv6 ripng\s"),
    "isisd": (r"router isis\s", r"\s+(ip|ipv6) router isis\s", r"\s+isis\s"),
    "fabricd": (r"router openfabric\s", r"\s+(ip|ipv6) router openfabric\s", r"\s+openfabric\s"),
    "eigrpd": (r"router eigrp\s", r"\s+ip eigrp\s"),
    "babeld": (r"router babel(\s|$)", r"\s+babel\s"),
    "ldpd": (r"mpls ldp(\s|$)", r"l2vpn \S+ type vpls"),
    "pimd": (r"ip (pim|msdp|igmp|multicast)\s", r"\s+ip (pim|igmp|mroute)(\s|$)"),
    "pim6d": (r"ipv6 (pim|mld)\s", r"\s+ipv6 (pim|mld)(\s|$)"),
    "pbrd": (r"pbr-map\s", r"\s+pbr-policy\s"),
    "vrrpd": (r"\s+vrrp\s",),
    "nhrpd": (r"nhrp\s", r"\s+ip nhrp\s"),
}
_PATTERNS = [(daemon, re.compile(p)) for daemon, ps in _FOREIGN.items() for p in ps]


def foreign_daemon(line: str) -> str | None:
    """The daemon (not one evpn-boot runs) that owns ``line``, or None."""
    for daemon, pattern in _PATTERNS:
        if daemon not in ENABLED and pattern.match(line):
            return daemon
    return None
