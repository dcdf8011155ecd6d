"""A minimal QMP client (qemu's JSON machine protocol) for the VM tier's hot-plug.

The VM tier hot-plugs the underlay NIC while evpn-boot waits for it, as a
late PCI NIC on real hardware would arrive.  qemu listens on a unix socket
(``-qmp unix:PATH,server=on,wait=off``); QMP is one JSON object per line:
a greeting, then ``qmp_capabilities``, then commands, each answered by
``{"return": ...}`` or ``{"error": ...}`` with asynchronous ``{"event": ...}``
lines in between.  Stdlib only: the harness runs with the system Python too.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any


class QmpError(RuntimeError):
    """qemu refused a command, or the socket closed/timed out."""


class Qmp:
    """One QMP session; use as a context manager."""

    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:  # qemu creates the socket shortly after it starts
            try:
                self._sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    self._sock.close()
                    raise QmpError(f"QMP socket {path} did not accept within {timeout_s:g} s"
                                   ) from None
                time.sleep(0.2)
        self._buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            self.close()
            raise QmpError(f"not a QMP greeting: {greeting!r}")
        self.command("qmp_capabilities")

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise QmpError(f"QMP read: {exc}") from exc
            if not chunk:
                raise QmpError("QMP socket closed by qemu")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        value = json.loads(line)
        if not isinstance(value, dict):
            raise QmpError(f"QMP sent a non-object: {line!r}")
        return value

    def command(self, name: str, **arguments: Any) -> Any:
        """Run one command; its ``return`` value, or QmpError naming qemu's reason."""
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"{name}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")
