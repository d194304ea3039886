"""Files on the controller as a boundary: what pyinstall reads and what it leaves there, run as root in
directories other users may write.

    a config file found  ─▶ untrusted_config()    ignored, with a warning, in a world-writable place
    a password file      ─▶ readable_by_others()  warned about
    a private key        ─▶ key_problem()         OpenSSH's rule, before any host is contacted
    a file written       ─▶ open_private() / save()  created 0600, no symlink followed unless the link and
                                                     its target are the user's own, an existing file
                                                     written only when the user owns it
    a SQLite database    ─▶ sqlite_file()        the same rules, before SQLite opens it
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from installer.errors import PyinstallError

if TYPE_CHECKING:  # annotations only
    from rich.console import Console

PRIVATE = 0o600


class LocalFileError(PyinstallError):
    """A controller file that cannot, or must not, be read or written."""


def untrusted_config(path: Path) -> str | None:
    """Why a config file found by searching must not be read: another user could have written it (Ansible
    ignores an ansible.cfg in a world-writable directory for the same reason)."""
    path = path.absolute()
    try:
        st, parent = path.stat(), path.parent.stat()
    except OSError as exc:
        return f"cannot be inspected: {exc.strerror or exc}"
    if parent.st_mode & stat.S_IWOTH:
        return f"its directory {path.parent} is world-writable"
    if st.st_mode & stat.S_IWOTH:
        return "it is world-writable"
    if st.st_uid not in (os.geteuid(), 0):
        return f"it belongs to {_owner(st.st_uid)}, not to you or root"
    return None


def readable_by_others(path: str) -> str | None:
    """A warning for a password file that group or others may read (as OpenSSH says of keys)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # reading it says why
    if stat.S_ISREG(mode) and mode & 0o077:  # a pipe (<(pass show ...)) is the user's own
        return f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}): chmod 600 {path}"
    return None


def key_problem(path: str) -> str | None:
    """Why OpenSSH would not use this private key: missing, or owned by the running user and open to
    anyone else (a key owned by another user, e.g. root's mounted 0440 for a group, stays usable)."""
    try:
        st = os.stat(os.path.expanduser(path))
    except OSError as exc:
        return f"private key {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"private key {path}: not a regular file"
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        return (f"private key {path} is open to others (mode {stat.S_IMODE(st.st_mode):04o}); OpenSSH refuses "
                f"such a key: chmod 600 {path}")  # fmt: skip
    return None


def open_private(path: str, append: bool = False, binary: bool = False) -> IO[Any]:
    """``path`` opened for writing (appended to when ``append``, else emptied; bytes when ``binary``) under
    the rules above. A FIFO or a character device (a pipe's reader, /dev/null) is written as it is."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, PRIVATE)
    except OSError as exc:
        if not os.path.islink(path):  # ELOOP, or EACCES where the kernel protects sticky directories' links
            raise LocalFileError(_why(path, exc), _HINTS.get(exc.errno, "")) from None
        fd = _through_own_link(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            if st.st_uid != os.geteuid():
                raise LocalFileError(f"{path} belongs to {_owner(st.st_uid)}: pyinstall writes only files of "
                                     "yours", "remove it, or give another path")  # fmt: skip
            if not append:
                os.ftruncate(fd, 0)
        elif not (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            raise LocalFileError(f"{path} is not a file", "give the path of a file")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)  # writes wait for a pipe
    except BaseException:
        os.close(fd)
        raise
    mode = ("a" if append else "w") + ("b" if binary else "")
    return open(fd, mode) if binary else open(fd, mode, encoding="utf-8")


def _through_own_link(path: str, flags: int) -> int:
    """A symlink is followed only when it is the running user's and points at nothing or at a file of
    theirs: root never writes where another user's link points."""
    link = os.lstat(path)
    try:
        target_uid: int | None = os.stat(path).st_uid
    except OSError:
        target_uid = None  # dangling: the file is created where the link says
    if link.st_uid != os.geteuid() or target_uid not in (None, os.geteuid()):
        whose = link.st_uid if link.st_uid != os.geteuid() else target_uid
        raise LocalFileError(
            f"{path} is a symbolic link to {os.path.realpath(path)}, of {_owner(whose)}: not followed",
            "give the real path",
        )
    try:
        return os.open(path, flags, PRIVATE)
    except OSError as exc:
        raise LocalFileError(_why(path, exc)) from None


def save(path: str, content: str, err: Console) -> bool:
    """Write a file pyinstall leaves behind (a report, the retry file), masked of every registered secret;
    on failure warn, naming the path and why, and go on: the run's result stands."""
    from installer import events, terminal

    try:
        with open_private(path) as f:
            f.write(events.clean(content))
    except LocalFileError as exc:
        err.print(terminal.text(("warning", "yellow"), f": {exc.message}"), soft_wrap=True)
        return False
    except OSError as exc:
        err.print(terminal.text(("warning", "yellow"), f": {_why(path, exc)}"), soft_wrap=True)
        return False
    return True


def sqlite_file(path: Path) -> None:
    """Make a SQLite database file safe to open: a symlink is refused, a new file is created 0600, an
    existing one must be the user's own (the tables in it are checked once it is open)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE))
        except FileExistsError:
            return  # another run created it this instant: it is checked when opened
        except OSError as exc:
            raise LocalFileError(_why(path, exc), _HINTS.get(exc.errno, "")) from None
        return
    except OSError as exc:
        raise LocalFileError(_why(path, exc)) from None
    if stat.S_ISLNK(st.st_mode):
        raise LocalFileError(f"{path} is a symbolic link to {os.path.realpath(path)}: not followed",
                             "give the database's real path")  # fmt: skip
    if not stat.S_ISREG(st.st_mode):
        raise LocalFileError(f"{path} is not a file", "give the path of a SQLite file")
    if st.st_uid != os.geteuid():
        raise LocalFileError(f"{path} belongs to {_owner(st.st_uid)}: pyinstall writes only files of yours",
                             "give a database of your own")  # fmt: skip


_HINTS = {
    errno.ENOENT: "create its directory first",
    errno.ENXIO: "a FIFO is written only while something reads it",
    errno.EACCES: "give a path you may write",
}


def _why(path: str | Path, exc: OSError) -> str:
    cause = "a FIFO with no reader" if exc.errno == errno.ENXIO else (exc.strerror or str(exc))
    return f"could not write {path}: {cause}"


def _owner(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"
