"""What a worksheet's XML says that calamine does not: each cell's style (so its number format),
formula, error value, and whether a formula has a cached value; and the number format of every
cell style, from the style part.  Read with lxml (an XML parser: any whitespace, quoting or
attribute order reads the same), entities and DTDs off.

The format codes are kept by the style part's bytes, and the sheet map by the bytes of workbook.xml
and its relationships: unit forms issued from one master share those parts, so a consolidation
worker parses them once, not once per form.
"""
from __future__ import annotations

import functools
import re
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
    sheets, styles = _by_bytes(_package_parts, zf.read("xl/workbook.xml"), zf.read("xl/_rels/workbook.xml.rels"))
    return dict(sheets), styles  # a copy: callers own their dict


def _package_parts(workbook: bytes, rels_bytes: bytes) -> tuple[dict[str, str], str | None]:
    wb = etree.fromstring(workbook, etree.XMLParser(**_SAFE))
    rels = etree.fromstring(rels_bytes, etree.XMLParser(**_SAFE))
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
    return list(_by_bytes(_number_formats, zf.read(styles_part)))  # a copy: callers own their list


def _number_formats(data: bytes) -> tuple[str, ...]:
    root = etree.fromstring(data, etree.XMLParser(**_SAFE))
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
    return tuple(codes)


# Forms issued from one master carry byte-identical style parts, workbook.xml and relationships: a
# consolidation worker parsed the same bytes into the same answer once per form (lxml, ~5% of a
# form for the styles alone).  The answers depend on the bytes alone, so they are kept by the bytes
# (a failed parse raises each time: nothing is kept).
CACHED_BYTES = 256 * 1024  # larger parts are parsed every time (memory: ≤ 8 of these per parser)
_CACHED = {parse: functools.lru_cache(maxsize=8)(parse) for parse in (_number_formats, _package_parts)}


def _by_bytes(parse, *parts: bytes):
    """``parse(*parts)``, kept by the parts' bytes when they are small (callers copy what they own)."""
    return (_CACHED[parse] if sum(map(len, parts)) <= CACHED_BYTES else parse)(*parts)


# a cheap look first (C-speed byte patterns): most input sheets have no formula, no error value and
# no percent-formatted cell, and then the sheet need not be parsed at all.  A character reference
# in the part (which a byte pattern would not decode) always takes the parser's path.
_ANY_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_ERROR_TYPE = re.compile(rb"""\st\s*=\s*["']e["']""")
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
_REF_IN_TAG = re.compile(rb"<[^>]*&#")
_FORMULA_OPEN = (b"<f>", b"<f ", b"<f/", b"<f\t", b"<f\n", b"<f\r")
_AFTER_F = tuple(x[2:] for x in _FORMULA_OPEN)  # what follows "<f" in a formula's start tag
# Two-byte needles whose first byte is everywhere in XML ("<", " ") are slow to search for (hundreds
# of µs in a 128 KB sheet); a single rare byte is found at memchr speed.  Hence the shapes below.


def _spaced_equals(data: bytes) -> bool:
    """Is any ``=`` next to whitespace (an attribute written ``s = "5"``)?"""
    if b" =" in data or b"= " in data:
        return True
    return any(_beside_equals(data, space) for space in (b"\t", b"\n", b"\r"))


def _beside_equals(data: bytes, space: bytes) -> bool:
    """Is ``space`` (tab, CR or LF) next to an ``=``?  They are rare in a part (often only the
    declaration's line end), so their few places are looked at (memchr speed) before two searches
    of the whole part for ``space=`` and ``=space`` (70 ms each in a 64 MB sheet)."""
    at, looked = data.find(space), 0
    while at >= 0 and looked < 32:
        if data[at - 1:at] == b"=" or data[at + 1:at + 2] == b"=":
            return True
        at, looked = data.find(space, at + 1), looked + 1
    return at >= 0 and (space + b"=" in data or b"=" + space in data)


def has_formula(data: bytes, prefixed: re.Pattern = _ANY_FORMULA) -> bool:
    """Does the part hold a formula (``<f …>``, or a prefixed ``<x:f …>``, which ``prefixed``
    decides)?  As ``prefixed.search`` on well-formed XML (where form feed and vertical tab, which
    the pattern's whitespace class also takes, cannot appear), at a small part of its cost in a
    large part."""
    return _opens_formula(data) or (_opens_formula(data, b":") and prefixed.search(data) is not None)


def _opens_formula(data: bytes, colon: bytes = b"") -> bool:
    """A ``<f>``/``<f …`` start tag (``colon`` = b":" for a prefixed one, ``<x:f``): every ``f`` of the
    part (a sheet has few: a validation's ``<formula1>``, ``<filterColumn>``) checked by the bytes
    around it, instead of six searches of the whole part."""
    lead = colon or b"<"
    at = data.find(b"f", 1)
    for _ in range(64):  # a part with many f's (inline text) is searched whole below instead
        if at < 0:
            return False
        if data[at - 1:at] == lead and data[at + 1:at + 2] in _AFTER_F:
            return True
        at = data.find(b"f", at + 1)
    return any(lead + x[1:] in data for x in _FORMULA_OPEN)


def _position(el, cache: dict) -> tuple[int, int]:
    """(row, col) of a <c>: its r, else its place in its row (a writer may omit r)."""
    m = _REF.fullmatch(el.get("r") or "")
    if m:
        return int(m.group(2)), col_number(m.group(1))
    row = el.getparent()
    if row not in cache:
        r = row.get("r") if row is not None else None
        siblings = row.getparent() if row is not None else None
        cache[row] = int(r) if r and r.isdigit() else (list(siblings).index(row) + 1 if siblings is not None else 0)
    return cache[row], list(row).index(el) + 1 if row is not None else 0


def scan_sheet(data: bytes, percent_styles: set[int] | None = None) -> SheetCells:
    """Formulas, error values and uncalculated formulas of one worksheet part, and cell styles:
    of every cell (``percent_styles`` None: what verify needs), or only of cells whose style is one
    of ``percent_styles`` (what the readers need).  Parsed by lxml: any whitespace, quoting or
    attribute order reads the same."""
    out = SheetCells()
    wanted = None
    if percent_styles is not None:
        if b"&#" in data and _REF_IN_TAG.search(data):  # a character reference inside a tag
            wanted = set(percent_styles)
        else:  # literal look-ups first (memchr speed); a pattern only where a literal cannot decide
            spaced = _spaced_equals(data)
            wanted = {i for i in percent_styles if b's="%d"' % i in data or b"s='%d'" % i in data}
            if spaced and percent_styles:
                pattern = re.compile(rb"""\ss\s*=\s*["'](""" + "|".join(map(str, sorted(percent_styles))).encode()
                                     + rb""")["']""")
                wanted |= {int(x) for x in set(pattern.findall(data))}
            formula = has_formula(data)
            error = b't="e"' in data or b"t='e'" in data or (spaced and _ERROR_TYPE.search(data))
            if not wanted and not formula and not error:
                return out
    root = etree.fromstring(data, etree.XMLParser(**_SAFE))
    if wanted is None:
        cells = root.iter(_C)
    else:
        styled = "".join(f" or @s='{i}'" for i in sorted(wanted))
        cells = root.xpath(f".//m:c[m:f or @t='e'{styled}]", namespaces={"m": NS})
    rows: dict = {}
    for el in cells:
        key = _position(el, rows)
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
    return out
