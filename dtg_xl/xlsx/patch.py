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
"""
from __future__ import annotations

import html
import math
import numbers
import re
import zipfile
import zlib
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from dtg_xl.xlsx.parts import resolve_target  # noqa: F401  (the one resolver; importers use it from here too)
from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import col_letter, col_number
from dtg_xl.xlsx.atomic import atomic_output

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _ROW, _V, _F, _IS, _T = (f"{{{NS}}}{n}" for n in ("c", "row", "v", "f", "is", "t"))
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
    wb = parse(zf.read("xl/workbook.xml"))
    rels = parse(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG_REL_NS}}}Relationship")}
    parts = {}
    for sheet in wb.iter(f"{{{NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{REL_NS}}}id"), "")
        parts[sheet.get("name")] = resolve_target("xl/workbook.xml", target)
    return parts


def _sheet_ids(zf: zipfile.ZipFile) -> dict[str, str]:
    wb = parse(zf.read("xl/workbook.xml"))
    return {s.get("name"): s.get("sheetId") for s in wb.iter(f"{{{NS}}}sheet")}


def patch_workbook(src: str | Path, dst: str | Path, writes: dict[str, dict[tuple[int, int], object]],
                   formats: dict[str, dict[tuple[int, int], str]] | None = None) -> list[str]:
    """Copy src to dst with ``writes[sheet][(row, col)] = value`` applied (atomically);
    ``formats[sheet][(row, col)] = code`` gives those cells that number format (their style copied).

    Returns the names of the parts whose bytes changed (or were removed)."""
    src, dst = Path(src), Path(dst)
    with zipfile.ZipFile(src) as zin:
        parts = sheet_parts(zin)
        ids = _sheet_ids(zin)
        names = zin.namelist()
        missing = [name for name in writes if name not in parts or parts[name] not in names]
        if missing:
            raise PatchError(f"工作簿中没有工作表：{'、'.join(missing)}")
        new_parts: dict[str, bytes | None] = {}
        dropped_formulas: dict[str, set[str]] = {}
        restyled = _restyle(zin, parts, formats or {}, new_parts)
        for name, cells in writes.items():
            if not cells:
                continue
            xml, dropped = _patch_sheet(zin.read(parts[name]), cells, name, restyled.get(name, {}))
            new_parts[parts[name]] = xml
            if dropped:
                dropped_formulas[ids[name]] = dropped
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
    write_copy(src, dst, new_parts)
    return sorted(new_parts)


def _restyle(zin, parts: dict[str, str], formats: dict, new_parts: dict) -> dict[str, dict[tuple[int, int], int]]:
    """Style index per cell for the requested number formats (the styles part updated in new_parts)."""
    from dtg_xl.xlsx.styles import restyle

    wanted = {name: cells for name, cells in formats.items() if cells and name in parts}
    if not wanted:
        return {}
    rels = parse(zin.read("xl/_rels/workbook.xml.rels"))
    styles_part = next((resolve_target("xl/workbook.xml", r.get("Target") or "")
                        for r in rels.iter(f"{{{PKG_REL_NS}}}Relationship")
                        if (r.get("Type") or "").endswith("/styles")), None)
    if not styles_part or styles_part not in zin.namelist():
        return {}
    old = {name: _cell_styles(zin.read(parts[name]), set(cells)) for name, cells in wanted.items()}
    requests = {(old[name].get(key, 0), code) for name, cells in wanted.items() for key, code in cells.items()}
    new_parts[styles_part], index = restyle(zin.read(styles_part), requests)
    return {name: {key: index[(old[name].get(key, 0), code)] for key, code in cells.items()}
            for name, cells in wanted.items()}


def _cell_styles(xml: bytes, keys: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Style index (s) of the given cells, by their r attributes."""
    out = {}
    for cell in parse(xml).iter(_C):
        m = _REF.match(cell.get("r", ""))
        s = cell.get("s")
        if m and s and s.isdigit():
            key = (int(m.group(2)), col_number(m.group(1)))
            if key in keys:
                out[key] = int(s)
    return out


def write_copy(src: Path, dst: Path, replaced: dict[str, bytes | None]) -> None:
    """Like atomic_write_zip, but opens src itself and closes it before the rename, so that
    dst may be src even on Windows (which cannot replace a file that is still open)."""
    with atomic_output(dst) as tmp:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w") as zout:
            _copy_parts(zin, zout, replaced)


def atomic_write_zip(dst: Path, zin: zipfile.ZipFile, replaced: dict[str, bytes | None]) -> None:
    """Write a copy of zin with some parts replaced (None: removed), atomically; other parts
    keep their bytes, order and compression."""
    with atomic_output(dst) as tmp, zipfile.ZipFile(tmp, "w") as zout:
        _copy_parts(zin, zout, replaced)


def _copy_parts(zin: zipfile.ZipFile, zout: zipfile.ZipFile, replaced: dict[str, bytes | None]) -> None:
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
        zout.writestr(out, data, compress_type=info.compress_type)


def _copy_compressed(zin: zipfile.ZipFile, zout: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipInfo) -> bool:
    """Copy an untouched member's compressed bytes as they are (no inflate, no deflate), with the
    local header and directory entry ``writestr`` would write for it; the member's CRC is checked
    on the way (the pre-flight read it once already).  zipfile has no public raw copy, so this
    uses its header helpers; False (copy by writestr instead) for anything unusual: zip64,
    encryption, a method other than stored/deflated, or a lying local header."""
    import struct

    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
            or max(info.file_size, info.compress_size, info.header_offset, zout.fp.tell()) >= zipfile.ZIP64_LIMIT:
        return False
    fp = zin.fp
    fp.seek(info.header_offset)
    header = fp.read(zipfile.sizeFileHeader)
    if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:
        return False
    fields = struct.unpack(zipfile.structFileHeader, header)
    fp.seek(fields[zipfile._FH_FILENAME_LENGTH] + fields[zipfile._FH_EXTRA_FIELD_LENGTH], 1)
    raw = fp.read(info.compress_size)
    if len(raw) != info.compress_size:
        return False
    data = raw if info.compress_type == zipfile.ZIP_STORED else zlib.decompress(raw, -15)
    if zlib.crc32(data) != info.CRC or len(data) != info.file_size:
        return False
    out.compress_type, out.CRC = info.compress_type, info.CRC
    out.file_size, out.compress_size = info.file_size, info.compress_size
    out.flag_bits = 0  # as writestr on a seekable file: sizes in the local header, no descriptor
    out.header_offset = zout.fp.tell()
    zout.fp.write(out.FileHeader(False))
    zout.fp.write(raw)
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
        if _ANY_FORMULA.search(new_parts.get(parts[sheet]) or b""):
            return True
    risky_names = [n for n, ref in _defined_names(zin) if any(_mentions_sheet(ref, s) for s in written)]
    for sheet, part in parts.items():
        if sheet in written or part not in names:
            continue
        xml = zin.read(part)
        if not _ANY_FORMULA.search(xml):
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
                 styles: dict[tuple[int, int], int] | None = None) -> tuple[bytes, set[str]]:
    root = parse(xml)
    data = root.find(f"{{{NS}}}sheetData")
    if data is None:
        raise PatchError(f"工作表“{sheet}”缺少sheetData，文件已损坏")
    _explicit_refs(data, sheet)
    rows = {int(r.get("r")): r for r in data.iter(_ROW)}
    by_row = defaultdict(dict)
    for (r, c), value in cells.items():
        by_row[r][c] = value
    targets = {f"{col_letter(c)}{r}" for r, c in cells}
    _check_arrays(data, cells, sheet)
    _unshare_overwritten_masters(data, targets)
    col_styles = _column_styles(root)
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
            if _set_value(cell, value):
                dropped.add(cell.get("r"))
            if styles and (r, col) in styles:
                cell.set("s", str(styles[(r, col)]))
    _grow_dimension(root, cells)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), dropped


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _explicit_refs(data, sheet: str = "") -> None:
    """Rows and cells may omit r (position implied); give them one so cells can be found.
    A reference that is present but unusable means a damaged sheet: refuse rather than guess."""
    def broken(what):
        return PatchError(f"工作表“{sheet}”的{what}无效，文件已损坏，请在 Excel 中打开并另存后重试")

    last_row, seen = 0, set()
    for row in data.iter(_ROW):
        r = row.get("r")
        if r is None:
            last_row += 1
            row.set("r", str(last_row))
        elif r.isdigit() and 0 < int(r) <= 1048576:
            last_row = int(r)
        else:
            raise broken(f"行号“{r[:20]}”")
        if last_row in seen:
            raise broken(f"行号{last_row}（重复）")
        seen.add(last_row)
        last_col = 0
        for c in row.iter(_C):
            ref = c.get("r")
            if ref is None:
                last_col += 1
                c.set("r", f"{col_letter(last_col)}{last_row}")
                continue
            m = _REF.match(ref)
            if not m or int(m.group(2)) != last_row or not 0 < col_number(m.group(1)) <= 16384:
                raise broken(f"单元格引用“{ref[:20]}”（第{last_row}行）")
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
    had_formula = cell.find(_F) is not None
    for child in list(cell):
        if child.tag in (_V, _F, _IS):
            cell.remove(child)
    for attr in ("t", "cm", "vm"):
        cell.attrib.pop(attr, None)
    if _is_blank(value):
        return had_formula
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        cell.set("t", "b")
        _child(cell, _V).text = "1" if value else "0"
    elif isinstance(value, numbers.Real):
        value = float(value) if not isinstance(value, numbers.Integral) else int(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise PatchError(f"单元格{cell.get('r')}的值不是有限数字")
        _child(cell, _V).text = repr(value) if isinstance(value, float) and not value.is_integer() \
            else str(int(value))
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


def _child(cell, tag):
    """Append a value child where the schema wants it: before any extLst."""
    el = etree.Element(tag)
    ext = cell.find(f"{{{NS}}}extLst")
    if ext is not None:
        ext.addprevious(el)
    else:
        cell.append(el)
    return el


def _grow_dimension(root, cells):
    dim = root.find(f"{{{NS}}}dimension")
    if dim is None or not cells:
        return
    refs = dim.get("ref", "A1").split(":")
    (c1, r1), (c2, r2) = (_split_ref(refs[0]), _split_ref(refs[-1]))
    rows = [r for r, _ in cells] + [r1, r2]
    cols = [c for _, c in cells] + [c1, c2]
    dim.set("ref", f"{col_letter(min(cols))}{min(rows)}:{col_letter(max(cols))}{max(rows)}")


def _split_ref(ref: str) -> tuple[int, int]:
    m = _REF.match(ref.replace("$", ""))
    return (col_number(m.group(1)), int(m.group(2))) if m else (1, 1)
