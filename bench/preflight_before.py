"""(bench) The pre-flight as it was before issue 16 (two passes per part), kept to measure it and
to compare verdicts with dtg_xl.xlsx.preflight; not used by the product.  Its docstring was:

Pre-flight: look at a workbook file before any parser does, and refuse hostile or broken ones.

Workbooks arrive by email.  python-calamine allocates a grid from A1 to the furthest cell and
aborts the whole process (SIGABRT, not catchable) on a 5 KB file touching XFD1048576; XML
parsers can be fed entity bombs; zip parts can be bombs.  So before calamine, openpyxl or lxml
see a file, ``check(path)`` reads only the zip directory and streams each XML part through a
few byte patterns (no XML parser runs on sheet data, which keeps this well under a second):

* not a zip (an old .xls renamed, an HTML "xls", a PDF …), OLE containers (old .xls, and
  password-protected OOXML, which Office stores as an encrypted OLE file);
* zip entries: count, duplicates, encryption, compression method, per-part and total size,
  compression ratio (checked on the directory, then again while streaming, since a directory
  can lie);
* DTD / ENTITY declarations in any XML part (UTF-8 or UTF-16);
* worksheets: cell references and ``<dimension>`` beyond the row/column limits, the area from
  A1 to the furthest cell, and the number of cells.

The small structural parts ([Content_Types].xml, workbook.xml and its rels) are then parsed
with defusedxml, which refuses DTDs and entities itself.  Every refusal is a ``PreflightError``
with a Chinese message; the file is only read, never written.
"""
from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import cell_ref, col_number
from dtg_xl.xlsx.patch import resolve_target

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 5_000
MAX_PART_BYTES = 200 * 1024 * 1024  # uncompressed
MAX_TOTAL_BYTES = 500 * 1024 * 1024  # uncompressed, all parts
MAX_RATIO = 200  # uncompressed / compressed, for parts over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_ROWS = 100_000
MAX_COLS = 2_000  # column BXX
MAX_AREA = 5_000_000  # rows x columns from A1 to the furthest cell (what calamine allocates)
MAX_CELLS = 2_000_000  # <c> elements in the whole workbook
CHUNK = 1 << 20

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
XML_SUFFIXES = (".xml", ".rels", ".vml")
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
# a <row ...> or <c ...> start tag (any namespace prefix), with its r attribute if present
_TOKEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']\$?([A-Za-z]*)\$?([0-9]*)["']""")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_CELL_ROW_FIRST = re.compile(rb'<c r="[A-Z]{1,9}([0-9]{1,11})"')
_CELL_COL_FIRST = re.compile(rb'<c r="([A-Z]{1,9})[0-9]')
_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s(?:[^>]*?\s)?r="([A-Z]{1,9})([0-9]{1,11})"')
_DIMENSION = re.compile(rb"""<(?:[\w.-]+:)?dimension\s[^>]*\bref\s*=\s*["']([^"']*)["']""")


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
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
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
    try:
        with zipfile.ZipFile(path) as zf:
            return _check_zip(zf)
    except zipfile.BadZipFile:
        raise PreflightError("文件已损坏：zip 结构无效（可能下载或复制不完整），请向发送人重新索取") from None
    except (NotImplementedError, zlib.error, EOFError, RuntimeError):
        raise PreflightError("文件已损坏或使用了不支持的压缩方式，请在 Excel 中另存为 .xlsx 后重试") from None


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


def _check_zip(zf: zipfile.ZipFile) -> Report:
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
    sheets = _structure(zf)  # parsed with defusedxml: DTDs refused there too
    for info in infos:
        if info.filename.lower().endswith(XML_SUFFIXES) or info.filename == "[Content_Types].xml":
            _scan_part(zf, info, sheets.get(info.filename.lower()), report)
        else:  # images, VBA …: read once so a bad CRC or a lying size is found here, not mid-write
            for _ in _chunks(zf, info):
                pass
    return report


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


def _structure(zf: zipfile.ZipFile) -> dict[str, str]:
    """Parse the small structural parts with defusedxml; return worksheet part -> sheet name."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"

    def parse(name):
        data = _read_capped(zf, zf.getinfo(name))
        try:
            return fromstring(data, forbid_dtd=True)
        except DefusedXmlException:
            raise PreflightError(f"部件“{name}”包含 DTD/实体声明，可能是恶意文件（XML 实体攻击），已拒绝读取") from None
        except Exception:  # noqa: BLE001 - ParseError and friends: a broken part
            raise PreflightError(f"部件“{name}”不是有效的 XML，文件已损坏") from None

    parse("[Content_Types].xml")
    wb = parse("xl/workbook.xml")
    if wb.tag.startswith("{http://purl.oclc.org/ooxml/"):
        raise PreflightError("这是“Strict Open XML 电子表格”格式，请在 Excel 中另存为普通的 Excel 工作簿（.xlsx）后重试")
    rels_name = "xl/_rels/workbook.xml.rels"
    if rels_name not in zf.namelist():
        raise PreflightError("文件已损坏：缺少 xl/_rels/workbook.xml.rels")
    targets = {r.get("Id"): r.get("Target") or "" for r in parse(rels_name).iter(f"{pkg}Relationship")}
    sheets = {}
    for sheet in wb.iter(f"{ns}sheet"):
        target = targets.get(sheet.get(f"{rel_ns}id"), "")
        sheets[resolve_target("xl/workbook.xml", target).lower()] = sheet.get("name") or "?"  # readers match loosely
    return sheets


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    return b"".join(_chunks(zf, info))


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


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, sheet: str | None, report: Report) -> None:
    name = info.filename
    is_sheet = sheet is not None or name.lower().startswith(("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/"))
    where = f"工作表“{sheet}”" if sheet else f"部件“{name}”"
    state = {"row": 0, "col": 0, "cells": 0}
    carry = b""
    decoder = None
    first = True
    # well-formedness, streamed (expat never sees a DTD: each piece is scanned first).  Not for
    # VML, which Excel itself writes as loose HTML-like markup.
    checker = None if name.lower().endswith(".vml") else _Wellformed(where)
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
        cut = buf.rfind(b">") + 1
        body, carry = buf[:cut], buf[cut:]
        if len(carry) > CHUNK:
            raise PreflightError(f"{where}的 XML 结构异常（超长的标签），文件已损坏或被篡改")
        _scan_body(body, where, is_sheet, state, report)
        if checker:
            checker.feed(body)
    _scan_body(carry, where, is_sheet, state, report)
    if checker:
        checker.feed(carry, final=True)


class _Wellformed:
    """Streams a part through expat (C, fast) to find broken XML before lxml or calamine do."""

    def __init__(self, where: str):
        from xml.parsers import expat

        self.where, self.error = where, expat.ExpatError
        self.parser = expat.ParserCreate(encoding="utf-8")  # UTF-16 parts are re-encoded above
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def feed(self, data: bytes, final: bool = False) -> None:
        try:
            self.parser.Parse(data, final)
        except self.error as exc:
            raise PreflightError(f"{self.where}不是有效的 XML（第 {exc.lineno} 行第 {exc.offset} 列），"
                                 "文件已损坏或被篡改") from None


def _scan_body(body: bytes, where: str, is_sheet: bool, state: dict, report: Report) -> None:
    if b"<!" in body and _DTD.search(body) or b"<\x00!" in body:  # (comments and CDATA also start so)
        raise PreflightError(f"{where}包含 DTD/实体声明，可能是恶意文件（XML 实体攻击），已拒绝读取")
    if not is_sheet or not body:
        return
    for m in _DIMENSION.finditer(body) if b"dimension" in body else ():
        for ref in m.group(1).split(b":"):
            rm = re.fullmatch(rb"\$?([A-Za-z]*)\$?([0-9]*)", ref.strip())
            if rm:
                _limit(where, int(rm.group(2) or 0), col_number(rm.group(1)) if rm.group(1) else 0,
                       "已用区域声明（dimension）")
    row, col, cells = state["row"], state["col"], state["cells"]
    count = body.count(b"<c ") + body.count(b"<c>") + body.count(b"<c/>")
    if b":c" in body:  # maybe namespace-prefixed cells (<x:c …>): count them properly
        count = len(_CELL.findall(body))
    rows = _CELL_ROW_FIRST.findall(body)  # r as the first attribute: how Excel and most writers do it
    if len(rows) == count:
        cols = set(_CELL_COL_FIRST.findall(body))
    else:
        refs = _CELL_REF.findall(body)
        rows, cols = [d for _, d in refs], {c for c, _ in refs}
    if count == len(rows):  # fast path: every cell names its position (what Excel writes)
        if rows:
            row = max(row, max(map(int, set(rows))))
            col = max(state.get("max_col", 0), max(map(col_number, cols)))
            state["max_col"] = col  # the area is from A1 to the furthest row and column seen
            _limit(where, max(row, 1), col, "单元格")
            report.max_row, report.max_col = max(report.max_row, row), max(report.max_col, col)
        _count(state, report, cells + count)
        state.update(row=row, col=col)
        return
    for m in _TOKEN.finditer(body):
        attrs = m.group(2)
        ref = _R_ATTR.search(attrs)
        if m.group(1) == b"row":
            row = int(ref.group(2)) if ref and ref.group(2) and len(ref.group(2)) < 12 else row + 1
            col = 0  # limits are checked on cells: an empty row allocates nothing
            continue
        cells += 1
        if ref and ref.group(1) and len(ref.group(1)) < 12 and len(ref.group(2)) < 12:
            col = col_number(ref.group(1))
            if ref.group(2):
                row = max(row, int(ref.group(2)))
        else:
            col += 1  # a cell without r sits right of the previous one
        _limit(where, row, col, "单元格")
        report.max_row, report.max_col = max(report.max_row, row), max(report.max_col, col)
    state.update(row=row, col=col)
    _count(state, report, cells)


def _count(state: dict, report: Report, cells: int) -> None:
    report.cells += cells - state["cells"]
    state["cells"] = cells
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
