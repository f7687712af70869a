"""Cell styles with another number format: what ``patch_workbook`` uses to give result cells
back the template's own number format (issue 14: a custom format such as ``"75.00"`` or
``;;;"中"`` on 汇总!B7 would show a forged total while the cell holds the true one).

``restyle(styles_xml, requests)`` appends, for each (old cell-style index, format code), a copy of
that cell style (font, fill, border, alignment, protection kept) whose number format is the code;
built-in codes use their built-in id, others get a ``<numFmt>``.  Written by hand: lxml edits of
one part (openpyxl would rewrite the whole package).
"""
from __future__ import annotations

import copy

from lxml import etree

from dtg_xl.xlsx.cells import BUILTIN_FORMATS

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_Q = {n: f"{{{NS}}}{n}" for n in ("numFmts", "numFmt", "cellXfs", "xf")}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
_BUILTIN_ID = {code.lower(): i for i, code in BUILTIN_FORMATS.items()}


def restyle(styles_xml: bytes, requests: list[tuple[int, str]]) -> tuple[bytes, dict[tuple[int, str], int]]:
    """New styles part bytes and (old index, code) -> new cell-style index, appended in the order asked."""
    root = etree.fromstring(styles_xml, _PARSER)
    fmts = root.find(_Q["numFmts"])
    if fmts is None:
        fmts = etree.Element(_Q["numFmts"])
        root.insert(0, fmts)  # schema order: numFmts comes first
    custom = {}
    for f in fmts.iter(_Q["numFmt"]):
        try:
            custom.setdefault((f.get("formatCode") or "").lower(), int(f.get("numFmtId")))
        except (TypeError, ValueError):
            continue
    xfs = root.find(_Q["cellXfs"])
    if xfs is None:
        xfs = etree.SubElement(root, _Q["cellXfs"])
    existing = [x for x in xfs if x.tag == _Q["xf"]]
    out = {}
    for old, code in requests:
        key = code.lower()
        fid = _BUILTIN_ID.get(key, custom.get(key))
        if fid is None:
            fid = max([163, *custom.values()]) + 1
            etree.SubElement(fmts, _Q["numFmt"], numFmtId=str(fid), formatCode=code)
            custom[key] = fid
        if 0 <= old < len(existing):
            xf = copy.deepcopy(existing[old])
        else:
            xf = etree.Element(_Q["xf"], numFmtId="0", fontId="0", fillId="0", borderId="0", xfId="0")
        xf.set("numFmtId", str(fid))
        xf.set("applyNumberFormat", "1")
        xfs.append(xf)
        out[(old, code)] = len(existing)
        existing.append(xf)
    fmts.set("count", str(len(fmts)))
    xfs.set("count", str(len(existing)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), out
