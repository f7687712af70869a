"""Email-safe export: a copy a recipient without Python (or macros) can open and trust.

``export_email_safe(src, dst)`` runs the one pipeline on ``src`` (so every result cell holds
the engine's value, whatever the workbook showed), then rewrites the package:

* macro-free .xlsx: ``vbaProject.bin`` (+ signature), custom ribbon, form buttons and
  form-control parts go, shapes lose their macro assignment, the ``xlwings.conf`` and 控制台
  sheets (meaningful only with the macros) go, the workbook content type becomes plain .xlsx;
* every formula becomes its cached value (UDF/xlwings formulas included).  A formula cell
  without a value, or whose value is ``#NAME?`` (a function the computing program lacked),
  is refused, naming the cell — a recipient must never see an error where a number belongs;
* no external links (externalLink parts, data connections, names pointing outside);
* the result sheets (those the pipeline writes) are protected without a password — opening,
  reading, printing and copying need nothing, editing needs “撤消工作表保护”;
* 汇总!A2 says when, from which file and with which engine version the copy was made; the
  fingerprint fact (数据指纹) travels along as a value, so ``dtg-xl verify`` works on exports.

Then any part no longer reachable through relationships is dropped.  Text that looks like a
formula stays text (the patcher writes inline strings only).  Written atomically.
"""
from __future__ import annotations

import re
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from lxml import etree

from dtg_xl.errors import DtgError
from dtg_xl import __version__
from dtg_xl.xlsx.patch import resolve_target

MACRO_SHEETS = ("xlwings.conf", "_xlwings.conf", "控制台")  # config/buttons: meaningless without macros
NOTE_ROW, NOTE_COL = 2, 1  # 汇总!A2: between the title and the facts

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
MAIN_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
DROP_REL_TYPES = ("/vbaProject", "/externalLink", "/connections", "/calcChain", "/ctrlProp", "/control",
                  "/ui/extensibility", "/vbaProjectSignature", "/wsSortMap")  # /control: ActiveX
_X = {n: f"{{{NS}}}{n}" for n in ("c", "f", "v", "is", "t", "sheet", "sheets", "definedName", "definedNames",
                                 "workbookView", "sheetView", "sheetData", "sheetCalcPr", "sheetProtection",
                                 "controls", "legacyDrawing", "externalReferences")}
_VML_SHAPE = re.compile(r"<v:shape\b(?:(?!<v:shape\b).)*?</v:shape>", re.S)
# sheetProtection must come right after these (schema order)
_BEFORE_PROTECTION = ("sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr")


class ExportError(DtgError):
    """The workbook cannot be exported; the message is for the user."""


def _parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse(data: bytes):
    return etree.fromstring(data, _parser())


def _dump(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def export_email_safe(src: Path, dst: Path, when: datetime | None = None, removed: list[str] | None = None) -> Path:
    """Write an email-safe copy of src to dst (.xlsx) and return dst; the active content removed
    (DDE names, active conditional-format/validation formulas, local-file links, OLE objects) is
    appended to ``removed``."""
    from dtg_xl.xlsx.books import BookError, FileBook
    from dtg_xl.results.pipeline import evaluate_book
    from dtg_xl.core.schema import SHEET_SUMMARY
    from dtg_xl.xlsx.patch import PatchError, patch_workbook, write_copy

    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() != ".xlsx":
        raise ExportError(f"导出文件应以 .xlsx 结尾（导出的副本不含宏）：{dst.name}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise ExportError("导出文件不能与输入文件相同")
    when = when or datetime.now()
    book = FileBook(src)  # pre-flight runs here
    try:
        result = evaluate_book(book, when=when)
        shown = {sheet: book.sheet_values(sheet) for sheet in book.writes}
    finally:
        book.close()
    if not result.ok:
        listed = "；".join(str(p) for p in result.errors[:5])
        more = f"（另有{len(result.errors) - 5}个）" if len(result.errors) > 5 else ""
        raise ExportError(f"工作簿有{len(result.errors)}个问题，未导出：{listed}{more}")
    writes = {sheet: dict(cells) for sheet, cells in book.writes.items()}
    stale = Staleness(src, writes, shown)
    if SHEET_SUMMARY in book.sheet_names():
        writes.setdefault(SHEET_SUMMARY, {})[(NOTE_ROW, NOTE_COL)] = (
            f"本副本由 dtg_xl {__version__} 于 {when:%Y-%m-%d %H:%M:%S} 从“{src.name}”导出："
            f"公式已转为数值，不含宏和外部链接；结果表已保护（无密码，仅防误改）。")
    with tempfile.TemporaryDirectory(prefix="dtg-export-") as tmp:
        patched = Path(tmp) / f"patched{src.suffix or '.xlsx'}"
        try:
            patch_workbook(src, patched, writes, book.reformat)  # result cells: the template's formats
        except PatchError as exc:
            raise ExportError(f"无法导出“{src.name}”：{exc}") from None  # about the workbook read: name it
        except BookError as exc:
            raise ExportError(str(exc)) from None
        with zipfile.ZipFile(patched) as zin:
            try:
                replaced = make_safe(zin, protect=set(writes), stale=stale, removed=removed)
            except (etree.XMLSyntaxError, KeyError, ValueError) as exc:
                if isinstance(exc, ExportError):
                    raise
                raise ExportError(f"工作簿“{src.name}”的结构已损坏（{type(exc).__name__}），无法导出") from None
        write_copy(patched, dst, replaced)
    return dst


# ---------------------------------------------------------------- the package rewrite
def _rels_name(part: str) -> str:
    p = PurePosixPath(part)
    return str(p.parent / "_rels" / f"{p.name}.rels")


def make_safe(zin: zipfile.ZipFile, protect: set[str], stale: "Staleness | None" = None,
              removed: list[str] | None = None) -> dict[str, bytes | None]:
    """New bytes (None: removed) for every part that changes; what active content was removed
    is appended to ``removed`` (Chinese, one item per removal)."""
    removed = [] if removed is None else removed
    names = zin.namelist()
    xml = {n: zin.read(n) for n in names if n.endswith((".xml", ".rels", ".vml")) or n == "[Content_Types].xml"}
    out: dict[str, bytes | None] = {}
    problems: list[str] = []

    # workbook: sheets, names, links
    wb = _parse(xml["xl/workbook.xml"])
    wb_rels = _parse(xml["xl/_rels/workbook.xml.rels"])
    rel_by_id = {r.get("Id"): r for r in wb_rels}
    sheets_el = wb.find(_X["sheets"])
    sheet_list = list(sheets_el) if sheets_el is not None else []
    removed_idx, removed_names, kept = [], [], []
    for i, sheet in enumerate(sheet_list):
        rid = sheet.get(f"{{{R_NS}}}id")
        if (sheet.get("name") or "").lower() in MACRO_SHEETS:
            removed_idx.append(i)
            removed_names.append(sheet.get("name"))
            sheets_el.remove(sheet)
            if rid in rel_by_id:
                wb_rels.remove(rel_by_id[rid])
        else:
            target = rel_by_id.get(rid)
            part = resolve_target("xl/workbook.xml", target.get("Target")) if target is not None else None
            kept.append((sheet, part))
    if not kept:
        raise ExportError("工作簿中除宏配置表外没有其他工作表，无法导出")
    for rel in list(wb_rels):
        if (rel.get("Type") or "").endswith(DROP_REL_TYPES) or rel.get("TargetMode") == "External":
            wb_rels.remove(rel)
    refs = wb.find(_X["externalReferences"])
    if refs is not None:
        wb.remove(refs)
    _fix_defined_names(wb, removed_idx, removed_names, removed)
    summary_index = next((i for i, (s, _) in enumerate(kept) if s.get("name") == "汇总"), 0)
    active = _fix_views(wb, removed_idx, len(kept), summary_index)
    if all(s.get("state") in ("hidden", "veryHidden") for s, _ in kept):
        kept[0][0].attrib.pop("state", None)
    out["xl/workbook.xml"] = _dump(wb)
    out["xl/_rels/workbook.xml.rels"] = _dump(wb_rels)

    pkg_rels = _parse(xml["_rels/.rels"])
    for rel in list(pkg_rels):
        if (rel.get("Type") or "").endswith(DROP_REL_TYPES):
            pkg_rels.remove(rel)
    out["_rels/.rels"] = _dump(pkg_rels)

    # macro buttons in VML (form controls); shapes lose macro assignments in DrawingML
    emptied_vml = set()
    for name in names:
        if name.endswith(".vml"):
            text = xml[name].decode("utf-8", "replace")
            kept_text = _VML_SHAPE.sub(lambda m: "" if _is_macro_shape(m.group(0)) else m.group(0), text)
            if kept_text != text:
                if _VML_SHAPE.search(kept_text):
                    out[name] = kept_text.encode("utf-8")
                else:
                    emptied_vml.add(name)
        elif name.startswith("xl/drawings/") and name.endswith(".xml") and b" macro=" in xml[name]:
            out[name] = re.sub(rb'\smacro="[^"]*"', b"", xml[name])

    # every kept sheet: formulas -> values, controls out, protection, one selected tab
    for i, (sheet, part) in enumerate(kept):
        if part is None or part not in xml:
            continue
        rels_part = _rels_name(part)
        rels = _parse(xml[rels_part]) if rels_part in xml else None
        root = _parse(xml[part])
        problems += _values_only(root, sheet.get("name"), stale)
        _drop_controls(root)
        _drop_active_content(root, rels, sheet.get("name"), removed)
        if rels is not None:
            for rel in list(rels):
                target = resolve_target(part, rel.get("Target") or "")
                if (rel.get("Type") or "").endswith(DROP_REL_TYPES) or target in emptied_vml:
                    if target in emptied_vml:
                        for el in root.iter(_X["legacyDrawing"]):
                            if el.get(f"{{{R_NS}}}id") == rel.get("Id"):
                                el.getparent().remove(el)
                    rels.remove(rel)
            out[rels_part] = _dump(rels) if len(rels) else None
        if sheet.get("name") in protect:
            _protect(root)
        for view in root.iter(_X["sheetView"]):
            if i == active:
                view.set("tabSelected", "1")
            else:
                view.attrib.pop("tabSelected", None)
        out[part] = _dump(root)
    if problems:
        shown = "；".join(problems[:10]) + (f"（另有{len(problems) - 10}处）" if len(problems) > 10 else "")
        raise ExportError(f"以下公式没有可信的计算结果，无法转为数值：{shown}。请在 Excel 中打开此文件（会自动重新计算）、"
                          f"保存后再导出，或删除这些公式")

    # content types: plain workbook; drop what is no longer there
    reachable = _reachable(names, xml, out)
    for name in names:
        if name not in reachable and name != "[Content_Types].xml" and not name.endswith(".rels"):
            out[name] = None
        elif name.endswith(".rels") and name != "_rels/.rels":
            owner = _owner_of_rels(name)
            if owner not in reachable:
                out[name] = None
    ct = _parse(xml["[Content_Types].xml"])
    remaining = [n for n in names if out.get(n, b"") is not None]
    for el in list(ct):
        part = (el.get("PartName") or "").lstrip("/")
        if el.tag == f"{{{CT_NS}}}Override":
            if part == "xl/workbook.xml":
                el.set("ContentType", MAIN_XLSX)
            elif part not in remaining:
                ct.remove(el)
        elif el.tag == f"{{{CT_NS}}}Default" and re.search("vbaProject|oleObject", el.get("ContentType") or ""):
            ext = "." + (el.get("Extension") or "").lower()
            if not any(n.lower().endswith(ext) for n in remaining):
                ct.remove(el)
    out["[Content_Types].xml"] = _dump(ct)
    if removed_names and "docProps/app.xml" in xml:
        out["docProps/app.xml"] = _drop_titles(xml["docProps/app.xml"])
    out.update(_without_form_key(zin))
    return out


def _without_form_key(zin: zipfile.ZipFile) -> dict[str, bytes]:
    """The unit-form key stays in the master: a copy sent out must not be able to sign forms."""
    from dtg_xl.units.formkey import KEY_PROPERTY
    from dtg_xl.xlsx.docprops import property_removed

    return property_removed(zin, KEY_PROPERTY)


def _is_macro_shape(shape: str) -> bool:
    return "<x:FmlaMacro" in shape or 'ObjectType="Button"' in shape or 'o:button="t"' in shape


# ---------------------------------------------------------------- active content
# Functions that reach outside the workbook (run programs, fetch, call DLLs, link) or need this
# project's add-in; a formula calling one, or a DDE reference (app|topic!item, the "|" outside
# quotes), has no place in a copy meant for a recipient.
_ACTIVE_FUNCTIONS = ("CALL", "REGISTER", "REGISTER.ID", "EXEC", "WEBSERVICE", "FILTERXML", "RTD", "HYPERLINK",
                     "IMPORTDATA", "IMPORTXML", "DDE", "DDEAUTO")
_FUNCTION = re.compile(r"(?<![\w.])(_xll\.|_xludf\.)?([A-Za-z_][\w.]*)\s*\(")
SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:")


def _outside_quotes(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", text)


def unsafe_formula(text: str | None) -> str | None:
    """Why a formula (defined name, conditional format, data validation) is active content, or None."""
    bare = _outside_quotes(text or "")
    if "|" in bare:
        return "DDE 调用（可启动其他程序）"
    for m in _FUNCTION.finditer(bare):
        name = m.group(2).upper()
        if m.group(1) or name.startswith("DTG_") or "XLWINGS" in name:
            return f"调用加载项函数 {m.group(2)}"
        if name in _ACTIVE_FUNCTIONS:
            return f"调用外部函数 {name}"
    if "[" in bare:
        return "引用外部工作簿"
    return None


def _localname(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _drop_active_content(root, rels, sheet: str, removed: list[str]) -> None:
    """Conditional-format rules and data validations with active formulas, hyperlinks to local
    files or other non-web targets, embedded OLE objects: removed, each named in ``removed``."""
    for el in list(root.iter()):
        kind = _localname(el)
        if kind not in ("cfRule", "dataValidation"):
            continue
        formulas = [f.text for f in el.iter() if _localname(f) in ("formula", "formula1", "formula2", "f")]
        why = next((w for w in map(unsafe_formula, formulas) if w), None)
        if why:
            parent = el.getparent()
            parent.remove(el)
            where = parent.get("sqref") or el.get("sqref") or ""
            what = "条件格式" if kind == "cfRule" else "数据验证"
            removed.append(f"{sheet}{'!' + where if where else ''} 的{what}公式（{why}）")
            if not any(_localname(c) in ("cfRule", "dataValidation") for c in parent):
                holder = parent.getparent()
                if kind == "cfRule" or _localname(parent) == "dataValidations":
                    holder.remove(parent)
            elif _localname(parent) == "dataValidations":
                parent.set("count", str(sum(1 for c in parent if _localname(c) == "dataValidation")))
    by_id = {r.get("Id"): r for r in rels} if rels is not None else {}
    for link in list(root.iter(f"{{{NS}}}hyperlink")):
        rel = by_id.get(link.get(f"{{{R_NS}}}id"))
        if rel is None:
            continue
        target = (rel.get("Target") or "").strip()
        if not target.lower().startswith(SAFE_LINK_SCHEMES):
            parent = link.getparent()
            parent.remove(link)
            if not len(parent):
                parent.getparent().remove(parent)
            rels.remove(rel)
            removed.append(f"{sheet}!{link.get('ref') or ''} 的超链接（指向 {target[:80]}，不是网页地址）")
    for ole in list(root.iter(f"{{{NS}}}oleObjects")):
        count = sum(1 for el in ole.iter() if _localname(el) == "oleObject")
        node = ole
        while node.getparent() is not None and node.getparent().tag.startswith(f"{{{MC_NS}}}"):
            node = node.getparent()
        if node.getparent() is not None:
            node.getparent().remove(node)
        removed.append(f"{sheet} 的嵌入对象（OLE）{count}个")
    if rels is not None:
        for rel in list(rels):
            if (rel.get("Type") or "").endswith(("/oleObject", "/package")):
                rels.remove(rel)


def _fix_defined_names(wb, removed_idx: list[int], removed_names: list[str], removed: list[str] | None = None) -> None:
    names = wb.find(_X["definedNames"])
    if names is None:
        return
    for dn in list(names):
        text = dn.text or ""
        local = dn.get("localSheetId")
        gone = local is not None and int(local) in removed_idx
        why = unsafe_formula(text)
        points_out = why or "#REF!" in text or re.search(r"(?i)\bDTG_|xlwings", text)
        if why and removed is not None and not (dn.get("name") or "").startswith("_xlnm."):
            removed.append(f"定义名称“{dn.get('name')}”（{why}）")
        if gone or points_out or any(_mentions(text, s) for s in removed_names):
            names.remove(dn)
        elif local is not None:
            dn.set("localSheetId", str(int(local) - sum(1 for i in removed_idx if i < int(local))))
    if not len(names):
        wb.remove(names)


def _mentions(text: str, sheet: str) -> bool:
    return f"'{sheet.replace(chr(39), chr(39) * 2)}'!" in text or f"{sheet}!" in text


def _fix_views(wb, removed_idx: list[int], kept: int, summary_index: int) -> int:
    """The tab shown on opening: 汇总 when the old one was removed (the control sheet)."""
    active = 0
    for view in wb.iter(_X["workbookView"]):
        old = int(view.get("activeTab") or 0)
        active = summary_index if old in removed_idx else old - sum(1 for i in removed_idx if i < old)
        active = min(max(active, 0), kept - 1)
        view.set("activeTab", str(active)) if active else view.attrib.pop("activeTab", None)
        view.attrib.pop("firstSheet", None)
    return active


class Staleness:
    """Which cached formula results cannot be trusted.

    A cached value is what the last program that *calculated* the workbook saw.  Writers that
    do not calculate (XlsxWriter, openpyxl, our own patcher when dependent formulas exist) set
    ``fullCalcOnLoad="1"``; Excel and LibreOffice clear it when they save.  So: with that flag
    set, no cached result is trusted; without it, only formulas that may depend on a result
    cell whose value this export's re-computation changed are suspect.
    """

    def __init__(self, src: Path, writes: dict, shown: dict):
        from dtg_xl.results.verify import VOLATILE_FACTS, _same
        from dtg_xl.results.layout import FACT_ROW
        from dtg_xl.core.schema import SHEET_SUMMARY

        with zipfile.ZipFile(src) as z:
            wb = _parse(z.read("xl/workbook.xml"))
        calc = wb.find(f"{{{NS}}}calcPr")
        self.never_calculated = calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")
        volatile = {(SHEET_SUMMARY, FACT_ROW[label], 2) for label in VOLATILE_FACTS if label in FACT_ROW}
        self.changed = set()
        for sheet, cells in writes.items():
            rows = shown.get(sheet, [])
            for (r, c), value in cells.items():
                old = rows[r - 1][c - 1] if r <= len(rows) and c <= len(rows[r - 1]) else ""
                if (sheet, r, c) not in volatile and not _same(old, value):
                    self.changed.add(sheet)
                    break
        self.names = [(d.get("name") or "", d.text or "") for d in wb.iter(f"{{{NS}}}definedName")]

    def reason(self, sheet: str, formula: str) -> str | None:
        from dtg_xl.xlsx.patch import _mentions_sheet

        if self.never_calculated:
            return "保存后未经计算（文件由不计算公式的程序写入），缓存的结果不可信"
        if not self.changed:
            return None
        upper = formula.upper()
        risky = [n for n, ref in self.names if any(_mentions_sheet(ref, s) for s in self.changed)]
        if (sheet in self.changed or any(_mentions_sheet(formula, s) for s in self.changed)
                or "INDIRECT(" in upper or "OFFSET(" in upper
                or any(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w.(])", formula) for n in risky)):
            return "可能引用了本次重新计算后改变的结果，缓存的结果已过期"
        return None


def _values_only(root, sheet: str, stale: Staleness | None = None) -> list[str]:
    """Replace every formula by its cached value; return the cells whose value is unusable."""
    problems = []
    for f in list(root.iter(_X["f"])):
        cell = f.getparent()
        if cell.tag != _X["c"]:
            continue
        v = cell.find(_X["v"])
        kind = cell.get("t")
        formula = (f.text or "").strip()
        why = stale.reason(sheet, formula) if stale is not None else None
        if v is None and cell.find(_X["is"]) is None:
            if formula or f.get("t") == "shared":
                problems.append(f"{sheet}!{cell.get('r')}（={formula or '共享公式'}）没有计算结果")
        elif kind == "e" and (v.text or "").strip() == "#NAME?":
            problems.append(f"{sheet}!{cell.get('r')}（={formula}）的结果是 #NAME?（函数不可用）")
        elif why:
            problems.append(f"{sheet}!{cell.get('r')}（={formula or '共享公式'}）{why}")
        cell.remove(f)
        cell.attrib.pop("cm", None)
        if kind == "str" and v is not None:  # a formula's text result: keep it as plain text
            text = v.text or ""
            cell.remove(v)
            cell.set("t", "inlineStr")
            is_ = etree.SubElement(cell, _X["is"])
            t = etree.SubElement(is_, _X["t"])
            t.text = text
            if text != text.strip():
                t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return problems


def _drop_controls(root) -> None:
    for controls in list(root.iter(_X["controls"])):
        node = controls
        while node.getparent() is not None and node.getparent().tag.startswith(f"{{{MC_NS}}}"):
            node = node.getparent()  # mc:AlternateContent wrapping the controls
        if node.getparent() is not None:
            node.getparent().remove(node)


def _protect(root) -> None:
    if root.find(_X["sheetProtection"]) is not None:
        return
    prot = etree.Element(_X["sheetProtection"], sheet="1", objects="1", scenarios="1")
    anchor = None
    for child in root:
        if etree.QName(child).localname in _BEFORE_PROTECTION:
            anchor = child
    if anchor is None:
        root.insert(0, prot)
    else:
        anchor.addnext(prot)


def _owner_of_rels(rels: str) -> str:
    p = PurePosixPath(rels)
    return str(p.parent.parent / p.name[: -len(".rels")]).lstrip("./") if p.parent.name == "_rels" else ""


def _reachable(names: list[str], xml: dict, out: dict) -> set[str]:
    """Parts reachable from the package relationships, after the edits above."""
    present = set(names)
    seen, todo = set(), ["_rels/.rels"]
    while todo:
        rels_name = todo.pop()
        data = out.get(rels_name, xml.get(rels_name))
        if data is None:
            continue
        owner = _owner_of_rels(rels_name) if rels_name != "_rels/.rels" else ""
        for rel in _parse(data):
            if rel.get("TargetMode") == "External":
                continue
            target = resolve_target(owner or "_", rel.get("Target") or "") if owner else (rel.get("Target") or "").lstrip("/")
            if target in present and target not in seen:
                seen.add(target)
                todo.append(_rels_name(target))
    return seen


def _drop_titles(xml: bytes) -> bytes:
    """docProps/app.xml lists sheet titles; optional, so drop the list rather than fix counts."""
    root = _parse(xml)
    for el in list(root):
        if etree.QName(el).localname in ("HeadingPairs", "TitlesOfParts"):
            root.remove(el)
    return _dump(root)
