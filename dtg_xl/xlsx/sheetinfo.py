"""What a worksheet's XML says that calamine does not: each cell's style (so its number format),
formula, error value, and whether a formula has a cached value; and the number format of every
cell style, from the style part.  Read with lxml (an XML parser: any whitespace, quoting or
attribute order reads the same), entities and DTDs off.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from lxml import etree

from dtg_xl.xlsx.cells import BUILTIN_FORMATS, col_number
from dtg_xl.xlsx.parts import resolve_target

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _ROW, _F, _V, _NUMFMT, _XF, _CELLXFS = (f"{{{NS}}}{n}" for n in ("c", "row", "f", "v", "numFmt", "xf", "cellXfs"))
_SAFE = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


@dataclass
class SheetCells:
    """What the sheet XML says beyond calamine's values, by (row, col) 1-based."""
    styles: dict = field(default_factory=dict)  # style index (s attribute), cells that have one
    formulas: dict = field(default_factory=dict)  # formula text ('' for a shared-formula child)
    errors: dict = field(default_factory=dict)  # error literal of t="e" cells
    uncalculated: set = field(default_factory=set)  # formulas without a cached value


def package_parts(zf: zipfile.ZipFile) -> tuple[dict[str, str], str | None]:
    """Sheet name -> worksheet part, and the styles part, from workbook.xml and its relationships."""
    wb = etree.fromstring(zf.read("xl/workbook.xml"), etree.XMLParser(**_SAFE))
    rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), etree.XMLParser(**_SAFE))
    targets, styles = {}, None
    for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
        target = resolve_target("xl/workbook.xml", rel.get("Target") or "")
        targets[rel.get("Id")] = target
        if (rel.get("Type") or "").endswith("/styles"):
            styles = target
    sheets = {s.get("name"): targets.get(s.get(f"{{{REL_NS}}}id"), "") for s in wb.iter(f"{{{NS}}}sheet")}
    return sheets, styles


def read_number_formats(zf: zipfile.ZipFile, styles_part: str | None) -> list[str]:
    """Format code of every cell style (cellXfs index -> code), from the style part, read once."""
    if not styles_part or styles_part not in zf.namelist():
        return []
    root = etree.fromstring(zf.read(styles_part), etree.XMLParser(**_SAFE))
    custom = {}
    for fmt in root.iter(_NUMFMT):
        try:
            custom[int(fmt.get("numFmtId"))] = fmt.get("formatCode") or ""
        except (TypeError, ValueError):
            continue
    codes = []
    xfs = root.find(_CELLXFS)
    for xf in (xfs if xfs is not None else ()):
        if xf.tag != _XF:
            continue
        try:
            fid = int(xf.get("numFmtId") or 0)
        except ValueError:
            fid = 0
        codes.append(custom.get(fid, BUILTIN_FORMATS.get(fid, "General")))
    return codes


def scan_sheet(data: bytes) -> SheetCells:
    """Styles, formulas, error values and uncalculated formulas of one worksheet part (an XML
    parser, not byte patterns: any whitespace, quoting or attribute order reads the same)."""
    out = SheetCells()
    row_no, col_no = 0, 0
    for event, el in etree.iterparse(io.BytesIO(data), events=("start", "end"), tag=(_ROW, _C), **_SAFE):
        if el.tag == _ROW:
            if event == "start":
                r = el.get("r")
                row_no = int(r) if r and r.isdigit() else row_no + 1
                col_no = 0
            else:
                el.clear()
            continue
        if event == "start":
            continue
        ref = el.get("r") or ""
        letters = ref.rstrip("0123456789").lstrip("$")
        col_no = col_number(letters) if letters.isalpha() and letters.isascii() else col_no + 1
        key = (row_no, col_no)
        style, kind = el.get("s"), el.get("t")
        if style and style.isdigit() and style != "0":
            out.styles[key] = int(style)
        f, v = el.find(_F), el.find(_V)
        if f is not None:
            out.formulas[key] = f.text or ""
            if v is None or (not (v.text or "") and kind not in ("str", "inlineStr")):
                out.uncalculated.add(key)
        if kind == "e":
            out.errors[key] = (v.text or "").strip() if v is not None else ""
        el.clear()
    return out


