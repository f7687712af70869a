"""Atomic output: every file the toolkit writes goes to a temp file in the target folder and is
renamed over the target only when complete, so a failure never leaves a half-written file and
never touches an existing one."""
from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | Path):
    """Yield a temp path beside ``path``; on success rename it to ``path``, on error delete it."""
    path = Path(path)
    if path.exists() and not os.access(path, os.W_OK):
        # rename would replace a read-only file silently (the folder is writable); say it instead
        raise PermissionError(errno.EACCES, "read-only file", str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{path.suffix}.tmp", dir=path.parent or ".")
    except OSError as exc:  # report the target, not the temp name
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; a shared folder needs the usual mode
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:  # e.g. the target is open in Excel on Windows
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _mode_for(path: Path) -> int:
    """The replaced file's mode, or what a plain open() would give under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)
