"""Write cell values into an .xlsx/.xlsm by patching only the sheets written to.

openpyxl load→save rewrites every part and drops cached formula results, x14 dropdowns,
sparklines, text boxes and (without keep_vba) macros.  Here every other zip entry is copied
byte for byte; in a written sheet only the target ``<c>`` elements change (their style ``s``
kept), values go in as numbers or inline strings, and an overwritten formula's calcChain
entry is removed.  No library patches cells in place this way, hence by hand (lxml keeps
namespace prefixes, which Excel's ``mc:Ignorable`` needs).

Parts that may change besides the written sheets, and why:
* ``xl/calcChain.xml`` — entries of overwritten formulas removed (Excel repairs a file whose
  chain names a cell without a formula); when none remain, the part, its relationship
  (``xl/_rels/workbook.xml.rels``) and its content type go, since an empty chain is invalid.
* ``xl/workbook.xml`` — ``calcPr fullCalcOnLoad="1"`` only when a remaining formula may depend
  on a written cell (any formula on a written sheet; elsewhere one naming a written sheet, a
  defined name on it, or INDIRECT/OFFSET), so Excel recalculates on open; otherwise untouched.
Strings are written inline (``t="inlineStr"``), so ``sharedStrings.xml`` keeps its bytes; a
string that looks like a formula (``=…``, ``+…``, ``-…``, ``@…``) is still only text.
* the styles part — a copy of a cell's style with another number format, appended when the
  caller's ``reformat`` asks for one (result cells get the template's own formats back).

A written sheet is streamed where its bytes allow (see ``_split_sheet``): only runs of the rows
written are parsed, the rest is copied byte for byte, so memory follows the rows written, not the
sheet; other sheets go through one lxml tree of the whole part, which gives the same document.
A run of flat rows of plain cells (how Excel and XlsxWriter write numbers and shared strings)
that takes only numbers and blanks is not parsed at all: the values are spliced into its bytes
(``_splice_run``), which gives the bytes parsing and re-serialising the run would.  A large
written sheet is deflated by a second thread while it is being written (``_Deflating``; zlib
releases the GIL), into the bytes zipfile's ``writestr`` would give.
"""
from __future__ import annotations

import bisect
import html
import io
import math
import numbers
import queue
import re
import threading
import zipfile
import zlib
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from dtg_xl.xlsx.parts import plain_member, resolve_target  # noqa: F401  (resolve_target: importers use it from here too)
from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import col_letter, col_number
from dtg_xl.xlsx.atomic import atomic_output
from dtg_xl.xlsx.sheetinfo import has_formula, package_parts, read_number_formats

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _ROW, _V, _F, _IS, _T, _EXT = (f"{{{NS}}}{n}" for n in ("c", "row", "v", "f", "is", "t", "extLst"))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)
_REF = re.compile(r"^([A-Z]+)(\d+)$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_TEXT = 32767  # Excel's limit for one cell's text
CALC_CHAIN = "xl/calcChain.xml"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*>([^<]*)</(?:\w+:)?f>")
_ANY_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


class PatchError(DtgError):
    pass


def parse(data: bytes):
    return etree.fromstring(data, _PARSER)


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip part path, from workbook.xml and its relationships."""
    return package_parts(zf)[0]


def _sheet_ids(zf: zipfile.ZipFile) -> dict[str, str]:
    wb = parse(zf.read("xl/workbook.xml"))
    return {s.get("name"): s.get("sheetId") for s in wb.iter(f"{{{NS}}}sheet")}


def patch_workbook(src: str | Path, dst: str | Path, writes: dict[str, dict[tuple[int, int], object]],
                   reformat=None) -> list[str]:
    """Copy src to dst with ``writes[sheet][(row, col)] = value`` applied (atomically).

    ``reformat(sheet, row, col, format_code, value)`` is asked for each cell written, with the
    number format its style has now; a code it returns becomes the cell's format (a copy of its
    style with that format, appended to the styles part), None leaves the style as it is.

    Returns the names of the parts whose bytes changed (or were removed)."""
    src, dst = Path(src), Path(dst)
    with zipfile.ZipFile(src) as zin:
        parts, styles_part = package_parts(zin)
        ids = _sheet_ids(zin)
        names = zin.namelist()
        missing = [name for name in writes if name not in parts or parts[name] not in names]
        if missing:
            raise PatchError(f"工作簿中没有工作表：{'、'.join(missing)}")
        new_parts: dict[str, bytes | None] = {}
        deflated: dict[str, tuple[bytes, int]] = {}  # part -> its new bytes deflated, and their CRC
        dropped_formulas: dict[str, set[str]] = {}
        fmt = _Formats(zin, reformat, styles_part)
        for name, cells in writes.items():
            if not cells:
                continue
            fmt.sheet = name
            info = zin.getinfo(parts[name])
            ahead = _Deflating() if info.compress_type == zipfile.ZIP_DEFLATED and \
                info.file_size >= DEFLATE_AHEAD else None
            try:
                xml, dropped = _patch_sheet(zin.read(info), cells, name, fmt, ahead)
            finally:
                done = ahead.finish() if ahead is not None else None
            if done is not None and done[1] == zlib.crc32(xml) and done[2] == len(xml):  # what was written
                deflated[parts[name]] = done[:2]
            new_parts[parts[name]] = xml
            if dropped:
                dropped_formulas[ids[name]] = dropped
        if fmt.requests:
            new_parts[fmt.part] = fmt.styles_xml(zin)
        if dropped_formulas and CALC_CHAIN in names:
            chain = _prune_calc_chain(zin.read(CALC_CHAIN), dropped_formulas)
            if chain is None:  # nothing left: drop the part and every pointer to it
                new_parts[CALC_CHAIN] = None
                new_parts["xl/_rels/workbook.xml.rels"] = _drop_relationship(
                    zin.read("xl/_rels/workbook.xml.rels"), "calcChain.xml")
                new_parts["[Content_Types].xml"] = _drop_override(zin.read("[Content_Types].xml"), "/" + CALC_CHAIN)
            else:
                new_parts[CALC_CHAIN] = chain
        written = {n for n, cells in writes.items() if cells}
        if written and _dependent_formulas(zin, parts, written, new_parts):
            wb_xml = zin.read("xl/workbook.xml")
            updated = _full_calc_on_load(wb_xml)
            if updated != wb_xml:
                new_parts["xl/workbook.xml"] = updated
    write_copy(src, dst, new_parts, deflated)
    return sorted(new_parts)


class _Formats:
    """The number format of each written cell, as ``reformat`` wants it: the cell's current format
    code from the styles part (read once), and new cell styles in order of first request."""

    def __init__(self, zin: zipfile.ZipFile, reformat, styles_part: str | None):
        self.reformat, self.sheet = reformat, ""
        self.requests: dict[tuple[int, str], int] = {}  # (old style, code) -> new style index
        # no styles part (or nothing to ask): nothing to restyle
        self.part = styles_part if reformat is not None and styles_part in zin.namelist() else None
        self.codes = read_number_formats(zin, self.part) if self.part else []

    def style(self, s: str | None, row: int, col: int, value) -> str | None:
        """The ``s`` a written cell gets: its own (``s``), or a copy of it with the format asked for."""
        if self.part is None:
            return s
        old = int(s) if s and s.isdigit() else 0
        code = self.codes[old] if 0 <= old < len(self.codes) else "General"
        wanted = self.reformat(self.sheet, row, col, code, value)
        if wanted is None:
            return s
        key = (old, wanted)
        if key not in self.requests:
            self.requests[key] = len(self.codes) + len(self.requests)
        return str(self.requests[key])

    def styles_xml(self, zin: zipfile.ZipFile) -> bytes:
        from dtg_xl.xlsx.styles import restyle

        xml, index = restyle(zin.read(self.part), list(self.requests))
        if index != self.requests:  # the styles part counts its cell styles otherwise than it reads
            raise PatchError("样式表（styles.xml）的单元格样式数量不一致，文件已损坏，请在 Excel 中打开并另存后重试")
        return xml


DEFLATE_AHEAD = 4 * 1024 * 1024  # a written sheet at least this large is deflated while it is written


class _Deflating:
    """A part's bytes deflated (and their CRC taken) by a second thread as they are written, as
    zipfile's ``writestr`` deflates them (``compressobj`` at the default level, raw deflate; zlib
    gives the same stream however the input is cut), so that deflating a large sheet overlaps
    patching it instead of following it.  ``finish`` gives (deflated, CRC, size), or None if the
    thread failed; the caller keeps it only when CRC and size are those of the part it wrote."""

    BATCH = 4 * 1024 * 1024  # handed over in large pieces: each handover waits for the GIL (up to 5 ms)

    def __init__(self):
        self._pieces: queue.SimpleQueue = queue.SimpleQueue()
        self._batch, self._held, self._done = [], 0, None
        self._thread = threading.Thread(target=self._run, name="dtg-deflate", daemon=True)
        self._thread.start()

    def write(self, data) -> None:
        self._batch.append(data)
        self._held += len(data)
        if self._held >= self.BATCH:
            self._pieces.put(b"".join(self._batch))
            self._batch, self._held = [], 0

    def _run(self) -> None:
        deflate, out, crc, size = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15), [], 0, 0
        try:
            while (data := self._pieces.get()) is not None:
                out.append(deflate.compress(data))
                crc, size = zlib.crc32(data, crc), size + len(data)
            out.append(deflate.flush())
            self._done = (b"".join(out), crc, size)
        except Exception:  # MemoryError and the like: the part is deflated the usual way instead
            while self._pieces.get() is not None:
                pass

    def finish(self) -> tuple[bytes, int, int] | None:
        self._pieces.put(b"".join(self._batch))
        self._pieces.put(None)
        self._thread.join()
        return self._done


class _Tee(io.BytesIO):
    """A BytesIO that also hands each write to a ``_Deflating``."""

    def __init__(self, ahead: _Deflating):
        super().__init__()
        self._ahead = ahead

    def write(self, data) -> int:
        self._ahead.write(data)
        return super().write(data)


def write_copy(src: Path, dst: Path, replaced: dict[str, bytes | None],
               deflated: dict[str, tuple[bytes, int]] | None = None) -> None:
    """Like atomic_write_zip, but opens src itself and closes it before the rename, so that
    dst may be src even on Windows (which cannot replace a file that is still open).
    ``deflated``: replaced parts already deflated (bytes, CRC), written as they are."""
    with atomic_output(dst) as tmp:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w") as zout:
            _copy_parts(zin, zout, replaced, deflated or {})


def atomic_write_zip(dst: Path, zin: zipfile.ZipFile, replaced: dict[str, bytes | None]) -> None:
    """Write a copy of zin with some parts replaced (None: removed), atomically; other parts
    keep their bytes, order and compression."""
    with atomic_output(dst) as tmp, zipfile.ZipFile(tmp, "w") as zout:
        _copy_parts(zin, zout, replaced, {})


def _copy_parts(zin: zipfile.ZipFile, zout: zipfile.ZipFile, replaced: dict[str, bytes | None],
                deflated: dict[str, tuple[bytes, int]]) -> None:
    for info in zin.infolist():
        if info.filename in replaced and replaced[info.filename] is None:
            continue
        data = replaced.get(info.filename)
        out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        out.external_attr, out.create_system = info.external_attr, info.create_system
        if data is None and _copy_compressed(zin, zout, info, out):
            continue
        if data is None:
            data = zin.read(info.filename)
        elif info.filename in deflated:
            out.external_attr = out.external_attr or 0o600 << 16  # what writestr gives a member without
            if _write_raw(zout, out, *deflated[info.filename], len(data), zipfile.ZIP_DEFLATED):
                continue
        zout.writestr(out, data, compress_type=info.compress_type)


def _copy_compressed(zin: zipfile.ZipFile, zout: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipInfo) -> bool:
    """Copy an untouched member's compressed bytes as they are (no deflate), with the local header
    and directory entry ``writestr`` would write for it; the member is checked on the way as the
    pre-flight reads it (``plain_member``: local header, size, CRC).  zipfile has no public raw
    copy, so this uses its header helpers; False (copy by writestr instead) for zip64 and anything
    ``plain_member`` finds unusual."""
    if max(info.file_size, info.compress_size, info.header_offset, zout.fp.tell()) >= zipfile.ZIP64_LIMIT:
        return False
    fp = zin.fp

    def read(at: int, size: int) -> bytes:
        fp.seek(at)
        return fp.read(size)

    member = plain_member(read, info, zin.metadata_encoding)
    if member is None:
        return False
    return _write_raw(zout, out, member[0], info.CRC, info.file_size, info.compress_type)


def _write_raw(zout: zipfile.ZipFile, out: zipfile.ZipInfo, compressed: bytes, crc: int, size: int,
               compress_type: int) -> bool:
    """Write a member's compressed bytes with the local header and directory entry ``writestr``
    would write for it; False (let writestr write it) where writestr would use zip64."""
    if max(size * 1.05, len(compressed), zout.fp.tell()) >= zipfile.ZIP64_LIMIT:
        return False
    out.compress_type, out.CRC = compress_type, crc
    out.file_size, out.compress_size = size, len(compressed)
    out.flag_bits = 0  # as writestr on a seekable file: sizes in the local header, no descriptor
    out.header_offset = zout.fp.tell()
    zout.fp.write(out.FileHeader(False))
    zout.fp.write(compressed)
    zout.filelist.append(out)
    zout.NameToInfo[out.filename] = out
    zout.start_dir = zout.fp.tell()
    zout._didModify = True
    return True


def _formula_texts(xml: bytes) -> list[str]:
    return [html.unescape(m.decode("utf-8", "replace")) for m in _FORMULA_TEXT.findall(xml)]


def _defined_names(zin: zipfile.ZipFile) -> list[tuple[str, str]]:
    root = parse(zin.read("xl/workbook.xml"))
    return [(d.get("name") or "", d.text or "") for d in root.iter(f"{{{NS}}}definedName")]


def _mentions_sheet(text: str, sheet: str) -> bool:
    quoted = "'" + sheet.replace("'", "''") + "'!"
    return quoted in text or f"{sheet}!" in text


def _dependent_formulas(zin, parts: dict[str, str], written: set[str], new_parts: dict) -> bool:
    """May a formula left in the workbook depend on a written cell?  Conservative: any formula
    on a written sheet; elsewhere one naming a written sheet, a name defined on one, or
    INDIRECT/OFFSET (which build references from text)."""
    names = set(zin.namelist())
    for sheet in written:
        if has_formula(new_parts.get(parts[sheet]) or b"", _ANY_FORMULA):
            return True
    risky_names = [n for n, ref in _defined_names(zin) if any(_mentions_sheet(ref, s) for s in written)]
    for sheet, part in parts.items():
        if sheet in written or part not in names:
            continue
        xml = zin.read(part)
        if not has_formula(xml, _ANY_FORMULA):
            continue
        for text in _formula_texts(xml):
            upper = text.upper()
            if any(_mentions_sheet(text, s) for s in written) or "INDIRECT(" in upper or "OFFSET(" in upper:
                return True
            if any(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w.(])", text) for n in risky_names):
                return True
    return False


def _drop_relationship(xml: bytes, target_end: str) -> bytes:
    root = parse(xml)
    for rel in list(root):
        if (rel.get("Target") or "").endswith(target_end):
            root.remove(rel)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _drop_override(xml: bytes, part_name: str) -> bytes:
    root = parse(xml)
    for el in list(root):
        if el.get("PartName") == part_name:
            root.remove(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _full_calc_on_load(xml: bytes) -> bytes:
    """Ask Excel to recalculate on open, since formulas may depend on the values written."""
    root = parse(xml)
    calc = root.find(f"{{{NS}}}calcPr")
    if calc is None:
        calc = etree.SubElement(root, f"{{{NS}}}calcPr")
        # calcPr must precede these siblings in the schema
        for tag in ("oleSize", "customWorkbookViews", "pivotCaches", "smartTagPr", "smartTagTypes",
                    "webPublishing", "fileRecoveryPr", "webPublishObjects", "extLst"):
            later = root.find(f"{{{NS}}}{tag}")
            if later is not None:
                later.addprevious(calc)
                break
    if calc.get("fullCalcOnLoad") == "1":
        return xml
    calc.set("fullCalcOnLoad", "1")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _prune_calc_chain(xml: bytes, dropped: dict[str, set[str]]) -> bytes | None:
    root = parse(xml)
    current = None
    for c in list(root):
        current = c.get("i", current)  # i is inherited from the previous entry when absent
        if c.get("r") in dropped.get(current, ()):
            if c.get("i") is not None:  # keep the sheet id for the entries that follow
                nxt = c.getnext()
                if nxt is not None and nxt.get("i") is None:
                    nxt.set("i", c.get("i"))
            root.remove(c)
    if not len(root):
        return None
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _patch_sheet(xml: bytes, cells: dict[tuple[int, int], object], sheet: str = "",
                 fmt: _Formats | None = None, ahead: _Deflating | None = None) -> tuple[bytes, set[str]]:
    """The sheet part with the cells written, and the references of the formulas overwritten.
    Streamed a run of rows at a time where the bytes allow it (see _split_sheet), so memory is
    bounded by the rows written, not by the sheet; else through one lxml tree of the whole part.
    ``ahead`` is handed the streamed bytes as they are written (the tree path hands it nothing)."""
    split = _split_sheet(xml)
    if split is not None:
        asked = dict(fmt.requests) if fmt is not None else {}
        try:
            return _patch_stream(xml, split, cells, sheet, fmt, ahead)
        except _NotStreamable:  # the parser reads the rows otherwise than the byte pattern: the tree decides
            if fmt is not None:
                fmt.requests = asked
    return _patch_tree(xml, cells, sheet, fmt)


class _NotStreamable(Exception):
    """A run of rows the parser reads otherwise than the byte pattern (never seen by users)."""


def _by_row(cells) -> dict[int, dict[int, object]]:
    by_row = defaultdict(dict)
    for (r, c), value in cells.items():
        by_row[r][c] = value
    return by_row


def _patch_tree(xml: bytes, cells, sheet: str, fmt) -> tuple[bytes, set[str]]:
    root = parse(xml)
    data = root.find(f"{{{NS}}}sheetData")
    if data is None:
        raise PatchError(f"工作表“{sheet}”缺少sheetData，文件已损坏")
    _explicit_refs(data, sheet)
    rows = {int(r.get("r")): r for r in data.iter(_ROW)}
    targets = {f"{col_letter(c)}{r}" for r, c in cells}
    _check_arrays(data, cells, sheet)
    _unshare_overwritten_masters(data, targets)
    dropped = _patch_rows(data, rows, _by_row(cells), _column_styles(root), fmt)
    dim = root.find(f"{{{NS}}}dimension")
    if dim is not None and cells:
        dim.set("ref", _grown_dimension(dim.get("ref", "A1"), cells))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), dropped


def _patch_rows(data, rows: dict, by_row: dict, col_styles, fmt) -> set[str]:
    """Write by_row's values into the rows of data (rows: number -> element, new rows inserted in
    order); the references of the formulas overwritten."""
    dropped = set()
    for r in sorted(by_row):
        row = rows.get(r)
        if row is None:
            if all(_is_blank(v) for v in by_row[r].values()):
                continue  # nothing to clear in a row that does not exist
            row = _insert_row(data, rows, r)
        row.attrib.pop("spans", None)  # a hint only; stale spans are worse than none
        existing = {}
        for c in row.iter(_C):
            m = _REF.match(c.get("r", ""))
            if m:
                existing[col_number(m.group(1))] = c
        for col in sorted(by_row[r]):
            cell = existing.get(col)
            value = by_row[r][col]
            if cell is None:
                if _is_blank(value):
                    continue
                cell = _insert_cell(row, existing, r, col, col_styles)
            _write(cell, r, col, value, fmt, dropped)
    return dropped


def _write(cell, row: int, col: int, value, fmt, dropped: set[str]) -> None:
    """One written cell: its value (the reference noted when a formula was overwritten), its format."""
    if _set_value(cell, value):
        dropped.add(cell.get("r"))
    if fmt is not None:
        s = fmt.style(cell.get("s"), row, col, value)
        if s != cell.get("s"):
            cell.set("s", s)


# ---------------------------------------------------------------- the streamed patch
# The byte patterns below find the <sheetData> element and its <row> start tags.  They read the
# markup as a parser does only when no comment, CDATA section, DTD, processing instruction or
# character reference inside a tag can hide or fake a tag, and when no shared, array or data-table
# formula ties rows together (overwriting one cell of those changes other rows): any of these takes
# the whole-tree path.  In text, a literal "<" cannot occur (it is always &lt;), so every "<row" the
# pattern finds is a row element.
_PROCESSING = re.compile(rb"<\?(?!xml[\s?])")
_REF_IN_TAG = re.compile(rb"<[^>]*&#")
_LINKED_FORMULA = re.compile(rb"""\st\s*=\s*["'](?:shared|array|dataTable)["']""")
_SHEET_DATA = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)sheetData(?=[\s/>])[^>]*?(/?)>")
_XMLNS = re.compile(rb"""\s(xmlns(?::[A-Za-z_][\w.-]*)?)\s*=\s*(["'])(.*?)\2""")
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)([^>]*)>")
_ANY_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?=[\s/>])")
_R_ATTR = re.compile(rb"""\sr\s*=\s*(["'])(.*?)\1""")
_REF_ATTR = re.compile(rb"""(\sref\s*=\s*)(["'])(.*?)\2""")
CHUNK_ROWS = 512  # rows parsed at a time: small enough to bound memory, large enough to amortise


def _split_sheet(xml: bytes):
    """Where the streamed patch cuts a part it can read: (start of <sheetData>, start and end of
    its body, its start tag, the start tag to parse rows under, the end tag, whether it was an
    empty <sheetData/>); None for a part that needs the whole tree.  What follows </sheetData> is
    copied as it is, so only what comes before it is looked at."""
    m = _SHEET_DATA.search(xml)
    root = _ROOT_TAG.search(xml)
    if m is None or root is None:
        return None
    close = b"</" + m.group(1) + b"sheetData>"
    empty = bool(m.group(2))
    body_start, body_end = m.end(), m.end()
    if not empty:
        body_end = xml.find(close, m.end())
        if body_end < 0:
            return None
    def has(word: bytes) -> bool:
        return xml.find(word, 0, body_end) >= 0

    # "!" and "&" first: single rare bytes are found at memchr speed, "<!" and "&#" (a first byte
    # that is everywhere) at a tenth of it
    if has(b"!") and has(b"<!") or _PROCESSING.search(xml, 0, body_end) or (
            has(b"&") and has(b"&#") and _REF_IN_TAG.search(xml, 0, body_end)):
        return None
    if any(map(has, (b"shared", b"array", b"dataTable"))) and _LINKED_FORMULA.search(xml, 0, body_end):
        return None
    prefix = m.group(1)
    # every "row" in the body a start or end tag with <sheetData>'s prefix (three fast counts): no
    # row can have another; else the patterns count the rows each way
    count = xml.count
    if count(b"row", body_start, body_end) != count(b"<" + prefix + b"row", body_start, body_end) + count(
            b"</" + prefix + b"row>", body_start, body_end) and len(_ANY_ROW.findall(xml, body_start, body_end)) != len(
            re.findall(rb"<" + re.escape(prefix) + rb"row(?=[\s/>])", xml[body_start:body_end])):
        return None  # rows written with another prefix than <sheetData>'s
    # rows are parsed under a copy of the real start tag with the root's namespace declarations
    own = {x.group(1) for x in _XMLNS.finditer(m.group(0))}
    decls = b"".join(x.group(0) for x in _XMLNS.finditer(root.group(2)) if x.group(1) not in own)
    opening = m.group(0)[:-1].rstrip(b"/").rstrip() + b">"
    return m.start(), body_start, body_end, opening, opening[:-1] + decls + b">", close, empty


def _patch_stream(xml: bytes, split, cells, sheet: str, fmt, ahead: _Deflating | None = None) -> tuple[bytes, set[str]]:
    tag_start, body_start, body_end, opening, wrapper_tag, close, empty = split
    starts, numbers = _row_starts(xml, body_start, body_end, close[2:-len(b"sheetData>")], sheet)
    if any(b <= a for a, b in zip(numbers, numbers[1:])):  # rows out of order: the tree puts new ones right
        return _patch_tree(xml, cells, sheet, fmt)
    by_row = _by_row(cells)
    # the rows to parse: existing rows written to, and the row after which each new row goes
    at = {n: i for i, n in enumerate(numbers)}
    attach: dict[int, list[int]] = defaultdict(list)  # row index -> new rows inserted in its run
    for r in by_row:
        if r not in at and not all(_is_blank(v) for v in by_row[r].values()):
            attach[max(bisect.bisect_left(numbers, r) - 1, 0) if numbers else -1].append(r)
    touched = sorted({at[r] for r in by_row if r in at} | set(attach))
    if not touched:
        return _head(xml, tag_start, cells) + xml[tag_start:], set()
    col_styles = _column_styles(parse(xml[:tag_start] + b"</" + _ROOT_TAG.search(xml).group(1) + b">"))
    ends = starts[1:] + [body_end]
    # one output buffer, and the part's untouched bytes written from a view of it: a large sheet is
    # held twice at most (in and out), not also as a body copy, a list of pieces and their join
    view = memoryview(xml)
    out = io.BytesIO() if ahead is None else _Tee(ahead)
    out.write(_head(xml, tag_start, cells))
    out.write(view[tag_start:body_start] if not empty else opening)
    dropped, pos, i = set(), body_start, 0
    while i < len(touched):  # runs of consecutive rows, at most CHUNK_ROWS each
        run = [touched[i]]
        while i + 1 < len(touched) and touched[i + 1] == run[-1] + 1 and len(run) < CHUNK_ROWS:
            i += 1
            run.append(touched[i])
        i += 1
        lo = starts[run[0]] if run[0] >= 0 else body_start
        hi = ends[run[-1]] if run[-1] >= 0 else body_end
        out.write(view[pos:lo])
        spliced = None if close != b"</sheetData>" or any(k in attach for k in run) else \
            _splice_run(xml, [(starts[k], ends[k], numbers[k]) for k in run], by_row, fmt)
        if spliced is not None:
            out.write(spliced)
            pos = hi
            continue
        try:
            wrapper = parse(wrapper_tag + xml[lo:hi] + close)
        except etree.XMLSyntaxError:  # cut where the parser sees no row boundary
            raise _NotStreamable from None
        expected = numbers[run[0]:run[-1] + 1] if run[0] >= 0 else []
        found = list(wrapper.iterchildren(_ROW))
        if len(found) != len(expected):  # a row the byte pattern did not see as the parser does
            raise _NotStreamable
        rows = {}
        for el, n in zip(found, expected):
            r = el.get("r")
            if r is None:
                el.set("r", str(n))
            elif r != str(n):
                raise _NotStreamable
            rows[n] = el
        wanted = {n: by_row[n] for n in rows if n in by_row}
        for k in run:
            wanted.update({n: by_row[n] for n in attach.get(k, ())})
        dropped |= _patch_run(wrapper, rows, wanted, col_styles, fmt, sheet)
        text = etree.tostring(wrapper)
        if len(wrapper):
            out.write(memoryview(text)[text.index(b">") + 1: text.rindex(b"</")])
        pos = hi
    out.write(view[pos:body_end])
    if empty:
        out.write(close)
    out.write(view[body_end:])
    return out.getvalue(), dropped


# A row the splice below writes into: unprefixed, a flat list of cells each empty or holding one
# plain <v> (how Excel and XlsxWriter write numbers, shared strings and blank formatted cells), so
# every <c r="…" in it is a cell of that row; and written as lxml writes it back (double quotes,
# <c/> not <c></c>, no character or entity references), so the part's bytes are those of parsing
# and re-serialising the run (except non-ASCII in a row's attributes, which the splice keeps as is).
# (Possessive quantifiers: nothing here can match another way, and they halve the time of a match.)
_SIMPLE_CELL = (rb'<c r="[A-Z]{1,3}+[0-9]{1,7}+"(?: s="([0-9]{1,9}+)")?+(?: t="[A-Za-z]{1,9}+")?+'
                rb'(?:/>|><v>[^<&>\r]++</v></c>)')
_SIMPLE_ROW = re.compile(rb'<row(?: [\w:.-]++="[^"<&>\t\n\r]*+")*+>(?:' + _SIMPLE_CELL + rb')*+</row>[ \t\n]*+')
_ONE_CELL = re.compile(_SIMPLE_CELL)
_SPANS = re.compile(rb' spans="[^"]*"')


def _splice_run(xml: bytes, rows: list[tuple[int, int, int]], by_row: dict, fmt) -> bytes | None:
    """A run of rows (start, end, number) with their cells written straight into the bytes: the
    document _patch_run would give (tests compare the two), without parsing and re-serialising the
    run, which is most of a large sheet's save.  Only for rows _SIMPLE_ROW reads whole and values
    that are a finite float or a blank, written into cells that exist (a blank may also find none);
    anything else returns None and the run goes through lxml."""
    pieces, view, letters = [], memoryview(xml), {}
    for lo, hi, number in rows:
        tag_end = xml.find(b">", lo, hi) + 1
        if not _SIMPLE_ROW.fullmatch(xml, lo, hi) or xml.find(b' r="%d"' % number, lo, tag_end) < 0:
            return None
        edits = []
        values = by_row[number]
        for col in sorted(values):
            value = values[col]
            blank = _is_blank(value)
            if not blank and not (type(value) is float and math.isfinite(value)):
                return None
            if col not in letters:
                letters[col] = col_letter(col).encode()
            ref = b"%s%d" % (letters[col], number)
            needle = b'<c r="%s"' % ref
            at = xml.find(needle, tag_end, hi)
            if at < 0:
                if blank:
                    continue  # nothing to clear in a cell that does not exist
                return None
            if xml.find(needle, at + len(needle), hi) >= 0:  # the same cell twice: the tree decides which
                return None
            cell = _ONE_CELL.match(xml, at, hi)
            if cell is None:
                return None
            style = cell.group(1) and cell.group(1).decode()
            if fmt is not None:
                style = fmt.style(style, number, col, value)
            new = needle + (b' s="%s"' % style.encode() if style is not None else b"") + \
                (b"/>" if blank else b"><v>%s</v></c>" % _number_text(value).encode())
            edits.append((at, cell.end(), new))
        pieces.append(_SPANS.sub(b"", xml[lo:tag_end], count=1))  # a hint only; stale spans are worse than none
        pos = tag_end
        for at, end, new in sorted(edits):
            pieces += (view[pos:at], new)
            pos = end
        pieces.append(view[pos:hi])
    return b"".join(pieces)


def _head(xml: bytes, tag_start: int, cells) -> bytes:
    """The bytes before <sheetData>, with <dimension ref> grown to the cells written."""
    head = xml[:tag_start]
    m = re.search(rb"<(?:[A-Za-z_][\w.-]*:)?dimension(?=[\s/>])[^>]*>", head)
    if m is None or not cells:
        return head
    ref = _REF_ATTR.search(m.group(0))
    old = ref.group(3).decode("ascii", "replace") if ref else "A1"
    grown = _grown_dimension(old, cells).encode()
    tag = (m.group(0)[:ref.start(3)] + grown + m.group(0)[ref.end(3):]) if ref else \
        m.group(0).replace(b"dimension", b'dimension ref="' + grown + b'"', 1)
    return head[:m.start()] + tag + head[m.end():]


def _patch_run(wrapper, rows: dict, wanted: dict, col_styles, fmt, sheet: str) -> set[str]:
    """_patch_rows for a run of rows, touching in Python only the cells written.  A written cell is
    looked for first where a row that has every column keeps it (Excel and XlsxWriter write a
    formatted row whole), then along its row; a row that needs more (a cell to insert, cells without
    r, a new row) goes through _patch_rows after its cells are checked.  Row by row in order, as
    _patch_rows goes: a new cell format is numbered when a cell first asks for it."""
    dropped = set()
    for r in sorted(wanted):
        values, row = wanted[r], rows.get(r)
        found = _written_cells(row, r, values) if row is not None else None
        if found is None:
            if row is not None:
                _explicit_cells(row, r, sheet)
            dropped |= _patch_rows(wrapper, rows, {r: values}, col_styles, fmt)
            continue
        row.attrib.pop("spans", None)  # a hint only; stale spans are worse than none
        for c in sorted(values):
            cell = found.get(c)
            if cell is None:
                continue  # a blank into a cell that does not exist: nothing to clear
            _write(cell, r, c, values[c], fmt, dropped)
    return dropped


def _written_cells(row, r: int, values: dict) -> dict | None:
    """Column -> existing cell for the columns written in this row; None when the row needs
    _patch_rows (a non-blank value for a cell that does not exist, or a cell without r)."""
    found, scanned = {}, None
    for c, value in values.items():
        ref = f"{col_letter(c)}{r}"
        cell = row[c - 1] if c <= len(row) else None
        if cell is None or cell.get("r") != ref:
            if scanned is None:
                scanned = {}
                for el in row.iterchildren(_C):
                    key = el.get("r")
                    if key is None:
                        return None
                    scanned.setdefault(key, el)
            cell = scanned.get(ref)
        if cell is not None:
            found[c] = cell
        elif not _is_blank(value):
            return None
    return found


def _row_starts(xml: bytes, body_start: int, body_end: int, prefix: bytes, sheet: str) -> tuple[list[int], list[int]]:
    """Offset (in the part) and number of every <row> in the sheetData body; the numbers checked as the tree path does.
    A row whose first attribute is r="digits" (how Excel and XlsxWriter write every row) is read
    by the pattern itself; any other is read as before, by its attributes."""
    starts, numbers, last = [], [], 0
    row_tag = re.compile(rb"<" + re.escape(prefix) + rb'row(?=[\s/>])(?: r="([1-9][0-9]{0,6})"(?=[\s/>]))?([^>]*)>')
    for m in row_tag.finditer(xml, body_start, body_end):
        text = m.group(1)
        if text is None:
            r = _R_ATTR.search(m.group(2))
            text = r and r.group(2)
        if text is None:
            last += 1
        elif text.isdigit() and 0 < (number := int(text)) <= 1048576:  # bytes.isdigit: ASCII digits only
            last = number
        else:
            raise _broken(sheet, f"行号“{text.decode('ascii', 'replace')[:20]}”")
        if numbers and last == numbers[-1]:
            raise _broken(sheet, f"行号{last}（重复）")
        starts.append(m.start())
        numbers.append(last)
    return starts, numbers


def _broken(sheet: str, what: str) -> PatchError:
    return PatchError(f"工作表“{sheet}”的{what}无效，文件已损坏，请在 Excel 中打开并另存后重试")


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _explicit_refs(data, sheet: str = "") -> None:
    """Rows and cells may omit r (position implied); give them one so cells can be found.
    A reference that is present but unusable means a damaged sheet: refuse rather than guess."""
    last_row, seen = 0, set()
    for row in data.iter(_ROW):
        r = row.get("r")
        if r is None:
            last_row += 1
            row.set("r", str(last_row))
        elif r.isdigit() and 0 < int(r) <= 1048576:
            last_row = int(r)
        else:
            raise _broken(sheet, f"行号“{r[:20]}”")
        if last_row in seen:
            raise _broken(sheet, f"行号{last_row}（重复）")
        seen.add(last_row)
        _explicit_cells(row, last_row, sheet)


def _explicit_cells(row, number: int, sheet: str) -> None:
    last_col = 0
    for c in row.iter(_C):
        ref = c.get("r")
        if ref is None:
            last_col += 1
            c.set("r", f"{col_letter(last_col)}{number}")
            continue
        m = _REF.match(ref)
        if not m or int(m.group(2)) != number or not 0 < col_number(m.group(1)) <= 16384:
            raise _broken(sheet, f"单元格引用“{ref[:20]}”（第{number}行）")
        last_col = col_number(m.group(1))


def _range(ref: str) -> tuple[int, int, int, int]:
    a, _, b = ref.partition(":")
    (c1, r1), (c2, r2) = _split_ref(a), _split_ref(b or a)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _check_arrays(data, cells, sheet: str) -> None:
    """Writing into a multi-cell array formula (or data table) would break it: refuse."""
    for f in data.iter(_F):
        if f.get("t") not in ("array", "dataTable") or not f.get("ref"):
            continue
        r1, c1, r2, c2 = _range(f.get("ref"))
        if (r1, c1) == (r2, c2):
            continue
        hit = [(r, c) for r, c in cells if r1 <= r <= r2 and c1 <= c <= c2]
        if hit:
            where = f"工作表“{sheet}”" if sheet else ""
            raise PatchError(f"{where}单元格{col_letter(hit[0][1])}{hit[0][0]}位于数组公式区域{f.get('ref')}内，"
                             f"写入会破坏该数组公式；请先删除该数组公式后重试")


def _unshare_overwritten_masters(data, targets: set[str]) -> None:
    """A shared formula's text lives in its first cell only.  When that cell is overwritten,
    give every other cell of the group its own formula (translated to its position)."""
    masters = {}
    members = defaultdict(list)
    for f in data.iter(_F):
        if f.get("t") != "shared" or f.get("si") is None:
            continue
        cell = f.getparent()
        if f.get("ref") is not None and f.text:
            masters[f.get("si")] = (cell.get("r"), f)
        else:
            members[f.get("si")].append(cell)
    for si, (ref, master) in masters.items():
        if ref not in targets:
            continue
        # a well-kept formula tokenizer; imported only here, since openpyxl (+PIL) costs
        # ~0.2-0.4 s of start-up that `dtg-xl evaluate` should not pay for every workbook
        from openpyxl.formula.translate import Translator
        for cell in members.get(si, ()):
            if cell.get("r") in targets:
                continue
            f = cell.find(_F)
            f.text = Translator("=" + master.text, origin=ref).translate_formula(cell.get("r"))[1:]
            for attr in ("t", "si", "ref"):
                f.attrib.pop(attr, None)


def _column_styles(root) -> list[tuple[int, int, str]]:
    cols = root.find(f"{{{NS}}}cols")
    out = []
    if cols is not None:
        for col in cols.iter(f"{{{NS}}}col"):
            if col.get("style") and col.get("min") and col.get("max"):
                out.append((int(col.get("min")), int(col.get("max")), col.get("style")))
    return out


def _insert_row(data, rows: dict, r: int):
    return _insert_ordered(data, rows, r, etree.Element(_ROW, r=str(r)))


def _insert_ordered(parent, index: dict, key: int, element):
    """Put element into parent before the first indexed sibling with a larger key (rows by number, cells by
    column: the order Excel requires), and index it."""
    later = [k for k in index if k > key]
    if later:
        index[min(later)].addprevious(element)
    else:
        parent.append(element)
    index[key] = element
    return element


def _insert_cell(row, existing: dict, r: int, col: int, col_styles=()):
    """A new cell takes the style Excel would show there: the row's, else the column's."""
    cell = etree.Element(_C, r=f"{col_letter(col)}{r}")
    style = row.get("s") if row.get("customFormat") in ("1", "true") else None
    if style is None:
        style = next((s for lo, hi, s in col_styles if lo <= col <= hi), None)
    if style and style != "0":
        cell.set("s", style)
    return _insert_ordered(row, existing, col, cell)


def _set_value(cell, value) -> bool:
    """Replace the cell's content, keeping its style. True if it held a formula."""
    had_formula, number = False, type(value) is float and math.isfinite(value)  # the common case (ABC checks are slow)
    kept = None  # a plain <v> a number goes into in place (consolidation's cells): the bytes a new one would give
    if len(cell):  # most written cells are empty (a result block's blanks): nothing to look for
        first = cell[0]
        if number and len(cell) == 1 and first.tag == _V and not first.attrib and first.tail is None \
                and first.prefix == cell.prefix:
            kept = first
        else:
            had_formula = cell.find(_F) is not None
            for child in list(cell):
                if child.tag in (_V, _F, _IS):
                    cell.remove(child)
    attrib = cell.attrib
    if len(attrib) > ("r" in attrib) + ("s" in attrib):  # more than r and s: a type or metadata to drop
        for attr in ("t", "cm", "vm"):
            attrib.pop(attr, None)
    if _is_blank(value):
        return had_formula
    if number:
        (kept if kept is not None else _child(cell, _V)).text = _number_text(value)
        return had_formula
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        cell.set("t", "b")
        _child(cell, _V).text = "1" if value else "0"
    elif isinstance(value, numbers.Real):
        value = float(value) if not isinstance(value, numbers.Integral) else int(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise PatchError(f"单元格{cell.get('r')}的值不是有限数字")
        _child(cell, _V).text = _number_text(value)
    else:
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, date):
            value = value.isoformat()
        # inline string: never a formula, whatever it starts with (= + - @)
        text = _ILLEGAL_XML.sub("", str(value))
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        cell.set("t", "inlineStr")
        t = etree.SubElement(_child(cell, _IS), _T)
        t.text = text
        if text != text.strip() or "\n" in text:
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return had_formula


def _number_text(value: float | int) -> str:
    return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))


def _child(cell, tag):
    """Append a value child where the schema wants it: before any extLst."""
    ext = cell.find(_EXT)
    if ext is None:
        return etree.SubElement(cell, tag)
    el = etree.Element(tag)
    ext.addprevious(el)
    return el


def _grown_dimension(ref: str, cells) -> str:
    """A <dimension> ref grown to cover the cells written."""
    refs = ref.split(":")
    (c1, r1), (c2, r2) = (_split_ref(refs[0]), _split_ref(refs[-1]))
    rows = [r for r, _ in cells] + [r1, r2]
    cols = [c for _, c in cells] + [c1, c2]
    return f"{col_letter(min(cols))}{min(rows)}:{col_letter(max(cols))}{max(rows)}"


def _split_ref(ref: str) -> tuple[int, int]:
    m = _REF.match(ref.replace("$", ""))
    return (col_number(m.group(1)), int(m.group(2))) if m else (1, 1)
