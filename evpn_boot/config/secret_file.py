"""Read a BGP password file, and check who may change the configuration file.

One reader serves validation (so ``validate`` refuses a bad password file
before anything runs) and rendering (so the password FRR gets is the one that
was checked).  The rules:

* the file is opened without following a symlink (a link to /etc/shadow would
  otherwise make its first line the password), must be a regular file, owned
  by root or by the user running evpn-boot, and neither group nor others may
  read or write it (mode 0600 or 0400);
* the content is UTF-8, one line (a trailing newline is fine, further non-empty
  lines are refused), and the password is that line without surrounding
  whitespace: 1-80 printable characters, no whitespace inside (FRR takes the
  password as one word).

Messages never include the content.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

PASSWORD_MAX = 80
#: A password file is one short line; anything larger is not one.
_READ_LIMIT = 4096


class SecretFileError(ValueError):
    """The file breaks a rule; ``str()`` says which, without the content."""


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def read_password(path: Path) -> str:
    """The password in ``path``; raises SecretFileError naming the broken rule."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretFileError(f"{path} is a symlink; name the file itself") from None
        raise SecretFileError(f"{path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        _check_private(path, st)
        data = os.read(fd, _READ_LIMIT + 1)
    finally:
        os.close(fd)
    return _password_from(path, data)


def _check_private(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"{path} is not a regular file")
    if not _trusted_owner(st.st_uid):
        raise SecretFileError(f"{path} is owned by uid {st.st_uid}, not root; "
                              f"chown root it")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{path} is readable or writable by group or others "
                              f"(mode {mode:o}); chmod 0600 it")


def _password_from(path: Path, data: bytes) -> str:
    if len(data) > _READ_LIMIT:
        raise SecretFileError(f"{path} is larger than {_READ_LIMIT} bytes; it must hold "
                              "one line, the password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretFileError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    password = lines[0].strip() if lines else ""
    if any(line.strip() for line in lines[1:]):
        raise SecretFileError(f"{path} has more than one line; it must hold the password "
                              "only")
    if not password:
        raise SecretFileError(f"{path} is empty; its first line is the password")
    if len(password) > PASSWORD_MAX:
        raise SecretFileError(f"{path}: the password is {len(password)} characters; FRR "
                              f"takes at most {PASSWORD_MAX}")
    if any(c.isspace() or not c.isprintable() for c in password):
        raise SecretFileError(f"{path}: the password holds whitespace or control "
                              "characters; FRR takes it as one word")
    return password


def config_file_problem(st: os.stat_result) -> str | None:
    """Why a configuration file with this ``fstat`` must not be trusted, or None.

    Whoever may write the file decides what evpn-boot does as root: it must be
    owned by root (or, for a development run, by the user running evpn-boot)
    and not writable by group or others.
    """
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if not _trusted_owner(st.st_uid):
        return f"is owned by uid {st.st_uid}, not root (or the user running evpn-boot)"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return f"is writable by group or others (mode {mode:o}); chmod go-w it"
    return None
