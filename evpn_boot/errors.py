"""One error type with a kind; the kind decides the process exit code.

Every failure a user can hit is raised as :class:`EvpnBootError` (or a subclass)
with a kind, so the CLI maps it to a distinct exit code in exactly one place
(``evpn_boot.cli.main``).  Causes are chained with ``raise ... from``.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """What went wrong, from the user's point of view."""

    PREFLIGHT = "preflight"          # host cannot run this config (kernel, tools, names)
    CONFIG = "config"                # the configuration file is invalid
    RUNTIME = "runtime"              # a netlink/podman/FRR operation failed
    LOCKED = "locked"                # another evpn-boot run holds the lock
    FRR_REJECTED = "frr-rejected"    # FRR's own parser rejected the rendered config
    VERIFY = "verify"                # applied, but the kernel does not match afterwards
    USAGE = "usage"                  # bad command-line arguments
    STATE = "state"                  # a state or release record is corrupt or not ours
    API = "api"                      # the Kubernetes API refused or could not be reached


EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.PREFLIGHT: 1,
    ErrorKind.CONFIG: 2,
    ErrorKind.USAGE: 2,
    ErrorKind.RUNTIME: 4,
    ErrorKind.LOCKED: 5,
    ErrorKind.FRR_REJECTED: 6,
    ErrorKind.VERIFY: 7,
    ErrorKind.STATE: 8,
    ErrorKind.API: 9,
}

#: ``plan --exit-code`` exits with this when changes are pending (not an error).
EXIT_CHANGES_PENDING = 3


class EvpnBootError(Exception):
    """An error the user can act on; ``str()`` is the message shown to them."""

    kind: ErrorKind = ErrorKind.RUNTIME

    def __init__(self, message: str, *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]


class ConfigError(EvpnBootError):
    """The configuration is invalid; carries every problem found, not just the first."""

    kind = ErrorKind.CONFIG

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun} in the configuration:\n{lines}")


class PreflightError(EvpnBootError):
    """The host cannot run this configuration; nothing was changed."""

    kind = ErrorKind.PREFLIGHT
