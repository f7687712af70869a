"""Package parts: the one place a relationship Target becomes a zip part name, and the one reader
of a member straight from its local header.

``plain_member`` is by hand because zipfile has no public way to get a member's compressed bytes
(the patch copies them untouched) or to read a member from bytes already in memory without its
per-member objects and seeks (the pre-flight reads every part of a unit form that way).
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from typing import Callable

_LOCAL_HEADER = struct.Struct(zipfile.structFileHeader)


def resolve_target(base_part: str, target: str) -> str:
    """A relationship's Target as a zip part name: absolute (``/xl/…``) or relative to the folder
    of the part that owns the relationship; ``.`` and ``..`` folded."""
    joined = target if target.startswith("/") else f"{base_part.rpartition('/')[0]}/{target}"
    out: list[str] = []
    for piece in joined.split("/"):
        if piece == "..":
            if out:
                out.pop()
        elif piece and piece != ".":
            out.append(piece)
    return "/".join(out)


def plain_member(read: Callable[[int, int], bytes], info: zipfile.ZipInfo,
                 encoding: str | None = None) -> tuple[bytes, bytes] | None:
    """A member's compressed bytes and its content, read with ``read(offset, size)``, when nothing
    about it is unusual: a local header as zipfile checks it (signature, the directory's name), all
    of the compressed data present and not overlapping the next member, a deflate stream that ends,
    giving exactly the directory's size with the directory's CRC.  Then zipfile would give the same
    content.  Anything else is None, and the caller leaves the member to zipfile, which refuses what
    it always refused (encrypted, patched or strongly encrypted data, another method …)."""
    at = info.header_offset
    if at < 0 or info.flag_bits & 0x61 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    head = read(at, _LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size:
        return None
    sig, _, _, flags, _, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    start = at + _LOCAL_HEADER.size
    try:
        name = read(start, name_len).decode("utf-8" if flags & 0x800 else encoding or "cp437")
    except (UnicodeDecodeError, LookupError):
        return None
    start += name_len + extra_len
    end = getattr(info, "_end_offset", None)  # newer zipfile refuses overlapping entries
    if sig != zipfile.stringFileHeader or name != info.orig_filename or (end is not None and start + info.compress_size > end):
        return None
    raw = read(start, info.compress_size)
    if len(raw) != info.compress_size:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw if info.compress_size == info.file_size else None
    else:
        inflate = zlib.decompressobj(-15)
        try:
            data = inflate.decompress(raw, info.file_size + 1)  # never more than the directory says, plus one
        except zlib.error:
            return None
        if not inflate.eof or len(data) != info.file_size:
            return None
    return (raw, data) if data is not None and zlib.crc32(data) == info.CRC else None
