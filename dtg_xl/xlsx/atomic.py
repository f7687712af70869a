"""Output safety, in one place: every file the toolkit writes goes through ``atomic_output``.

* Atomic: the data goes to a temp file in the target's folder and is renamed over the target
  only when complete, so a failure never leaves a half-written file and never touches an
  existing one.  The temp file is named ``.<target name>.dtg-xl-写入中-<pid>-<random>.tmp`` so a
  user who sees one knows what it is; one left by a killed run (its process is gone) is removed
  the next time the same target is written.  The CLI turns SIGTERM into a normal exit, so an
  ordinary ``kill`` also cleans up.
* Links: writing to a symbolic link writes through to the file it points to and keeps the link
  (``--in-place`` on a link updates the target, not a new plain file in place of the link).
* Inputs: ``refuse_input_as_output`` (called by every verb) refuses an output that is one of the
  verb's inputs — compared by ``os.path.samestat`` (device + inode), so another spelling, a
  relative path, a hard or a soft link all count as the same file.
* Names: ``safe_filename`` is the one function that turns user text (项目名称, 单位名称) into a
  file name: no folder separators or ``..``, no control characters, no reserved Windows names
  (CON, NUL, COM1 …), no trailing dots/spaces, bounded length.

Written by hand: no library on the index does "atomic write + symlink write-through + stale
temp clean-up" together (``atomicwrites`` is unmaintained and replaces links), and the name
rules are Windows' documented ones (a handful of lines, not worth a dependency).
"""
from __future__ import annotations

import errno
import os
import re
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from dtg_xl.errors import DtgError

TEMP_TAG = ".dtg-xl-写入中-"
_TEMP_RE = re.compile(re.escape(TEMP_TAG) + r"(\d+)-[0-9a-f]+\.tmp$")
MAX_NAME_CHARS = 80  # a stem; a full name stays well below 255 bytes in UTF-8 (3 bytes per 汉字)


class OutputError(DtgError):
    """An output path that must not be written (it is an input)."""


def write_target(path: str | Path) -> Path:
    """The file a write to ``path`` must replace: the end of a symlink chain, else ``path``."""
    path = Path(path)
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def temp_name(target: Path) -> str:
    # os.urandom(4).hex() is secrets.token_hex(4); importing secrets (hmac, random) cost every process ~4 ms
    return f".{target.name}{TEMP_TAG}{os.getpid()}-{os.urandom(4).hex()}.tmp"


def clean_stale_temps(target: Path) -> list[Path]:
    """Remove temp files of ``target`` left by runs whose process no longer exists."""
    removed = []
    folder = target.parent if str(target.parent) else Path(".")
    try:
        entries = list(folder.glob(f".{glob_escape(target.name)}{TEMP_TAG}*.tmp"))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_RE.search(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep its file
    return True


@contextmanager
def atomic_output(path: str | Path):
    """Yield a temp path beside the target of ``path``; on success rename it over the target,
    on error (or a kill the CLI turns into an exit) delete it."""
    shown = Path(path)
    target = write_target(shown)
    if target.exists() and not os.access(target, os.W_OK):
        # rename would replace a read-only file silently (the folder is writable); say it instead
        raise PermissionError(errno.EACCES, "read-only file", str(shown))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(shown))
    clean_stale_temps(target)
    tmp = folder / temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # report the target, not the temp name
        raise type(exc)(exc.errno, exc.strerror, str(shown)) from None
    os.close(fd)
    try:
        os.chmod(tmp, _mode_for(target))  # a shared folder needs the usual mode
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:  # e.g. the target is open in Excel on Windows
            raise type(exc)(exc.errno, exc.strerror, str(shown)) from None
    except OSError as exc:
        _unlink(tmp)
        if exc.filename and TEMP_TAG in str(exc.filename):  # a full disk names the temp file
            raise type(exc)(exc.errno, exc.strerror, str(shown)) from None
        raise
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p: Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


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


# ---------------------------------------------------------------- outputs that are inputs
def same_file(a: str | Path, b: str | Path) -> bool:
    """True when a and b are one file (any spelling, relative path, hard or soft link)."""
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except OSError:  # one of them does not exist (yet): compare where they would point
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except (OSError, ValueError):
            return False


def refuse_input_as_output(output: str | Path, inputs, what: str = "输出文件", hint: str = "") -> None:
    """Raise OutputError when ``output`` is one of ``inputs`` (every verb calls this once)."""
    for inp in inputs:
        if inp is not None and same_file(output, inp):
            same = "" if os.path.abspath(output) == os.path.abspath(inp) else f"（与“{inp}”是同一个文件）"
            raise OutputError(f"{what}“{output}”是输入文件之一{same}；输入文件不会被改写，"
                              + (hint or "请用 -o 指定另一个文件名"))


# ---------------------------------------------------------------- file names from user text
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
             *(f"COM{c}" for c in "¹²³"), *(f"LPT{c}" for c in "¹²³")}
_BAD_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def safe_filename(text, fallback: str = "未命名", max_chars: int = MAX_NAME_CHARS) -> str:
    """A file-name stem made from user text, safe on Windows, macOS and Linux.

    Separators, ``:*?"<>|``, control and format characters become ``_``; whitespace runs become
    one ``_``; leading/trailing dots, spaces and ``_`` go; a reserved Windows device name (also
    with an extension, ``nul.txt``) gets a ``_`` suffix; at most ``max_chars`` characters."""
    text = unicodedata.normalize("NFC", "" if text is None else str(text))
    text = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = _BAD_CHARS.sub("_", text)
    text = re.sub(r"\s+", "_", text)
    text = re.sub(r"_{2,}", "_", text)
    text = text.strip(" ._")
    text = re.sub(r"\.{2,}", ".", text)
    text = text[:max_chars].rstrip(" .")
    if not text:
        return fallback
    if text.split(".")[0].upper() in _RESERVED:
        text = text + "_"
    return text


def close_xlsxwriter(wb, shown: str | Path) -> None:
    """Close an XlsxWriter workbook; a failed write (a full disk, a size limit) comes back as the
    OSError it is, naming the target (XlsxWriter wraps it in its own FileCreateError)."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        wb.close()
    except FileCreateError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else exc.__context__
        if isinstance(cause, OSError):
            raise type(cause)(cause.errno, cause.strerror, str(shown)) from None
        raise OSError(errno.EIO, str(exc), str(shown)) from None
