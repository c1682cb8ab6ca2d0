"""Atomic file writes shared by every save (networks, downloads, CSV exports); no Qt.

:func:`atomic_write` writes to a temporary file in the target's folder, flushes it to disk
(``fsync``), renames it over the target (``os.replace``, atomic on one file system) and then
fsyncs the folder, so that after a crash the folder holds either the old file or the new one,
never a partial one, and the rename itself is on disk.

A save killed mid-write (SIGKILL, power loss) cannot remove its temporary file.  Such files are
recognised by their names, ``.<target name>.<pid>.<random>.tmp``: the next save of the same target
removes those whose process is no longer alive (``os.kill(pid, 0)``), and any older than
:data:`STALE_AGE` whatever their pid says (the pid may have been reused, or the folder shared with
another machine).  Temporary files of living processes, this one included, are left alone: they
may be saves in progress.  Names from earlier versions of cnnviz (``.<target>.<random>.tmp`` or
``.part``, without a pid) are removed once older than :data:`LEGACY_STALE_AGE`.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

#: A temporary file older than this is stale even if its pid belongs to a living process.
STALE_AGE = 24 * 3600.0
#: Temporary files named without a pid (earlier versions) are stale after this.
LEGACY_STALE_AGE = 3600.0
SUFFIX = ".tmp"


def temporary_name(target: Path, pid: int | None = None) -> str:
    """The name of a new temporary file for ``target`` (in the same folder)."""
    pid = os.getpid() if pid is None else pid
    return f".{target.name}.{pid}.{secrets.token_hex(4)}{SUFFIX}"


def _pattern(target: Path) -> re.Pattern:
    return re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]+{re.escape(SUFFIX)}")


def _legacy_pattern(target: Path) -> re.Pattern:
    # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp" or ".part"): 8 random characters
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.(tmp|part)")


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (perhaps another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return pid <= 2**22  # exists but is not ours; absurd pids are dead
    return True


def remove_stale_temporaries(target: Path, now: float | None = None) -> list[Path]:
    """Remove the temporary files of earlier saves of ``target`` that can no longer finish.

    Returns the paths removed.  Errors (a file vanishing, no permission) are ignored: cleaning up
    must never stop a save.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    now = time.time() if now is None else now
    ours, legacy = _pattern(target), _legacy_pattern(target)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = ours.fullmatch(name)
        if match is None and legacy.fullmatch(name) is None:
            continue
        path = folder / name
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        if match is not None:
            pid = int(match.group(1))
            stale = (pid != os.getpid() and not pid_alive(pid)) or age > STALE_AGE
        else:
            stale = age > LEGACY_STALE_AGE
        if stale:
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


def new_file_mode(path: Path) -> int:
    """The mode the saved file gets: the existing file's, or what the umask gives a new one."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return  # Windows: folders cannot be opened, and NTFS journals the rename
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None, newline: str | None = None):
    """Write ``path`` atomically: ``with atomic_write(p) as handle: handle.write(...)``.

    The content goes to a temporary file in the same folder, which on a clean exit is fsynced,
    given the target's mode, renamed over the target and the folder fsynced; on an exception it
    is removed and the target left as it was.  Stale temporary files of earlier saves of the same
    target are removed first (see the module's documentation).
    """
    if mode not in ("wb", "w"):
        raise ValueError("atomic_write opens files for writing only ('wb' or 'w')")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temporaries(path)
    tmp = folder / temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                 | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_folder(folder)
