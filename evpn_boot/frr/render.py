"""FrrModel -> frr.conf, daemons, vtysh.conf (pure: no I/O besides the templates).

Passwords are not part of the model (they stay in their files): the caller reads
them through :func:`read_secrets` with an injected reader and hands the renderer
a mapping.  The templates, one per block, live in ``templates/``; the helpers
they need are defined here, in one place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from evpn_boot.config.secret_file import SecretFileError, read_password
from evpn_boot.desired.model import FrrModel, FrrNeighbor, FrrVrf
from evpn_boot.errors import ErrorKind, EvpnBootError
from evpn_boot.templating import environment

#: Names of the underlay's BFD profile and no-transit filters (FRR objects of ours).
BFD_PROFILE = "evpn-boot"
FROM_LEAF = "evpn-boot-from-leaf"
TO_LEAF = "evpn-boot-to-leaf"

#: What ``render frr`` prints instead of a password unless asked to show it.
REDACTED = "<redacted>"

#: Reads one password file; the real one is :func:`read_password_file`.
SecretReader = Callable[[Path], str]


@dataclass(frozen=True)
class RenderedFrr:
    """The three files of FRR's config dir, as text."""

    frr_conf: str
    daemons: str
    vtysh_conf: str
    #: True when frr.conf holds a password (it is then written 0600).
    has_secrets: bool

    def files(self) -> dict[str, str]:
        return {"frr.conf": self.frr_conf, "daemons": self.daemons,
                "vtysh.conf": self.vtysh_conf}


def _keepalive(n: FrrNeighbor) -> int:
    # FRR takes both timers together; derive the missing one with BGP's 1:3 ratio.
    if n.keepalive_time is not None:
        return n.keepalive_time
    assert n.hold_time is not None
    return max(1, n.hold_time // 3)


def _hold(n: FrrNeighbor) -> int:
    if n.hold_time is not None:
        return n.hold_time
    assert n.keepalive_time is not None
    return n.keepalive_time * 3


def _host_prefix_list(vrf: FrrVrf, version: int) -> str:
    return f"evpn-boot-{vrf.name}-host-in{'6' if version == 6 else ''}"


def _host_prefix_rules(vrf: FrrVrf, version: int) -> list[tuple[int, str, str]]:
    """(seq, permit|deny, prefix [le N]) of the host session's inbound filter."""
    bits = 32 if version == 4 else 128
    every = f"{'0.0.0.0/0' if version == 4 else '::/0'}"
    if vrf.host_allowed is None:
        # Safe default: whatever the host routes, but never a default route.
        return [(5, "deny", every), (10, "permit", f"{every} le {bits}")]
    rules = [(5 * (i + 1), "permit",
              str(net) + (f" le {bits}" if net.prefixlen < bits else ""))
             for i, net in enumerate(n for n in vrf.host_allowed if n.version == version)]
    return [*rules, (5 * (len(rules) + 1), "deny", f"{every} le {bits}")]


_ENV = environment("evpn_boot.frr", {"keepalive": _keepalive, "hold": _hold,
                                     "host_prefix_list": _host_prefix_list,
                                     "host_prefix_rules": _host_prefix_rules})


def read_password_file(path: Path) -> str:
    """The real secret reader: the rules and the reading are validation's own."""
    try:
        return read_password(path)
    except SecretFileError as exc:
        raise EvpnBootError(f"BGP password file: {exc}", kind=ErrorKind.CONFIG) from None


def read_secrets(model: FrrModel, reader: SecretReader = read_password_file) -> dict[str, str]:
    """Neighbor (address or interface) -> password, for every neighbor with a password file."""
    secrets: dict[str, str] = {}
    for n in model.neighbors:
        if n.password_file is None:
            continue
        password = reader(n.password_file)
        # FRR takes the password as one word; anything else would be cut or
        # misparsed, silently weakening the session.
        if not password or any(c.isspace() for c in password) or len(password) > 80:
            raise EvpnBootError(
                f"BGP password for neighbor {n.peer} (file {n.password_file}): must be "
                f"1-80 characters without whitespace", kind=ErrorKind.CONFIG)
        secrets[n.peer] = password
    return secrets


def redacted_secrets(model: FrrModel) -> dict[str, str]:
    """A stand-in mapping that renders every password as :data:`REDACTED`."""
    return {n.peer: REDACTED for n in model.neighbors if n.password_file is not None}


def render_frr_conf(model: FrrModel, secrets: Mapping[str, str]) -> str:
    """The integrated frr.conf for ``model``; ``secrets`` maps neighbor -> password."""
    missing = [n.peer for n in model.neighbors
               if n.password_file is not None and n.peer not in secrets]
    if missing:
        raise EvpnBootError(f"render frr.conf: no password given for neighbor(s) "
                            f"{', '.join(missing)}", kind=ErrorKind.RUNTIME)
    vtep_afi = "ipv4" if model.vtep.version == 4 else "ipv6"
    by_afi: dict[str, list[FrrNeighbor]] = {"ipv4": [], "ipv6": []}
    for n in model.neighbors:
        if n.address is None:
            # Unnumbered: the session is IPv6 link-local, but it carries only the
            # VTEP's family (over extended next-hop for an IPv4 VTEP).
            by_afi[vtep_afi].append(n)
        else:
            by_afi["ipv4" if isinstance(n.address, ipaddress.IPv4Address) else "ipv6"].append(n)
    return _ENV.get_template("frr.conf.j2").render(
        m=model,
        secrets=secrets,
        vtep_afi=vtep_afi,
        neighbors_by_afi=by_afi,
        bfd_profile=BFD_PROFILE,
        from_leaf=FROM_LEAF,
        to_leaf=TO_LEAF,
    )


def render_all(model: FrrModel, secrets: Mapping[str, str]) -> RenderedFrr:
    """Every file of FRR's config dir."""
    return RenderedFrr(
        frr_conf=render_frr_conf(model, secrets),
        daemons=_ENV.get_template("daemons.j2").render(m=model),
        vtysh_conf=_ENV.get_template("vtysh.conf.j2").render(),
        has_secrets=bool(secrets),
    )
