"""Whether a pid recorded in a name is still running.

Things a SIGKILLed run leaves behind (FRR temp files ``.<name>.<pid>.tmp``,
preflight's probe namespaces) carry their creator's pid, so the next run can
remove exactly those whose creator is gone and never a concurrent run's.
"""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (another user's included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
