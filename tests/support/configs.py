"""The TOML tables every test node starts from, written once.

The node of the test fabrics: AS 64514, VTEPs from 100.65.0.0/24, router IDs
from 10.0.0.0/24, the underlay NIC ``eth1``, and the leaf (192.168.11.2,
AS 64512) as its underlay neighbor.  Tests append what they vary; TOML keys
that follow ``LEAF_NEIGHBOR`` extend that neighbor.
"""

from __future__ import annotations

LEAF_ADDRESS = "192.168.11.2"


def underlay(nic: str = 'nic = "eth1"') -> str:
    """The ``[underlay]`` table; ``nic`` is the line that names the underlay device."""
    return f"""
[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
{nic}
"""


def neighbor(address: str = LEAF_ADDRESS, asn: int = 64512) -> str:
    """One ``[[underlay.neighbors]]`` entry (the leaf by default)."""
    return f"""
[[underlay.neighbors]]
address = "{address}"
asn = {asn}
"""


#: The underlay of the usual test node: eth1, the leaf as its one neighbor.
UNDERLAY = underlay()
LEAF_NEIGHBOR = neighbor()
NODE_UNDERLAY = UNDERLAY + LEAF_NEIGHBOR
