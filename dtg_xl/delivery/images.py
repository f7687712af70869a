"""Put PNG images on a sheet of an .xlsx/.xlsm by patching the zip (headless chart write-back).

What changes: the sheet's drawing part (created, or the existing one extended), its rels, the
new ``xl/media`` parts, and — only when the sheet had no drawing — the sheet XML (one
``<drawing r:id>`` element), the sheet's rels and ``[Content_Types].xml``.  Every other part
keeps its bytes (copied by ``patch.atomic_write_zip``).  Our pictures are named
``dtg_xl 图表：…`` (a name Excel keeps when it saves and renames the parts) and stored as
``xl/media/dtg_xl_chartN.png``, so a re-run replaces them instead of stacking copies, and a
user's own pictures on the sheet stay.

openpyxl could add images, but its load→save rewrites every part and loses what the
workbook's other features need (see dtg_xl.xlsx.patch); no library adds a drawing part in place,
hence the small hand-written patch.
"""
from __future__ import annotations

import math
import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from dtg_xl.xlsx.atomic import atomic_output
from dtg_xl.xlsx.patch import NS, PKG_REL_NS, REL_NS, PatchError, atomic_write_zip, parse, resolve_target, sheet_parts

XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
DRAWING_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"
IMAGE_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
DRAWING_CT = "application/vnd.openxmlformats-officedocument.drawing+xml"
NAME_PREFIX = "dtg_xl 图表："
MEDIA_PREFIX = "xl/media/dtg_xl_chart"
EMU_PER_INCH = 914400
ROW_EMU = 190500  # a default 15 pt row
# elements that follow <drawing> in CT_Worksheet; <drawing> goes before the first present
_AFTER_DRAWING = ("legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
                  "webPublishItems", "tableParts", "extLst")


@dataclass(frozen=True)
class Image:
    png: bytes
    title: str
    width_px: int
    height_px: int
    dpi: int = 110

    @property
    def cx(self) -> int:
        return round(self.width_px / self.dpi * EMU_PER_INCH)

    @property
    def cy(self) -> int:
        return round(self.height_px / self.dpi * EMU_PER_INCH)


def _xml(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _relative(from_part: str, to_part: str) -> str:
    return posixpath.relpath(to_part, posixpath.dirname(from_part))


def _new_rels():
    return etree.Element(f"{{{PKG_REL_NS}}}Relationships", nsmap={None: PKG_REL_NS})


def _next_rid(rels) -> str:
    used = {r.get("Id") for r in rels}
    n = 1
    while f"rId{n}" in used:
        n += 1
    return f"rId{n}"


def _free_name(names: set[str], pattern: str) -> str:
    n = 1
    while pattern.format(n) in names:
        n += 1
    return pattern.format(n)


def add_images(src: str | Path, dst: str | Path, sheet: str, images: list[Image],
               col: int = 15, row: int = 2) -> list[str]:
    """Copy src to dst with ``images`` stacked down from (row, col) (1-based) on ``sheet``,
    replacing pictures an earlier run put there.  Returns the names of the parts changed or added."""
    src, dst = Path(src), Path(dst)
    with zipfile.ZipFile(src) as zin:
        names = set(zin.namelist())
        parts = sheet_parts(zin)
        if sheet not in parts:
            raise PatchError(f"工作簿中没有工作表：{sheet}")
        sheet_part = parts[sheet]
        sheet_rels_part = _rels_path(sheet_part)
        sheet_xml = parse(zin.read(sheet_part))
        sheet_rels = parse(zin.read(sheet_rels_part)) if sheet_rels_part in names else _new_rels()
        replaced: dict[str, bytes | None] = {}
        added: dict[str, bytes] = {}

        drawing_el = sheet_xml.find(f"{{{NS}}}drawing")
        if drawing_el is not None:
            rid = drawing_el.get(f"{{{REL_NS}}}id")
            rel = next((r for r in sheet_rels if r.get("Id") == rid), None)
            if rel is None:
                raise PatchError(f"工作表“{sheet}”的绘图关系缺失，无法添加图表")
            drawing_part = resolve_target(sheet_part, rel.get("Target"))
            drawing = parse(zin.read(drawing_part))
        else:
            drawing_part = _free_name(names, "xl/drawings/drawing{}.xml")
            drawing = etree.Element(f"{{{XDR}}}wsDr", nsmap={"xdr": XDR, "a": A})
            rid = _next_rid(sheet_rels)
            etree.SubElement(sheet_rels, f"{{{PKG_REL_NS}}}Relationship", Id=rid, Type=DRAWING_TYPE,
                             Target=_relative(sheet_part, drawing_part))
            el = etree.Element(f"{{{NS}}}drawing", nsmap={"r": REL_NS})
            el.set(f"{{{REL_NS}}}id", rid)
            later = next((sheet_xml.find(f"{{{NS}}}{t}") for t in _AFTER_DRAWING
                          if sheet_xml.find(f"{{{NS}}}{t}") is not None), None)
            later.addprevious(el) if later is not None else sheet_xml.append(el)
            replaced[sheet_part] = _xml(sheet_xml)
            if sheet_rels_part in names:
                replaced[sheet_rels_part] = _xml(sheet_rels)
            else:
                added[sheet_rels_part] = _xml(sheet_rels)
            replaced["[Content_Types].xml"] = _content_types(zin.read("[Content_Types].xml"), drawing_part)

        drawing_rels_part = _rels_path(drawing_part)
        drawing_rels = parse(zin.read(drawing_rels_part)) if drawing_rels_part in names else _new_rels()
        # drop our pictures from an earlier run: found by name, since Excel renames parts on save
        dropped_ids = set()
        for anchor in list(drawing):
            c_nv_pr = anchor.find(f".//{{{XDR}}}cNvPr")
            if c_nv_pr is not None and (c_nv_pr.get("name") or "").startswith(NAME_PREFIX):
                dropped_ids |= {b.get(f"{{{REL_NS}}}embed") for b in anchor.iter(f"{{{A}}}blip")}
                drawing.remove(anchor)
        still_used = {b.get(f"{{{REL_NS}}}embed") for b in drawing.iter(f"{{{A}}}blip")}
        for rel in list(drawing_rels):
            if rel.get("Id") in dropped_ids - still_used:
                drawing_rels.remove(rel)
                target = resolve_target(drawing_part, rel.get("Target") or "")
                if target in names and not _referenced_elsewhere(zin, target, drawing_rels_part):
                    replaced[target] = None
        if "[Content_Types].xml" not in replaced and not _has_png_default(zin.read("[Content_Types].xml")):
            replaced["[Content_Types].xml"] = _content_types(zin.read("[Content_Types].xml"), None)

        taken = names | set(added)
        next_id = max([int(e.get("id")) for e in drawing.iter(f"{{{XDR}}}cNvPr") if (e.get("id") or "").isdigit()],
                      default=1) + 1
        top = row - 1
        for image in images:
            media = _free_name({n for n in taken if replaced.get(n, b"") is not None} | set(added),
                               MEDIA_PREFIX + "{}.png")
            added[media] = image.png
            embed = _next_rid(drawing_rels)
            etree.SubElement(drawing_rels, f"{{{PKG_REL_NS}}}Relationship", Id=embed, Type=IMAGE_TYPE,
                             Target=_relative(drawing_part, media))
            drawing.append(_anchor(image, col - 1, top, next_id, embed))
            next_id += 1
            top += math.ceil(image.cy / ROW_EMU) + 1

        body = _xml(drawing)
        (replaced if drawing_part in names else added)[drawing_part] = body
        rels_body = _xml(drawing_rels)
        (replaced if drawing_rels_part in names else added)[drawing_rels_part] = rels_body
        # media of an earlier run that is re-added under the same name is a replacement
        for name in [n for n in added if n in names]:
            replaced[name] = added.pop(name)
        with atomic_output(dst) as tmp:
            atomic_write_zip(Path(tmp), zin, replaced)
            with zipfile.ZipFile(tmp, "a") as zout:
                for name, data in added.items():
                    kind = zipfile.ZIP_STORED if name.endswith(".png") else zipfile.ZIP_DEFLATED
                    zout.writestr(zipfile.ZipInfo(name, date_time=(2021, 1, 1, 0, 0, 0)), data, compress_type=kind)
    return sorted(set(replaced) | set(added))


def _referenced_elsewhere(zin: zipfile.ZipFile, part: str, except_rels: str) -> bool:
    """Does any other relationship part point at ``part``?"""
    for name in zin.namelist():
        if not name.endswith(".rels") or name == except_rels:
            continue
        source = posixpath.join(posixpath.dirname(posixpath.dirname(name)), posixpath.basename(name)[:-5])
        for rel in parse(zin.read(name)):
            if rel.get("TargetMode") != "External" and resolve_target(source, rel.get("Target") or "") == part:
                return True
    return False


def _anchor(image: Image, col0: int, row0: int, shape_id: int, embed: str):
    x, a, r = f"{{{XDR}}}", f"{{{A}}}", f"{{{REL_NS}}}"
    anchor = etree.Element(x + "oneCellAnchor")
    frm = etree.SubElement(anchor, x + "from")
    for tag, value in (("col", col0), ("colOff", 0), ("row", row0), ("rowOff", 0)):
        etree.SubElement(frm, x + tag).text = str(value)
    etree.SubElement(anchor, x + "ext", cx=str(image.cx), cy=str(image.cy))
    pic = etree.SubElement(anchor, x + "pic")
    nv = etree.SubElement(pic, x + "nvPicPr")
    etree.SubElement(nv, x + "cNvPr", id=str(shape_id), name=NAME_PREFIX + image.title, descr=image.title)
    locks = etree.SubElement(etree.SubElement(nv, x + "cNvPicPr"), a + "picLocks")
    locks.set("noChangeAspect", "1")
    fill = etree.SubElement(pic, x + "blipFill")
    blip = etree.SubElement(fill, a + "blip", nsmap={"r": REL_NS})
    blip.set(r + "embed", embed)
    etree.SubElement(etree.SubElement(fill, a + "stretch"), a + "fillRect")
    sp = etree.SubElement(pic, x + "spPr")
    xfrm = etree.SubElement(sp, a + "xfrm")
    etree.SubElement(xfrm, a + "off", x="0", y="0")
    etree.SubElement(xfrm, a + "ext", cx=str(image.cx), cy=str(image.cy))
    geom = etree.SubElement(sp, a + "prstGeom", prst="rect")
    etree.SubElement(geom, a + "avLst")
    etree.SubElement(anchor, x + "clientData")
    return anchor


def _has_png_default(xml: bytes) -> bool:
    root = parse(xml)
    return any((d.get("Extension") or "").lower() == "png" for d in root.iter(f"{{{CT}}}Default"))


def _content_types(xml: bytes, drawing_part: str | None) -> bytes:
    root = parse(xml)
    if not any((d.get("Extension") or "").lower() == "png" for d in root.iter(f"{{{CT}}}Default")):
        default = etree.Element(f"{{{CT}}}Default", Extension="png", ContentType="image/png")
        first_override = root.find(f"{{{CT}}}Override")
        first_override.addprevious(default) if first_override is not None else root.append(default)
    if drawing_part and not any(o.get("PartName") == "/" + drawing_part for o in root.iter(f"{{{CT}}}Override")):
        etree.SubElement(root, f"{{{CT}}}Override", PartName="/" + drawing_part, ContentType=DRAWING_CT)
    return _xml(root)


def chart_images(result) -> list[Image]:
    """The result's charts (``charts.result_charts``) as images for ``add_images``."""
    from dtg_xl.delivery.charts import DPI, png_size, result_charts

    out = []
    for title, png in result_charts(result).items():
        w, h = png_size(png)
        out.append(Image(png, title, w, h, DPI))
    return out





def save_with_images(book, out: str | Path, images: list[Image], sheet: str) -> Path:
    """Save a FileBook's writes plus the images to out: values go into a temp copy beside out,
    the images from it onto out (atomic), so out is never left half-written."""
    import os
    import tempfile

    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent or ".")
    os.close(fd)
    try:
        book.save(tmp)
        add_images(tmp, out, sheet, images)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def has_our_images(path: str | Path) -> bool:
    """Did an earlier run put charts in this workbook?  (Then a re-evaluation refreshes them,
    so 汇总 never shows charts of old numbers.)"""
    marker = NAME_PREFIX.encode("utf-8")
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.startswith("xl/drawings/") and n.endswith(".xml") and marker in z.read(n)
                       for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
