"""Write cell values into an .xlsx/.xlsm by patching only the sheets written to.

openpyxl load→save rewrites every part and drops cached formula results, x14 dropdowns,
sparklines, text boxes and (without keep_vba) macros.  Here every other zip entry is copied
byte for byte; in a written sheet only the target ``<c>`` elements change (their style ``s``
kept), values go in as numbers or inline strings, and an overwritten formula's calcChain
entry is removed.  No library patches cells in place this way, hence by hand (lxml keeps
namespace prefixes, which Excel's ``mc:Ignorable`` needs).
"""
from __future__ import annotations

import math
import os
import re
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath

from lxml import etree

from .fileio import atomic_output

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _ROW, _V, _F, _IS, _T = (f"{{{NS}}}{n}" for n in ("c", "row", "v", "f", "is", "t"))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)
_REF = re.compile(r"^([A-Z]+)(\d+)$")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class PatchError(ValueError):
    pass


def col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


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
        path = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        parts[sheet.get("name")] = os.path.normpath(path).replace(os.sep, "/")
    return parts


def _sheet_ids(zf: zipfile.ZipFile) -> dict[str, str]:
    wb = parse(zf.read("xl/workbook.xml"))
    return {s.get("name"): s.get("sheetId") for s in wb.iter(f"{{{NS}}}sheet")}


def patch_workbook(src: str | Path, dst: str | Path, writes: dict[str, dict[tuple[int, int], object]]) -> None:
    """Copy src to dst with ``writes[sheet][(row, col)] = value`` applied (atomically)."""
    src, dst = Path(src), Path(dst)
    with zipfile.ZipFile(src) as zin:
        parts = sheet_parts(zin)
        ids = _sheet_ids(zin)
        missing = [name for name in writes if name not in parts]
        if missing:
            raise PatchError(f"工作簿中没有工作表：{'、'.join(missing)}")
        new_parts: dict[str, bytes] = {}
        dropped_formulas: dict[str, set[str]] = {}
        for name, cells in writes.items():
            xml, dropped = _patch_sheet(zin.read(parts[name]), cells)
            new_parts[parts[name]] = xml
            if dropped:
                dropped_formulas[ids[name]] = dropped
        names = zin.namelist()
        if dropped_formulas and "xl/calcChain.xml" in names:
            new_parts["xl/calcChain.xml"] = _prune_calc_chain(zin.read("xl/calcChain.xml"), dropped_formulas)
        if _has_formulas(zin, parts.values()):
            new_parts["xl/workbook.xml"] = _full_calc_on_load(zin.read("xl/workbook.xml"))
        atomic_write_zip(dst, zin, new_parts)


def atomic_write_zip(dst: Path, zin: zipfile.ZipFile, replaced: dict[str, bytes]) -> None:
    """Write a copy of zin with some parts replaced, atomically; other parts keep their bytes."""
    with atomic_output(dst) as tmp, zipfile.ZipFile(tmp, "w") as zout:
        for info in zin.infolist():
            data = replaced.get(info.filename)
            if data is None:
                data = zin.read(info.filename)
            zout.writestr(info, data, compress_type=info.compress_type)


def _has_formulas(zin: zipfile.ZipFile, sheet_paths) -> bool:
    return any(re.search(rb"<(?:\w+:)?f[ >]", zin.read(p)) for p in sheet_paths if p in zin.namelist())


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


def _prune_calc_chain(xml: bytes, dropped: dict[str, set[str]]) -> bytes:
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
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _patch_sheet(xml: bytes, cells: dict[tuple[int, int], object]) -> tuple[bytes, set[str]]:
    root = parse(xml)
    data = root.find(f"{{{NS}}}sheetData")
    if data is None:
        raise PatchError("工作表缺少sheetData")
    rows = {int(r.get("r")): r for r in data.iter(_ROW) if r.get("r")}
    by_row = defaultdict(dict)
    for (r, c), value in cells.items():
        by_row[r][c] = value
    dropped = set()
    for r in sorted(by_row):
        row = rows.get(r)
        if row is None:
            row = _insert_row(data, rows, r)
        row.attrib.pop("spans", None)  # a hint only; stale spans are worse than none
        existing = {}
        for c in row.iter(_C):
            m = _REF.match(c.get("r", ""))
            if m:
                existing[col_number(m.group(1))] = c
        for col in sorted(by_row[r]):
            cell = existing.get(col)
            if cell is None:
                cell = _insert_cell(row, existing, r, col)
            if _set_value(cell, by_row[r][col]):
                dropped.add(cell.get("r"))
    _grow_dimension(root, cells)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), dropped


def _insert_row(data, rows: dict, r: int):
    row = etree.Element(_ROW, r=str(r))
    later = [k for k in rows if k > r]
    if later:
        rows[min(later)].addprevious(row)
    else:
        data.append(row)
    rows[r] = row
    return row


def _insert_cell(row, existing: dict, r: int, col: int):
    cell = etree.Element(_C, r=f"{_letters(col)}{r}")
    style = row.get("s") if row.get("customFormat") == "1" else None
    if style:
        cell.set("s", style)
    later = [k for k in existing if k > col]
    if later:
        existing[min(later)].addprevious(cell)
    else:
        row.append(cell)
    existing[col] = cell
    return cell


def _set_value(cell, value) -> bool:
    """Replace the cell's content, keeping its style. True if it held a formula."""
    had_formula = cell.find(_F) is not None
    if had_formula and cell.find(_F).get("t") == "shared" and cell.find(_F).get("ref"):
        raise PatchError(f"单元格{cell.get('r')}是共享公式的首格，覆盖会破坏其他公式，请先改为普通公式")
    for child in list(cell):
        if child.tag in (_V, _F, _IS):
            cell.remove(child)
    for attr in ("t", "cm", "vm"):
        cell.attrib.pop(attr, None)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return had_formula
    if isinstance(value, bool):
        cell.set("t", "b")
        _child(cell, _V).text = "1" if value else "0"
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise PatchError(f"单元格{cell.get('r')}的值不是有限数字")
        _child(cell, _V).text = repr(float(value)) if isinstance(value, float) and not value.is_integer() \
            else str(int(value))
    else:
        text = _ILLEGAL_XML.sub("", str(value))
        cell.set("t", "inlineStr")
        t = etree.SubElement(_child(cell, _IS), _T)
        t.text = text
        if text != text.strip():
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
    dim.set("ref", f"{_letters(min(cols))}{min(rows)}:{_letters(max(cols))}{max(rows)}")


def _split_ref(ref: str) -> tuple[int, int]:
    m = _REF.match(ref.replace("$", ""))
    return (col_number(m.group(1)), int(m.group(2))) if m else (1, 1)
