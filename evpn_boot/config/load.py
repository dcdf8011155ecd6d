"""Read, parse and validate the configuration file.

The only I/O in the config package: reading the file (whose owner and mode must
say only root can change it) and reading the password files (see
:mod:`evpn_boot.config.secret_file`).  Every problem is collected and raised as one
:class:`~evpn_boot.errors.ConfigError` naming the key path and the line.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evpn_boot.config import checks
from evpn_boot.config.locate import KeyPath, format_path, key_lines, line_of
from evpn_boot.config.model import Config
from evpn_boot.config.secret_file import SecretFileError, config_file_problem, read_password
from evpn_boot.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - RHEL 9's Python 3.9
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with what was read to make it."""

    config: Config
    path: Path
    digest: str


#: A configuration is a few kilobytes; refuse to read a device or a huge file.
_CONFIG_MAX_BYTES = 4 * 1024 * 1024


def config_digest(data: bytes) -> str:
    """A short, stable digest of the configuration file, published on the Node."""
    return hashlib.sha256(data).hexdigest()[:16]


def load_config(path: Path) -> LoadedConfig:
    """Load and fully validate ``path``; raises ConfigError listing every problem."""
    source = str(path)
    data = _read_config_file(path, source)
    return LoadedConfig(parse_config(data, source), path, config_digest(data))


def _read_config_file(path: Path, source: str) -> bytes:
    """The file's bytes, once its owner and mode say it can be trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except PermissionError:
        raise ConfigError(source, ["permission denied reading the file"]) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(source, [f"cannot open: {getattr(exc, 'strerror', None) or exc}"]) \
            from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(source, ["is a directory, not a configuration file"])
        problem = config_file_problem(st)
        if problem:
            raise ConfigError(source, [problem])
        try:
            data = handle.read(_CONFIG_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(source, [f"cannot read: {exc.strerror or exc}"]) from None
    if len(data) > _CONFIG_MAX_BYTES:
        raise ConfigError(source, [f"larger than {_CONFIG_MAX_BYTES} bytes"])
    return data


def parse_config(data: bytes, source: str = "<config>") -> Config:
    """Validate TOML bytes into a Config (structure, cross-field rules, files)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text (byte {exc.start})"]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"TOML syntax error: {exc}"]) from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigError(source, ["values are nested too deeply"]) from None
    lines = key_lines(text)
    try:
        config = Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(source, _pydantic_problems(exc, lines)) from None
    except RecursionError:
        raise ConfigError(source, ["values are nested too deeply"]) from None
    problems = checks.run_checks(config) + password_file_problems(config)
    if problems:
        raise ConfigError(source, [_describe(path, msg, lines) for path, msg in problems])
    return config


def password_file_problems(config: Config) -> list[checks.Problem]:
    """Every password file is read now, with the rules of :mod:`secret_file`."""
    problems: list[checks.Problem] = []
    for i, neighbor in enumerate(config.underlay.neighbors):
        if neighbor.password_file is None:
            continue
        try:
            read_password(neighbor.password_file)
        except SecretFileError as exc:
            problems.append((("underlay", "neighbors", i, "password_file"), str(exc)))
    return problems


def _describe(path: KeyPath, message: str, lines: dict[KeyPath, int]) -> str:
    line = line_of(lines, path)
    where = f" (line {line})" if line is not None else ""
    return f"{format_path(path)}{where}: {message}"


def _pydantic_problems(exc: ValidationError, lines: dict[KeyPath, int]) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = _clean_loc(error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(_describe(loc, _unknown_key(loc), lines))
        elif error["type"] == "missing":
            problems.append(_describe(loc, "required key is missing", lines))
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"].endswith("_type") and "input" in error:
                message += f" (got {type(error['input']).__name__} {error['input']!r})"
            problems.append(_describe(loc, message, lines))
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> KeyPath:
    """Drop pydantic's union-branch labels (e.g. 'bool', 'function-plain[...]')."""
    return tuple(p for p in loc if isinstance(p, int) or not _is_branch_label(p))


def _is_branch_label(part: str) -> bool:
    return part in ("bool", "str", "int") or part.startswith(("function-", "lax-or-strict",
                                                               "uplink-", "asn-"))


def _unknown_key(loc: KeyPath) -> str:
    parent = _model_at(loc[:-1])
    key = str(loc[-1])
    if parent is None:
        return "unknown key"
    known = list(parent.model_fields)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"
    return f"unknown key {key!r}{hint}"


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The model class that validates the table at ``path``."""
    model: type[BaseModel] = Config
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        found = _model_in(field.annotation)
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
