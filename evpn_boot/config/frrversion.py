"""Which FRR the configured image holds, so evpn-boot refuses what it cannot do.

The image cannot be asked at validation time (it may not be pulled yet, and a
fleet's configuration is validated far from its nodes), so the version is a
configuration value: ``frr.version``, or by default the image's tag when the
tag is a version (upstream tags are: ``quay.io/frrouting/frr:10.4.3``).
"""

from __future__ import annotations

import re
from typing import Optional

from evpn_boot.config.model import FrrConfig

_TAG_VERSION = re.compile(r":v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:[-_.][^/:]*)?$")
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)")

#: FRR's first release with EVPN over IPv6 VTEPs (FRR issue #5885, PR #20116).
IPV6_VTEP_MIN = (10, 6)


def frr_version(frr: FrrConfig) -> Optional[tuple[int, int]]:
    """(major, minor) of the configured FRR, or None when neither key nor tag says."""
    if frr.version is not None:
        match = _VERSION.match(frr.version)
    else:
        match = _TAG_VERSION.search(frr.image)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))
