"""Custom document properties (``docProps/custom.xml``): read one, set one, drop one.

Used for the unit-form key (``dtg_xl.units.formkey``): a value that belongs to the file but to
no cell.  Excel (文件→信息→属性→高级属性→自定义), WPS and LibreOffice (文件→属性→自定义属性)
keep custom properties when they save, ``evaluate``/``consolidate`` copy the part byte for byte,
and calamine/openpyxl cell reads never see it.

Setting a property rewrites only ``docProps/custom.xml`` (created if absent, with its package
relationship and content type); every other part keeps its bytes, order and compression.  The
OPC layout is fixed by ECMA-376 Part 1 §15.2.12.2 and Part 2; no library on the index edits one
property of an existing package without rewriting it (openpyxl's load/save loses parts), hence
these few lines with lxml.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

from dtg_xl.xlsx.atomic import atomic_output
from dtg_xl.xlsx.patch import resolve_target

CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CUSTOM_CT = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one FMTID Office uses for user properties
DEFAULT_PART = "docProps/custom.xml"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse(data: bytes):
    return etree.fromstring(data, _PARSER)


def custom_part(zf: zipfile.ZipFile) -> str | None:
    """The custom-properties part named by the package relationships, if any."""
    try:
        rels = _parse(zf.read("_rels/.rels"))
    except KeyError:
        return None
    for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Type") == CUSTOM_REL and rel.get("TargetMode") != "External":
            part = resolve_target("", rel.get("Target") or "")
            return part if part in zf.namelist() else None
    return None


def read_property(path: str | Path, name: str) -> str | None:
    """The text of custom property ``name``, or None."""
    with zipfile.ZipFile(path) as zf:
        part = custom_part(zf)
        if part is None:
            return None
        root = _parse(zf.read(part))
    for prop in root.iter(f"{{{CUSTOM_NS}}}property"):
        if prop.get("name") == name:
            return "".join(prop.itertext()).strip() or None
    return None


def _with_property(data: bytes | None, name: str, value: str | None) -> bytes:
    root = _parse(data) if data else etree.Element(f"{{{CUSTOM_NS}}}Properties", nsmap={None: CUSTOM_NS, "vt": VT_NS})
    pids = [int(p.get("pid")) for p in root.iter(f"{{{CUSTOM_NS}}}property") if (p.get("pid") or "").isdigit()]
    for prop in list(root.iter(f"{{{CUSTOM_NS}}}property")):
        if prop.get("name") == name:
            root.remove(prop)
    if value is not None:
        prop = etree.SubElement(root, f"{{{CUSTOM_NS}}}property", fmtid=FMTID, pid=str(max(pids + [1]) + 1), name=name)
        etree.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def property_removed(zf: zipfile.ZipFile, name: str) -> dict[str, bytes]:
    """{part: new bytes} that drop property ``name`` (empty when it is not there)."""
    part = custom_part(zf)
    if part is None:
        return {}
    data = zf.read(part)
    root = _parse(data)
    if not any(p.get("name") == name for p in root.iter(f"{{{CUSTOM_NS}}}property")):
        return {}
    return {part: _with_property(data, name, None)}


def write_property(src: str | Path, dst: str | Path, name: str, value: str) -> None:
    """Copy src to dst (atomically; dst may be src) with custom property ``name`` set."""
    with zipfile.ZipFile(src) as zin:
        part = custom_part(zin)
        replaced: dict[str, bytes] = {}
        if part is None:
            part = DEFAULT_PART
            while part in zin.namelist():  # a stray part of that name that nothing points to
                part = part.replace(".xml", "1.xml")
            rels = _parse(zin.read("_rels/.rels"))
            ids = {r.get("Id") for r in rels}
            rid = next(f"rIdDtg{i}" for i in range(1, 1000) if f"rIdDtg{i}" not in ids)
            etree.SubElement(rels, f"{{{PKG_REL_NS}}}Relationship", Id=rid, Type=CUSTOM_REL, Target=part)
            replaced["_rels/.rels"] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8", standalone=True)
            ct = _parse(zin.read("[Content_Types].xml"))
            etree.SubElement(ct, f"{{{CT_NS}}}Override", PartName="/" + part, ContentType=CUSTOM_CT)
            replaced["[Content_Types].xml"] = etree.tostring(ct, xml_declaration=True, encoding="UTF-8",
                                                             standalone=True)
            replaced[part] = _with_property(None, name, value)
        else:
            replaced[part] = _with_property(zin.read(part), name, value)
        infos = zin.infolist()
        blobs = {i.filename: (replaced[i.filename] if i.filename in replaced else zin.read(i.filename)) for i in infos}
    with atomic_output(dst) as tmp, zipfile.ZipFile(tmp, "w") as zout:
        for info in infos:
            out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out.external_attr, out.create_system = info.external_attr, info.create_system
            zout.writestr(out, blobs[info.filename], compress_type=info.compress_type)
        if part not in blobs:
            zout.writestr(part, replaced[part], compress_type=zipfile.ZIP_DEFLATED)
