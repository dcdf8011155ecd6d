"""Logging to journald with structured fields, or to stderr with the same fields.

Call sites pass fields with ``extra=``: ``log.info("vxlan repaired",
extra=fields(vni=100))``.  The known fields are ``EVPN_PHASE``, ``EVPN_VNI``,
``EVPN_VRF`` and ``EVPN_NEIGHBOR``; the current phase is added to every record
that does not name one, so ``journalctl EVPN_PHASE=supervise`` finds every line
of a phase.  On stderr the fields are rendered as ``phase=... vni=...``.

journald is used when stderr already is a journal stream (``JOURNAL_STREAM``
names stderr's device and inode, as systemd sets it for ``StandardError=journal``)
and the ``systemd-python`` module is installed; otherwise stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, Optional, TextIO, Union

#: Journal field name -> short key used on stderr.
FIELDS: dict[str, str] = {
    "EVPN_PHASE": "phase",
    "EVPN_VNI": "vni",
    "EVPN_VRF": "vrf",
    "EVPN_NEIGHBOR": "neighbor",
}

ROOT_LOGGER = "evpn_boot"

_phase = "startup"


def set_phase(phase: str) -> None:
    """The phase added to every record that does not carry ``EVPN_PHASE``."""
    global _phase  # noqa: PLW0603 - one process-wide phase, by design
    _phase = phase


def fields(*, phase: Optional[str] = None, vni: Optional[int] = None,
           vrf: Optional[str] = None, neighbor: Optional[str] = None) -> dict[str, Any]:
    """The ``extra=`` mapping for a log call."""
    out: dict[str, Any] = {}
    for key, value in (("EVPN_PHASE", phase), ("EVPN_VNI", vni), ("EVPN_VRF", vrf),
                       ("EVPN_NEIGHBOR", neighbor)):
        if value is not None:
            out[key] = str(value)
    return out


class PhaseFilter(logging.Filter):
    """Adds the current phase to records that do not name one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "EVPN_PHASE"):
            record.EVPN_PHASE = _phase
        return True


class KeyValueFormatter(logging.Formatter):
    """``LEVEL message key=value ...`` for stderr; values with spaces are quoted."""

    def __init__(self, *, timestamps: bool = True) -> None:
        fmt = "%(asctime)s %(levelname)s %(message)s" if timestamps else \
            "%(levelname)s %(message)s"
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = []
        for field, key in FIELDS.items():
            value = getattr(record, field, None)
            if value is not None:
                value = str(value)
                pairs.append(f"{key}={value!r}" if " " in value else f"{key}={value}")
        if not pairs:
            return text
        first, sep, rest = text.partition("\n")
        return f"{first} {' '.join(pairs)}{sep}{rest}"


def stderr_is_journal(environ: Mapping[str, str], stream: TextIO) -> bool:
    """True when ``JOURNAL_STREAM`` (``dev:inode``) names ``stream``'s file."""
    value = environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        dev, ino = (int(part) for part in value.split(":", 1))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return st.st_dev == dev and st.st_ino == ino


def journal_handler() -> Optional[logging.Handler]:
    """systemd-python's JournalHandler, or None when the module is absent."""
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None
    handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER="evpn-boot")
    return handler


def setup_logging(level: Union[str, int] = "info", *, environ: Optional[Mapping[str, str]] = None,
                  stream: Optional[TextIO] = None, use_journal: Optional[bool] = None) -> str:
    """Configure the ``evpn_boot`` logger; returns ``"journal"`` or ``"stderr"``.

    ``use_journal`` None decides from the environment (see the module docstring).
    Safe to call again (e.g. after a reload changed ``runtime.log_level``).
    """
    env = os.environ if environ is None else environ
    out = sys.stderr if stream is None else stream
    logger = logging.getLogger(ROOT_LOGGER)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: Optional[logging.Handler] = None
    target = "stderr"
    if use_journal is None:
        use_journal = stderr_is_journal(env, out) and os.path.exists(
            "/run/systemd/journal/socket")
    if use_journal:
        handler = journal_handler()
        if handler is not None:
            target = "journal"
    if handler is None:
        handler = logging.StreamHandler(out)
        # journald (stderr captured) adds its own timestamps.
        handler.setFormatter(KeyValueFormatter(timestamps=not stderr_is_journal(env, out)))
    handler.addFilter(PhaseFilter())
    logger.addHandler(handler)
    logger.propagate = False
    set_level(level)
    return target


def set_level(level: Union[str, int]) -> None:
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    logging.getLogger(ROOT_LOGGER).setLevel(numeric)
