"""Pre-flight: look at a workbook file before any parser does, and refuse hostile or broken ones.

Workbooks arrive by email.  python-calamine allocates a grid from A1 to the furthest cell and
aborts the whole process (SIGABRT, not catchable) on a 5 KB file touching XFD1048576; XML
parsers can be fed entity bombs; zip parts can be bombs.  So before calamine, openpyxl or lxml
see a file, ``check(path)`` reads the zip directory and then each part once:

* not a zip (an old .xls renamed, an HTML "xls", a PDF …), OLE containers (old .xls, and
  password-protected OOXML, which Office stores as an encrypted OLE file);
* zip entries: count, duplicates, encryption, compression method, per-part and total size,
  compression ratio (checked on the directory, then again while reading, since a directory
  can lie);
* which parts are XML, and which are worksheets, is decided from the package itself — the
  content types ([Content_Types].xml) and the relationships (every ``*.rels`` part, above all
  the workbook's) — never from a part's file name alone (a worksheet called ``sheet1.bin`` is
  still a worksheet to calamine);
* every XML part goes through expat (well-formed; a DTD or ENTITY declaration refused the
  moment expat meets it, UTF-8 or UTF-16);
* worksheets: cell references and ``<dimension>`` beyond the row/column limits, the area from
  A1 to the furthest cell, and the number of cells, matched as an XML parser reads a start tag:
  any whitespace (space, tab, CR, LF) between attributes and around ``=``, any attribute
  order, either quote, character references.

One pass per part: small parts are read whole, checked by a byte pattern that tokenises each
``<c …>`` start tag completely (so ``>`` or `` r=`` inside another attribute's value cannot
hide or fake a reference) and fed to expat once; when the pattern cannot account for every cell
(no ``r``, an escaped or unusual reference, a comment or CDATA that looks like a tag …) the part
is read again by expat with a start-tag handler, which is exact.  Parts over ``SMALL_PART`` are
streamed the same way in chunks (memory bounded, size and ratio re-checked on what comes out),
the exact handler attached from the start once a chunk needs it.

A book (``FileBook``) asks ``check_package`` to leave one thing to it: the expat pass of a
worksheet over ``SMALL_PART`` that the byte pattern accounted for.  By then every limit that keeps
calamine safe has been checked on every part (sizes, ratios, cell references, dimension, the
cell total, and every other part whole), so the book lets calamine parse that sheet in this
thread while a second one runs the expat pass (``check_deferred``: the same pieces, so the same
message); calamine lets go of the GIL while it parses, and a 100,000-row sheet is read in about
the time of the longer of the two instead of their sum.  A file refused once something was left
undone is checked again whole, so its message is always the one ``check`` gives.

Reading: a file up to ``SMALL_FILE`` is read from disk once and its zip opened over those
bytes.  A small part is read in one ``zf.read`` (zipfile returns no more than the directory's
size, already checked, and verifies the CRC) — or, from a file in memory, when the part is
plain (local header as zipfile checks it, a complete deflate stream of the directory's size and
CRC), inflated straight from the bytes, since zipfile's per-part objects and seeks cost more
than the inflating; anything unusual is left to zipfile, which refuses it as before.
``check_package`` hands the open package to the caller (``FileBook``) with the parts it read
(up to ``KEEP_BYTES``), so neither the directory nor those parts are read twice.  Small parts
that passed are remembered by their bytes (and the limits they passed under) for the life of the
process: forms cut from one master and projects made from one template repeat most parts byte
for byte, so a worker reading hundreds checks each such part once (sizes, the zip's own checks
and the workbook's cell total still run for every file).

The structural parts ([Content_Types].xml, workbook.xml, the relationships) are parsed by expat
with namespaces — the parser, options and DTD/entity refusals ElementTree (defusedxml) used
before — but without building a tree: a start-tag handler keeps only the root's name and the
Default/Override, sheet and Relationship elements' attributes.  For a unit form (a dozen parts
of a few KB) the cost is Python overhead per part, not bytes, which is why this is one parser
per part and no tree.  Every refusal is a ``PreflightError`` with a Chinese message; the file
is only read, never written.  (No library checks a package this way before a parser sees it,
hence by hand.)
"""
from __future__ import annotations

import errno
import html
import io
import os
import re
import threading
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import cell_ref, col_number
from dtg_xl.xlsx.parts import plain_member, resolve_target

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 5_000
MAX_PART_BYTES = 200 * 1024 * 1024  # uncompressed
MAX_TOTAL_BYTES = 500 * 1024 * 1024  # uncompressed, all parts
MAX_RATIO = 200  # uncompressed / compressed, for parts over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_ROWS = 100_000
MAX_COLS = 2_000  # column BXX
MAX_AREA = 5_000_000  # rows x columns from A1 to the furthest cell (what calamine allocates)
MAX_CELLS = 4_000_000  # <c> elements in the whole workbook: a 100,000-row 指标体系 of the template's 20 columns and the rest
CHUNK = 1 << 20

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_BAD_ZIP = "文件已损坏：zip 结构无效（可能下载或复制不完整），请向发送人重新索取"
SMALL_PART = 8 * 1024 * 1024  # uncompressed: read whole; larger parts are streamed in CHUNKs
SMALL_FILE = 8 * 1024 * 1024  # a file up to this size is read into memory once, and its parts from there
KEEP_BYTES = 16 * 1024 * 1024  # of a small file's parts, kept for the caller's reads (CheckedZip)
XML_SUFFIXES = (".xml", ".rels", ".vml")
SHEET_FOLDERS = ("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/")
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_NS = "http://purl.oclc.org/ooxml/"
# content types whose parts hold cells (calamine reads worksheets; macro and dialog sheets are
# worksheets in all but name)
SHEET_TYPES = ("worksheet+xml", "macrosheet+xml", "dialogsheet+xml", "sheet.main+xml", "sheet.macroEnabled.main+xml")
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_NAME = rb"[^\s=<>/\"']+"
_VALUE = rb"""(?:"[^"<]*"|'[^'<]*')"""
# any <c …> start tag (any prefix): every one must be accounted for
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
# a whole <c …> start tag up to its r attribute, other attributes (any order, either quote,
# any whitespace) tokenised so that nothing inside a value is taken for an attribute; the
# reference itself in plain form (letters then digits)
_CELL_R = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?:\s+(?!r\s*=)" + _NAME + rb"\s*=\s*" + _VALUE
                     + rb""")*\s+r\s*=\s*(?:"([A-Z]{1,3})([0-9]{1,7})"|'([A-Z]{1,3})([0-9]{1,7})')""")
# what Excel and most writers emit: r first, after one space, in double quotes
_CELL_R_FIRST = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')  # one pass for column and row
_UNUSUAL_CELL = re.compile(rb"<c[\t\n\r>/]")
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension[\s/>]")
_DIMENSION_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension((?:\s+" + _NAME + rb"\s*=\s*" + _VALUE + rb")*)\s*/?>")
_ATTR = re.compile(rb"(" + _NAME + rb")\s*=\s*(" + _VALUE + rb")")
_REF_TEXT = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)")
# element and attribute names as expat reports them with namespace_separator "}"
_CT_DEFAULT, _CT_OVERRIDE = f"{CT_NS}}}Default", f"{CT_NS}}}Override"
_RELATIONSHIP, _SHEET, _REL_ID = f"{PKG_REL_NS}}}Relationship", f"{MAIN_NS}}}sheet", f"{REL_NS}}}id"


class PreflightError(DtgError):
    """The file is refused; the message (Chinese) says why and what to do."""


@dataclass
class Report:
    """What the check saw (for tests and the reliability notes)."""
    parts: int = 0
    cells: int = 0
    max_row: int = 0
    max_col: int = 0


def check(path: str | Path) -> Report:
    """Refuse a file no parser should see; return what was seen otherwise."""
    return check_package(path, keep=False)[0]


def check_package(path: str | Path, keep: bool = True,
                  deferred: list[Deferred] | None = None) -> tuple[Report, CheckedZip | None]:
    """``check``, and (``keep``) the checked package of a small file, open over its bytes in
    memory, for the caller's own part reads (it then owns and closes it): the file is read from
    disk once, and its parts inflated once.  None for a large file (the caller opens it itself).

    ``deferred``: a list to receive the large worksheets (over ``SMALL_PART``) whose XML
    well-formedness check is left to the caller (``check_deferred``), so that it can run while
    calamine parses them in another thread.  Everything that keeps calamine safe has run by
    then, on every part: sizes and compression ratios, cell limits, the workbook's cell total,
    and every part calamine reads when it opens a workbook (workbook, relationships, shared
    strings, styles) is checked whole.  A file refused after something was left undone is checked
    again undeferred, so its message is always the one ``check`` gives."""
    if deferred is None:
        return _check_package(Path(path), keep, None)
    try:
        return _check_package(Path(path), keep, deferred)
    except (PreflightError, _Recheck) as exc:
        if isinstance(exc, PreflightError) and not deferred:
            raise  # nothing was left undone before it: the message check() gives
        deferred.clear()
        return _check_package(Path(path), keep, None)


def check_deferred(zf: zipfile.ZipFile, item: Deferred) -> None:
    """The check ``check_package`` left for a large worksheet: its XML through expat, in the
    pieces and with the message the undeferred check gives."""
    with _refusing_damage():
        checker = _Expat(item.where)
        for piece, final in _pieces(zf, zf.getinfo(item.part), item.where):
            checker.feed(piece, final=final)


@dataclass(frozen=True)
class Deferred:
    """A large worksheet whose XML well-formedness check is left to the caller (check_package)."""
    part: str
    sheet: str | None
    where: str


def _check_package(path: Path, keep: bool, deferred: list[Deferred] | None) -> tuple[Report, CheckedZip | None]:
    whole = None
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if 0 < size <= SMALL_FILE:
                whole = fh.read(SMALL_FILE + 1)
                head = whole[:8]
            else:
                head = fh.read(8)
    except FileNotFoundError:
        raise PreflightError("找不到文件") from None
    except IsADirectoryError:
        raise PreflightError("这是一个文件夹，不是工作簿文件") from None
    except PermissionError:
        raise PreflightError("没有读取该文件的权限（文件可能正被其他程序独占打开）") from None
    except OSError as exc:
        raise PreflightError(f"无法读取文件（{exc.strerror or exc}）") from None
    if size == 0:
        raise PreflightError("文件是空的（0 字节）")
    if size > MAX_FILE_BYTES:
        raise PreflightError(f"文件过大（{size / 1048576:.0f} MB，上限 {MAX_FILE_BYTES // 1048576} MB）")
    if head.startswith(OLE_MAGIC):
        raise PreflightError(_ole_message(path))
    if not head.startswith(ZIP_MAGICS):
        raise PreflightError(_not_zip_message(head))
    zf, kept = None, False
    try:
        with _refusing_damage():
            # a small file is read once and its parts come from memory (no seek and read per part);
            # a large one stays on disk
            zf = CheckedZip(_FileBytes(whole)) if whole is not None else zipfile.ZipFile(path)
            report = _check_zip(zf, whole, deferred)
            kept = keep and whole is not None
    finally:
        if zf is not None and not kept:
            zf.close()
    return report, (zf if kept else None)


@contextmanager
def _refusing_damage():
    """A damaged package found while reading it: refused with the message that says so."""
    try:
        yield
    # a damaged directory: an offset before the file's start (seek fails with EINVAL), a part name
    # not in the encoding its flag declares
    except (zipfile.BadZipFile, UnicodeDecodeError):
        raise PreflightError(_BAD_ZIP) from None
    except (NotImplementedError, zlib.error, EOFError, RuntimeError):
        raise PreflightError("文件已损坏或使用了不支持的压缩方式，请在 Excel 中另存为 .xlsx 后重试") from None
    except OSError as exc:
        raise PreflightError(_BAD_ZIP if exc.errno == errno.EINVAL else f"无法读取文件（{exc.strerror or exc}）") from None


class CheckedZip(zipfile.ZipFile):
    """The checked package of a small file, over its bytes in memory: a part the check read is
    given from that reading (the bytes zipfile gives), up to ``KEEP_BYTES`` in all."""

    def __init__(self, file):
        super().__init__(file)
        self.kept: dict[str, bytes] = {}
        self.kept_bytes = 0

    def keep(self, name: str, data: bytes) -> None:
        if self.kept_bytes + len(data) <= KEEP_BYTES:
            self.kept[name] = data
            self.kept_bytes += len(data)

    def read(self, name, pwd=None) -> bytes:
        data = self.kept.get(name) if isinstance(name, str) and pwd is None else None
        return super().read(name, pwd) if data is None else data

    def close(self) -> None:
        self.kept = {}
        super().close()


class _FileBytes(io.BytesIO):
    """A small file's bytes, read once, standing in for the file: a damaged directory can send
    zipfile to a negative offset, which fails on a file with OSError (EINVAL) but on BytesIO with
    ValueError; callers know the first, so it stays the first."""

    def seek(self, pos: int, whence: int = 0) -> int:
        try:
            return super().seek(pos, whence)
        except ValueError:
            if self.closed:
                raise
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL)) from None


def _ole_message(path: Path) -> str:
    """An OLE compound file: password-protected OOXML, or an old binary .xls/.doc."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s) for s in ole.listdir(streams=True, storages=True)}
    except Exception:  # noqa: BLE001 - any parse failure means: not something we can read
        streams = set()
    if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
        return "文件设置了打开密码（已加密），无法读取。请在 Excel 中“文件→信息→保护工作簿→用密码进行加密”清除密码，另存后重试"
    if "Workbook" in streams or "Book" in streams:
        return "这是旧版 Excel 97-2003 工作簿（.xls），请在 Excel 中“另存为”Excel 工作簿（.xlsx）或启用宏的工作簿（.xlsm）后重试"
    return "这是 Office 旧版二进制文件，不是 .xlsx/.xlsm 工作簿，请在 Excel 中另存为 .xlsx 后重试"


def _not_zip_message(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").lower()
    if text.startswith((b"<", b"<\x00")):
        kind = "网页或 XML 文件（有些系统导出的“.xls”其实是网页）"
    elif text.startswith(b"%pdf"):
        kind = "PDF 文件"
    elif text.startswith(b"{\\rtf"):
        kind = "RTF 文档"
    else:
        kind = "其他格式的文件（不是 zip 压缩包）"
    return f"这不是 Excel 工作簿（.xlsx/.xlsm），而是{kind}。请在 Excel 中打开后另存为 .xlsx 再试"


def _check_zip(zf: zipfile.ZipFile, whole: bytes | None = None, deferred: list[Deferred] | None = None) -> Report:
    """The package's checks; ``whole``: the file's bytes, when it was read into memory;
    ``deferred``: see check_package."""
    infos = zf.infolist()
    report = Report(parts=len(infos))
    if len(infos) > MAX_ENTRIES:
        raise PreflightError(f"文件包含的部件过多（{len(infos)} 个，上限 {MAX_ENTRIES}），疑似恶意文件")
    names = [i.filename for i in infos]
    seen = set()
    for name in names:
        key = name.lower()
        if key in seen:
            raise PreflightError(f"文件中部件“{name}”重复出现，结构不合法，疑似被篡改")
        seen.add(key)
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise PreflightError(_not_workbook_message(names))
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise PreflightError("文件中的部件已加密（zip 密码），无法读取")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PreflightError("文件使用了不支持的压缩方式，请在 Excel 中另存为 .xlsx 后重试")
        _check_size(info.filename, info.file_size, info.compress_size)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise PreflightError(f"文件解压后过大（超过 {MAX_TOTAL_BYTES // 1048576} MB），疑似压缩炸弹")
    package = _Package(zf, whole)  # content types, relationships, workbook: parsed with namespaces
    for info in infos:
        kind = package.kind(info.filename)
        if kind == "binary":  # images, VBA …: read once so a bad CRC or a lying size is found here
            if info.file_size <= SMALL_PART:
                _read(zf, info, whole)
            else:
                for _ in _chunks(zf, info):
                    pass
        elif info.filename not in package.parsed:
            _scan_part(zf, info, kind, package.sheets.get(info.filename.lower()), report, whole, deferred)
    return report


class _Package:
    """What the package says about its parts: content types, relationship targets, sheets."""

    def __init__(self, zf: zipfile.ZipFile, whole: bytes | None = None):
        self.zf, self.whole = zf, whole
        self.parsed: set[str] = set()
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        self.targets: set[str] = set()  # internal relationship targets (lower case)
        self.sheets: dict[str, str] = {}  # worksheet part (lower case) -> sheet name
        names = zf.namelist()
        _, found = self._parse("[Content_Types].xml", (_CT_DEFAULT, _CT_OVERRIDE))
        for tag, el in found:
            if tag == _CT_DEFAULT:
                self.defaults[(el.get("Extension") or "").lower()] = el.get("ContentType") or ""
            else:
                self.overrides[(el.get("PartName") or "").lstrip("/").lower()] = el.get("ContentType") or ""
        root, sheets = self._parse("xl/workbook.xml", (_SHEET,))
        if root.startswith(STRICT_NS):
            raise PreflightError("这是“Strict Open XML 电子表格”格式，请在 Excel 中另存为普通的 Excel 工作簿（.xlsx）后重试")
        rels_name = "xl/_rels/workbook.xml.rels"
        if rels_name not in names:
            raise PreflightError("文件已损坏：缺少 xl/_rels/workbook.xml.rels")
        wb_targets = {}
        for name in [rels_name] + [n for n in names if self._is_rels(n) and n != rels_name]:
            owner = _rels_owner(name)
            for _, rel in self._parse(name, (_RELATIONSHIP,))[1]:
                if (rel.get("TargetMode") or "").lower() == "external":
                    continue
                target = resolve_target(owner, rel.get("Target") or "")
                self.targets.add(target.lower())
                if name == rels_name:
                    wb_targets[rel.get("Id")] = target
        for _, sheet in sheets:
            target = wb_targets.get(sheet.get(_REL_ID), "")
            self.sheets[target.lower()] = sheet.get("name") or "?"  # readers match loosely

    def _is_rels(self, name: str) -> bool:
        return self.content_type(name).endswith("relationships+xml") or name.lower().endswith(".rels")

    def content_type(self, name: str) -> str:
        key = name.lower()
        if key in self.overrides:
            return self.overrides[key]
        return self.defaults.get(key.rpartition(".")[2] if "." in key.rpartition("/")[2] else "", "")

    def kind(self, name: str) -> str:
        """sheet | xml | vml | binary, from the content type, the relationships, then the name."""
        key = name.lower()
        ctype = self.content_type(name)
        if key in self.sheets or ctype.endswith(SHEET_TYPES) or key.startswith(SHEET_FOLDERS):
            return "sheet"
        if "vml" in ctype.lower() or key.endswith(".vml"):
            return "vml"
        if ctype.endswith("xml") or key.endswith(XML_SUFFIXES) or name == "[Content_Types].xml":
            return "xml"
        if key in self.targets and not ctype:
            return "xml"  # a part something points to, of no declared type: a parser may read it
        return "binary"

    def _parse(self, name: str, wanted: tuple[str, ...]) -> tuple[str, list[tuple[str, dict]]]:
        """A structural part through expat with namespaces, as ElementTree (defusedxml) parsed
        it before: the same parser, options and refusals (any DTD or entity declaration), but
        no tree — only the root's name and the ``wanted`` elements' (name, attributes), in
        document order.  Names are ``namespace}local``."""
        from xml.parsers import expat

        data = _read(self.zf, self.zf.getinfo(name), self.whole)
        seen = _PARSED.get((wanted, data))
        if seen is not None:  # the same bytes parsed before (callers only read what they get)
            self.parsed.add(name)
            return seen
        root, found = [], []

        def start(tag, attrs):
            if not root:
                root.append(tag)
            if tag in wanted:
                found.append((tag, attrs))

        def dtd(*_):
            raise PreflightError(f"部件“{name}”包含 DTD/实体声明，可能是恶意文件（XML 实体攻击），已拒绝读取")

        parser = expat.ParserCreate(None, "}")  # what ElementTree.XMLParser creates
        parser.StartElementHandler = start
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = dtd
        parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = dtd
        try:
            parser.Parse(data, True)
        except expat.ExpatError:
            raise PreflightError(f"部件“{name}”不是有效的 XML，文件已损坏") from None
        self.parsed.add(name)
        _PARSED.put((wanted, data), ((root[0] if root else ""), found))
        return (root[0] if root else ""), found


def _rels_owner(rels_name: str) -> str:
    """``xl/_rels/workbook.xml.rels`` -> ``xl/workbook.xml`` (targets are relative to the owner)."""
    folder, _, file = rels_name.rpartition("/")
    base = folder[: -len("_rels")].rstrip("/") if folder.endswith("_rels") else folder
    owner = file[: -len(".rels")] if file.lower().endswith(".rels") else file
    return f"{base}/{owner}" if base else owner


def _not_workbook_message(names: list[str]) -> str:
    if "xl/workbook.bin" in names:
        return "这是 Excel 二进制工作簿（.xlsb），请在 Excel 中另存为 Excel 工作簿（.xlsx）或启用宏的工作簿（.xlsm）后重试"
    if "content.xml" in names and "mimetype" in names:
        return "这是 OpenDocument 表格（.ods），请在 WPS/LibreOffice/Excel 中另存为 .xlsx 后重试"
    if any(n.startswith("word/") for n in names):
        return "这是 Word 文档，不是 Excel 工作簿"
    if any(n.startswith("ppt/") for n in names):
        return "这是 PowerPoint 演示文稿，不是 Excel 工作簿"
    return "这是一个 zip 压缩包，但不是 Excel 工作簿（缺少 xl/workbook.xml 或 [Content_Types].xml）"


def _check_size(name: str, size: int, compressed: int) -> None:
    if size > MAX_PART_BYTES:
        raise PreflightError(f"部件“{name}”解压后过大（{size / 1048576:.0f} MB，上限 "
                             f"{MAX_PART_BYTES // 1048576} MB），疑似压缩炸弹")
    if size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
        raise PreflightError(f"部件“{name}”压缩比异常（{size / max(compressed, 1):.0f} 倍，上限 {MAX_RATIO} 倍），疑似压缩炸弹")


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, whole: bytes | None = None) -> bytes:
    """A part whole.  A small one in one ``zf.read``: zipfile never returns more than the
    directory's size (checked, with the ratio, before any part is read) and checks the CRC, so
    what comes out is what the directory said; a large one through ``_chunks``.  From a file in
    memory, ``_read_plain`` first."""
    if info.file_size > SMALL_PART:
        return b"".join(_chunks(zf, info))
    data = _read_plain(whole, info, zf.metadata_encoding) if whole is not None else None
    if data is None:
        data = zf.read(info)
    _check_size(info.filename, len(data), info.compress_size)
    if isinstance(zf, CheckedZip):
        zf.keep(info.filename, data)
    return data


def _read_plain(whole: bytes, info: zipfile.ZipInfo, encoding: str | None) -> bytes | None:
    """A part straight from the file's bytes when nothing about it is unusual (``plain_member``):
    zipfile.read would return the same bytes; this skips its per-part objects and seeks (most of a
    small part's cost).  None: zipfile reads the part, refusing it as it always did."""
    member = plain_member(lambda at, size: whole[at:at + size], info, encoding)
    return member[1] if member else None


def _chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Stream a part, re-checking size and ratio on what really comes out."""
    seen = 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            seen += len(chunk)
            _check_size(info.filename, seen, info.compress_size)
            yield chunk


def _utf16(first: bytes) -> str | None:
    if first.startswith(b"\xff\xfe") or first.startswith(b"<\x00"):
        return "utf-16-le"
    if first.startswith(b"\xfe\xff") or first.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str, sheet: str | None, report: Report,
               whole: bytes | None = None, deferred: list[Deferred] | None = None) -> None:
    name = info.filename
    where = f"工作表“{sheet}”" if sheet else f"部件“{name}”"
    if info.file_size <= SMALL_PART:
        data = _decoded(_read(zf, info, whole))
        if kind == "vml":  # Excel itself writes VML as loose HTML-like markup: no XML parser
            _no_dtd(data, where)
            return
        key = (kind, MAX_ROWS, MAX_COLS, MAX_AREA, data)  # a part's verdict: its bytes under these limits
        seen = _PASSED.get(key)
        if seen is not None:  # these very bytes passed before: only the workbook's total is new
            _merge(report, *seen)
            return
        part = Report(cells=report.cells)  # the total counts on from the workbook's, as it always did
        checker = _Expat(where)
        if kind == "sheet" and not _fast_cells(data, where, part, {"row": 0, "col": 0}):
            checker.cells = _Cells(where, part)  # the exact path, on the same bytes
        checker.feed(data, final=True)
        if checker.cells:
            checker.cells.done()
        seen = (part.cells - report.cells, part.max_row, part.max_col)
        _merge(report, *seen)
        _PASSED.put(key, seen)
        return
    if _scan_stream(zf, info, kind, where, report, defer=deferred is not None):
        deferred.append(Deferred(name, sheet, where))


# Parts that passed, by kind and content (a part's verdict and counts are a function of its bytes
# alone).  Forms cut from one master, or the projects of one template, repeat most of their
# parts byte for byte (styles, theme, the sheets nobody filled in): a worker reading hundreds of
# them checks each such part once.  Keys are the bytes themselves, so a hit is an exact match,
# never a digest's.  Refusals are not kept: a bad part is found again, named in its own file.
class _Seen:
    """A bounded memo keyed by (…, bytes): least recently used first out, by the bytes held."""

    def __init__(self, limit: int):
        self.items: dict[tuple, object] = {}
        self.size, self.limit = 0, limit
        self.lock = threading.Lock()  # a server door may check files from several threads

    def get(self, key: tuple):
        with self.lock:
            value = self.items.pop(key, None)
            if value is not None:
                self.items[key] = value  # now the most recent
            return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0

    def put(self, key: tuple, value) -> None:
        with self.lock:
            if key in self.items or len(key[-1]) > self.limit:
                return
            self.items[key] = value
            self.size += len(key[-1])
            while self.size > self.limit:
                oldest = next(iter(self.items))
                self.size -= len(oldest[-1])
                del self.items[oldest]


SEEN_BYTES = 16 * 1024 * 1024  # of parts held by each memo, at most
_PASSED = _Seen(SEEN_BYTES)  # (kind, limits, bytes) -> (cells, max row, max column) of a part that passed
_PARSED = _Seen(SEEN_BYTES)  # (wanted tags, bytes) -> a structural part's (root, wanted elements)


def forget_seen_parts() -> None:
    """Empty the memos: the next check of any file is a first one (what a bench timing one
    ``dtg-xl`` process, or a test, wants to see)."""
    _PASSED.clear()
    _PARSED.clear()


def _merge(report: Report, cells: int, max_row: int, max_col: int) -> None:
    report.cells += cells
    report.max_row, report.max_col = max(report.max_row, max_row), max(report.max_col, max_col)
    _count_total(report)


def _scan_stream(zf, info, kind: str, where: str, report: Report, exact: bool = False, defer: bool = False) -> bool:
    """A large part in chunks: memory bounded by CHUNK.  Cells by the byte pattern chunk by chunk
    (cut before a ``<``, so no tag is split); a chunk the pattern cannot account for restarts the
    part with the exact handler.  ``defer``: a worksheet's expat pass is left to the caller
    (True returned) when the pattern accounts for every chunk."""
    checker = None if kind == "vml" else _Expat(where)
    if checker and exact:
        checker.cells = _Cells(where, report)
    state = {"row": 0, "col": 0}
    cells_before = report.cells
    defer = defer and kind == "sheet" and not exact
    try:
        for piece, final in _pieces(zf, info, where):
            if checker is None:
                _no_dtd(piece, where)
                continue
            if kind == "sheet" and not exact and not _fast_cells(piece, where, report, state):
                break
            if not defer:
                checker.feed(piece, final=final)
        else:
            if checker is not None and checker.cells:
                checker.cells.done()
            return defer
    except Exception:
        if defer:  # expat, left out here, might have refused an earlier piece first
            raise _Recheck from None
        raise
    report.cells = cells_before
    return _scan_stream(zf, info, kind, where, report, exact=True)


class _Recheck(Exception):
    """A deferring check failed where the whole check might have failed earlier, and otherwise."""


def _pieces(zf, info, where: str):
    """A streamed part as UTF-8 pieces cut before a ``<`` (no tag split across two), each with whether it is the
    last: (piece, False) … then (the rest, True)."""
    carry = b""
    decoder = None
    first = True
    for chunk in _chunks(zf, info):
        if first:
            encoding = _utf16(chunk[:2])
            if encoding:
                import codecs
                decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
            first = False
        if decoder is not None:
            chunk = decoder.decode(chunk).encode("utf-8")
        buf = carry + chunk
        cut = buf.rfind(b"<")
        cut = len(buf) if cut <= 0 else cut
        body, carry = buf[:cut], buf[cut:]
        if len(carry) > CHUNK:
            raise PreflightError(f"{where}的 XML 结构异常（超长的标签），文件已损坏或被篡改")
        yield body, False
    yield carry, True


def _decoded(data: bytes) -> bytes:
    encoding = _utf16(data[:2])
    return data.decode(encoding, errors="replace").encode("utf-8") if encoding else data


def _no_dtd(body: bytes, where: str) -> None:
    if b"<!" in body and _DTD.search(body):
        raise PreflightError(f"{where}包含 DTD/实体声明，可能是恶意文件（XML 实体攻击），已拒绝读取")


def _fast_cells(body: bytes, where: str, report: Report, state: dict) -> bool:
    """Limits from byte patterns, when they account for every ``<c`` start tag (a ``<`` in XML
    is always markup, so counting them finds every tag; comments, CDATA and DTDs, where it is
    not, send the part to the exact handler) and every ``<dimension>`` tag tokenises; False:
    leave the part to the exact handler."""
    if b"<!" in body:
        return False
    if b"dimension" in body and not _fast_dimension(body, where):
        return False
    count = body.count(b"<c ")
    if _UNUSUAL_CELL.search(body) or b":c" in body and _PREFIXED_CELL.search(body):
        count = len(_CELL.findall(body))
        refs = _CELL_R.findall(body)
        rows, cols = {b or d for _, b, _, d in refs}, {a or c for a, _, c, _ in refs}
        found = len(refs)
    else:
        refs = _CELL_R_FIRST.findall(body)
        found = len(refs)
        if found == count:
            rows, cols = {row for _, row in refs}, {col for col, _ in refs}
    if found != count:
        return False
    if not count:
        return True
    row = max(state["row"], max(map(int, rows)))
    col = max(state["col"], max(map(col_number, cols)))
    state.update(row=row, col=col)  # the area is from A1 to the furthest row and column seen
    _limit(where, row, col, "单元格")
    report.max_row, report.max_col = max(report.max_row, row), max(report.max_col, col)
    report.cells += count
    _count_total(report)
    return True


def _fast_dimension(body: bytes, where: str) -> bool:
    found = []
    at = body.find(b"dimension")
    while at >= 0:  # each occurrence: a tag (<dimension or <x:dimension) must tokenise whole
        start = body.rfind(b"<", 0, at)
        if start >= 0 and _DIMENSION.match(body, start):
            m = _DIMENSION_TAG.match(body, start)
            if not m:
                return False
            found.append(m.group(1))
        at = body.find(b"dimension", at + 9)
    for attrs in found:
        for name, value in _ATTR.findall(attrs):
            if name == b"ref":
                _check_dimension(html.unescape(value[1:-1].decode("utf-8", "replace")), where)
    return True


def _check_dimension(value: str, where: str) -> None:
    for ref in value.split(":"):
        m = _REF_TEXT.fullmatch(ref.strip())
        if m and len(m.group(1)) < 12 and len(m.group(2)) < 12:
            _limit(where, int(m.group(2) or 0), col_number(m.group(1)) if m.group(1) else 0,
                   "已用区域声明（dimension）")


class _Expat:
    """Streams a part through expat (C, fast): broken XML and any DTD are found before lxml or
    calamine see them; with ``cells`` set, every start tag goes to the exact cell handler."""

    def __init__(self, where: str):
        from xml.parsers import expat

        self.where, self.error, self.cells = where, expat.ExpatError, None
        self.parser = expat.ParserCreate(encoding="utf-8")  # UTF-16 parts are re-encoded first
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._dtd
        self.parser.EntityDeclHandler = self._dtd
        self._handler = False

    def _dtd(self, *_):
        raise PreflightError(f"{self.where}包含 DTD/实体声明，可能是恶意文件（XML 实体攻击），已拒绝读取")

    def feed(self, data: bytes, final: bool = False) -> None:
        if self.cells and not self._handler:
            self.parser.StartElementHandler = self.cells.start
            self._handler = True
        try:
            self.parser.Parse(data, final)
        except self.error as exc:
            raise PreflightError(f"{self.where}不是有效的 XML（第 {exc.lineno} 行第 {exc.offset} 列），"
                                 "文件已损坏或被篡改") from None


class _Cells:
    """The exact path: positions as a reader derives them from parsed start tags (attribute
    values already unescaped and normalised by expat)."""

    def __init__(self, where: str, report: Report):
        self.where, self.report = where, report
        self.row = self.col = self.max_col = self.cells = 0

    def start(self, name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            self.cells += 1
            m = _REF_TEXT.fullmatch(attrs.get("r", "").strip())
            if m and m.group(1) and len(m.group(1)) < 12 and len(m.group(2)) < 12:
                self.col = col_number(m.group(1))
                if m.group(2):
                    self.row = max(self.row, int(m.group(2)))
            else:
                self.col += 1  # a cell without a usable r sits right of the previous one
            self.max_col = max(self.max_col, self.col)
            _limit(self.where, max(self.row, 1), self.col, "单元格")
            rep = self.report
            rep.max_row, rep.max_col = max(rep.max_row, self.row), max(rep.max_col, self.col)
            if self.cells & 0x3FF == 0:
                self._flush()
        elif local == "row":
            m = _REF_TEXT.fullmatch(attrs.get("r", "").strip())
            r = m.group(2) if m else ""
            self.row = int(r) if r and len(r) < 12 else self.row + 1
            self.col = 0  # limits are checked on cells: an empty row allocates nothing
        elif local == "dimension":
            _check_dimension(attrs.get("ref", ""), self.where)

    def _flush(self) -> None:
        self.report.cells += self.cells
        self.cells = 0
        _count_total(self.report)

    def done(self) -> None:
        self._flush()


def _count_total(report: Report) -> None:
    if report.cells > MAX_CELLS:
        raise PreflightError(f"工作簿的单元格过多（超过 {MAX_CELLS:,} 个），请删除无用的区域后重试")


def _limit(where: str, row: int, col: int, what: str) -> None:
    if row > MAX_ROWS or col > MAX_COLS:
        ref = cell_ref(row, col) if col else f"第 {row:,} 行"
        raise PreflightError(f"{where}的{what}超出范围（到达 {ref}，上限 {MAX_ROWS:,} 行、"
                             f"{MAX_COLS:,} 列），可能含有误填或恶意的远端单元格，请删除后重试")
    if row * col > MAX_AREA:
        raise PreflightError(f"{where}的使用区域过大（A1 到 {cell_ref(row, col)} 共 {row * col:,} 个单元格，"
                             f"上限 {MAX_AREA:,}），请删除远处无用的单元格后重试")
