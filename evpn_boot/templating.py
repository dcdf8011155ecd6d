"""The one way evpn-boot builds a Jinja2 environment (FRR config, units, the lab).

Every template set is plain text for a machine (FRR, systemd, TOML), so all
share the same rules: an undefined name is an error rather than an empty
string, block tags leave no blank lines, the final newline is kept, and
nothing is HTML-escaped.  Pure: no effect beyond reading package data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

import jinja2


def environment(package: str,
                filters: Optional[Mapping[str, Callable[..., Any]]] = None) -> jinja2.Environment:
    """Templates from ``<package>/templates``, with ``filters`` added."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # configuration files, not markup
    )
    env.filters.update(filters or {})
    return env
