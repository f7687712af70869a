"""Workbooks for the reliability tests, built by the tests themselves from real writers:
XlsxWriter (with chart, image, cross-sheet dropdown, sparkline, comment, table, text box,
merged cells, conditional format, defined name), openpyxl, LibreOffice, an Excel-shaped file
(shared formulas + calcChain, as Excel writes them; there is no Excel here) and
`workbook/dtg.xlsm` when it exists.  Also the LibreOffice helpers (private profile, recalc on).
"""
from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import uuid
import zipfile
import zlib
from pathlib import Path

from dtg_xl.results import layout
from dtg_xl.core.model import col_letter
from dtg_xl.core.schema import INDICATOR_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DTG_XLSM = ROOT / "workbook" / "dtg.xlsm"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SCORE_COL = col_letter(list(INDICATOR_COLUMNS).index("得分") + 1)  # 指标体系.得分
SPARE_COL = col_letter(len(INDICATOR_COLUMNS) + 2)  # right of the template's columns


def png_bytes(width: int = 24, height: int = 16, rgb=(200, 30, 30)) -> bytes:
    """A real PNG (no Pillow needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def build_xlsxwriter(path: Path) -> Path:
    """The 2020 example plus one of every feature a lossy writer would drop."""
    import xlsxwriter

    from dtg_xl.delivery.template import build_template

    wb = xlsxwriter.Workbook(str(path))
    build_template(wb, example="dtg-2020")
    summary = wb.get_worksheet_by_name("汇总")
    indicators = wb.get_worksheet_by_name("指标体系")
    units = wb.get_worksheet_by_name("单位填报")
    red = wb.add_format({"bg_color": "#FFC7CE"})
    # on the written sheet 汇总: comment, merged title, conditional format (must all stay)
    summary.merge_range("A1:H1", "绩效评价结果汇总（由程序填写，请勿手工修改）", wb.add_format({"bold": True}))
    summary.write_comment("A3", "项目名称由参数表带出")
    summary.conditional_format("C21:C32", {"type": "cell", "criteria": "<", "value": 10, "format": red})
    # on the written sheet 指标体系: a dropdown whose list lives on another sheet
    indicators.data_validation(f"{SPARE_COL}2:{SPARE_COL}50", {"validate": "list", "source": "=参数!$A$2:$A$8"})
    # an unwritten sheet: sparkline (x14 extension)
    units.add_sparkline("M2", {"range": "单位填报!C2:F2", "markers": True})
    charts = wb.add_worksheet("图表")
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"name": "一级指标得分", "categories": "=汇总!$A$21:$A$24", "values": "=汇总!$C$21:$C$24"})
    charts.insert_chart("D2", chart)
    charts.insert_image("L2", "logo.png", {"image_data": io.BytesIO(png_bytes())})
    charts.insert_textbox("L12", "本表图表随汇总表更新")
    charts.write("A1", "综合得分")
    charts.write_formula("B1", "=汇总!B7", None, 0)  # depends on a written cell
    charts.write_formula("B2", "=SUM(单位填报!C2:C10)", None, 0)
    ledger = wb.add_worksheet("台账")
    ledger.add_table("A1:C4", {"data": [["青岛海关", 1, 2], ["青岛港", 3, 4], ["边检", 5, 6]],
                               "columns": [{"header": "单位"}, {"header": "甲"}, {"header": "乙"}]})
    wb.define_name("综合得分", "=汇总!$B$7")
    wb.close()
    return path


def build_openpyxl(path: Path, src: Path) -> Path:
    """openpyxl's own flavour of XML (shared strings, its styles), with merged cells and a
    conditional format on the written sheet."""
    import openpyxl
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill

    wb = openpyxl.load_workbook(src)
    ws = wb["汇总"]
    ws.merge_cells("A1:H1")
    ws.conditional_formatting.add("C21:C32", CellIsRule(operator="lessThan", formula=["10"],
                                                         fill=PatternFill("solid", start_color="FFC7CE")))
    extra = wb.create_sheet("引用")
    extra["A1"] = "=汇总!B7"
    wb.save(path)
    return path


def excel_shaped(path: Path, src: Path) -> Path:
    """What Excel writes and the other writers do not: a shared formula group on 指标体系.得分
    (master in row 2, so the pipeline overwrites the master but not rows past the indicators), a
    formula in a written fact cell, and xl/calcChain.xml listing them."""
    with zipfile.ZipFile(src) as zin:
        parts = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    from dtg_xl.xlsx.patch import sheet_parts

    with zipfile.ZipFile(src) as zin:
        sheets = sheet_parts(zin)
        wb_xml = zin.read("xl/workbook.xml").decode()
    ids = dict(re.findall(r'<sheet name="([^"]+)" sheetId="(\d+)"', wb_xml))
    ind, summ = sheets["指标体系"], sheets["汇总"]
    chain = []

    def formula_cells(xml: str, col: str, rows: range) -> str:
        for r in rows:
            body = (f'<f t="shared" ref="{col}{rows.start}:{col}{rows.stop - 1}" si="0">J{r}*0</f><v>0</v>'
                    if r == rows.start else '<f t="shared" si="0"/><v>0</v>')
            xml, n = re.subn(rf'<c r="{col}{r}"( s="\d+")?/>', rf'<c r="{col}{r}"\1>{body}</c>', xml)
            assert n == 1, (col, r)
            chain.append((ids["指标体系"], f"{col}{r}"))
        return xml

    parts[ind] = formula_cells(parts[ind].decode(), SCORE_COL, range(2, 61)).encode()
    fact = layout.FACT_ROW["项目名称"]
    xml, n = re.subn(rf'<c r="B{fact}"( s="\d+")?/>', rf'<c r="B{fact}"\1 t="str"><f>参数!B2</f><v>x</v></c>',
                     parts[summ].decode())
    assert n == 1
    parts[summ] = xml.encode()
    chain.append((ids["汇总"], f"B{fact}"))
    body, last = [], None
    for sid, ref in chain:
        body.append(f'<c r="{ref}" i="{sid}"/>' if sid != last else f'<c r="{ref}"/>')
        last = sid
    parts["xl/calcChain.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                                 f'<calcChain xmlns="{NS}">{"".join(body)}</calcChain>').encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.calcChain+xml"/></Types>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    return path


# ---------------------------------------------------------------- LibreOffice
RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def lo_profile(base: Path, recalc: bool = True) -> Path:
    """A private LibreOffice profile (others run soffice concurrently); recalc on load = always."""
    profile = base / f"lo-profile-{uuid.uuid4().hex[:8]}"
    (profile / "user").mkdir(parents=True)
    if recalc:
        (profile / "user" / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
    return profile


def lo_convert(src: Path, outdir: Path, target: str, profile: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    outdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                           "--convert-to", target, "--outdir", str(outdir), str(src)],
                          capture_output=True, text=True, timeout=timeout)


CSV_ALL_SHEETS = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def lo_sheets_csv(src: Path, outdir: Path, profile: Path) -> dict[str, list[list[str]]]:
    """Every sheet as LibreOffice shows it (after recalculation), via CSV export."""
    import csv

    proc = lo_convert(src, outdir, CSV_ALL_SHEETS, profile)
    out = {}
    for f in outdir.glob(f"{src.stem}-*.csv"):
        with open(f, encoding="utf-8", newline="") as fh:
            out[f.stem[len(src.stem) + 1:]] = list(csv.reader(fh))
    assert out, f"LibreOffice produced no CSV: {proc.stdout} {proc.stderr}"
    return out


def csv_number(text: str) -> float:
    """A number from LibreOffice's CSV (percent formats keep their % even unformatted)."""
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def build_libreoffice(path: Path, src: Path, work: Path) -> Path:
    """LibreOffice's own flavour of .xlsx (its styles, t="n", customFormat="false" …)."""
    outdir = work / f"lo-made-{uuid.uuid4().hex[:6]}"
    proc = lo_convert(src, outdir, 'xlsx:Calc MS Excel 2007 XML', lo_profile(work, recalc=False))
    made = outdir / (src.stem + ".xlsx")
    assert made.exists(), proc.stderr
    shutil.move(made, path)
    return path


# ---------------------------------------------------------------- issue 14 part A: active content (helper i14a)
OLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"
PACKAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/package"


def build_active_content(path: Path) -> Path:
    """The 2020 example carrying what an email-safe copy must not: a DDE defined name, conditional
    formats and data validations whose formulas call cmd|… or DTG_SCORE(), a file:/// hyperlink and
    an embedded OLE package (the last written into the XML: XlsxWriter cannot embed OLE)."""
    import xlsxwriter

    from dtg_xl.delivery.template import build_template

    wb = xlsxwriter.Workbook(str(path))
    build_template(wb, example="dtg-2020")
    summary = wb.get_worksheet_by_name("汇总")
    units = wb.get_worksheet_by_name("单位填报")
    red = wb.add_format({"bg_color": "#FFC7CE"})
    wb.define_name("evil", "=cmd|' /C calc'!A0")
    summary.conditional_format("C21:C32", {"type": "formula", "criteria": "=cmd|' /C calc'!A0", "format": red})
    summary.conditional_format("D21:D32", {"type": "formula", "criteria": "=DTG_SCORE(\"正向\",5,100,90)>0",
                                           "format": red})
    summary.conditional_format("E21:E32", {"type": "cell", "criteria": "<", "value": 10, "format": red})  # stays
    units.data_validation("M2:M10", {"validate": "custom", "value": "=cmd|'/C calc'!A0"})
    units.data_validation("N2:N10", {"validate": "custom", "value": "=DTG_SCORE(\"正向\",5,100,90)>0"})
    guide = wb.get_worksheet_by_name("说明")
    guide.write_url("C1", "external:/etc/passwd", string="本地文件")  # its Target becomes file:/// below
    guide.write_url("C2", "https://czj.qingdao.gov.cn/", string="财政局")  # a web link stays
    wb.close()
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    from dtg_xl.xlsx.patch import sheet_parts

    with zipfile.ZipFile(path) as z:
        part = sheet_parts(z)["指标体系"]
    rels_name = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
    for name in [n for n in parts if n.endswith(".rels")]:
        parts[name] = parts[name].replace(b'Target="\\etc\\passwd"', b'Target="file:///etc/passwd"')
    rels = parts.get(rels_name, b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                     b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>')
    rels = rels.replace(b"</Relationships>", f'<Relationship Id="rIdOle1" Type="{OLE_REL}" '
                        f'Target="../embeddings/oleObject1.bin"/></Relationships>'.encode())
    parts[rels_name] = rels
    xml = parts[part].decode()
    ole = ('<oleObjects><oleObject progId="Package" shapeId="1025" '
           'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rIdOle1"/></oleObjects>')
    anchor = xml.index("<pageMargins")
    parts[part] = (xml[:anchor] + ole + xml[anchor:]).encode()
    # an OLE1 "Package" stream as Office writes it for an embedded file (a .bat here)
    payload = b"@echo off\r\ncalc.exe\r\n"
    parts["xl/embeddings/oleObject1.bin"] = (b"\x02\x00" + b"run.bat\x00" + b"C:\\run.bat\x00" + b"\x00\x00\x03\x00"
                                             + struct.pack("<I", 11) + b"C:\\run.bat\x00"
                                             + struct.pack("<I", len(payload)) + payload)
    ct = parts["[Content_Types].xml"]
    if b'Extension="bin"' not in ct:
        ct = ct.replace(b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.openxmlformats-'
                        b'officedocument.oleObject"/><Default ', 1)
    parts["[Content_Types].xml"] = ct
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def _zip_edit(src: Path, dst: Path, edit) -> Path:
    """Copy src to dst with ``edit(parts)`` applied to the dict of part name -> bytes."""
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    edit(parts)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def _cell_xml(src: Path, dst: Path, sheet: str, ref: str, body: str, attrs: str = "") -> Path:
    """One cell of src rewritten in its sheet XML (for what openpyxl cannot write: error values,
    formulas without a cached value)."""
    from dtg_xl.xlsx.patch import sheet_parts

    with zipfile.ZipFile(src) as z:
        part = sheet_parts(z)[sheet]

    def edit(parts):
        xml = parts[part].decode()
        new, n = re.subn(rf'<c r="{ref}"(?:\s[^>]*?)?(?:/>|>.*?</c>)', f'<c r="{ref}"{attrs}>{body}</c>', xml, count=1)
        if not n:  # no such cell yet: add it to its row
            row = re.search(r"\d+", ref).group(0)
            new, n = re.subn(rf'(<row r="{row}"[^>]*>)', rf'\1<c r="{ref}"{attrs}>{body}</c>', xml, count=1)
        parts[part] = new.encode()

    return _zip_edit(src, dst, edit)


def _typed(src: Path, dst: Path, edits: dict, formats: dict | None = None, rename: dict | None = None,
           delete: tuple = ()) -> Path:
    import openpyxl

    wb = openpyxl.load_workbook(src)
    for (sheet, ref), value in edits.items():
        wb[sheet][ref] = value
    for (sheet, ref), code in (formats or {}).items():
        wb[sheet][ref].number_format = code
    for old, new in (rename or {}).items():
        wb[old].title = new
    for sheet in delete:
        del wb[sheet]
    wb.save(dst)
    return dst


VALUE_CASE_KINDS = ("percent", "error", "logical", "uncalculated", "text", "header", "sheet", "overflow",
                    "profile", "display", "active")


def value_cases(src: Path, work: Path) -> list[tuple[str, str, Path, str, bool]]:
    """Issue 14 part A's hostile corpus (helper i14a): (kind, name, workbook, verb, must_refuse).

    Built from ``src`` (the 2020 example): percent-formatted and percent-typed numbers where they
    are refused, error values, TRUE/FALSE, formulas without a cached value, full-width and
    separator spellings, renamed headers, missing/renamed/duplicated sheets, overflowing numbers,
    broken profile files named in 参数!评价方案, forged result-cell formats and formulas, and active
    content for the email-safe export.  ``must_refuse``: the verb must exit 2 (with a message
    naming a cell, sheet or file); otherwise it may succeed or refuse."""
    work.mkdir(parents=True, exist_ok=True)
    out: list[tuple[str, str, Path, str, bool]] = []
    n = iter(range(10_000))

    def path(tag):
        return work / f"v{next(n):03d}-{tag}.xlsx"

    # percent where it is refused (money, points), and where it is read as shown
    for ref in ("D2", "E3", "F4", "G5"):
        out.append(("percent", f"单位填报!{ref} 100% typed", _typed(src, path("pct-money"), {("单位填报", ref): "100%"}),
                    "evaluate", True))
        out.append(("percent", f"单位填报!{ref} 0% format", _typed(src, path("fmt-money"), {("单位填报", ref): 15.0},
                                                              {("单位填报", ref): "0%"}), "evaluate", True))
    for ref in ("F2", "M24", "N5"):
        out.append(("percent", f"指标体系!{ref} points %", _typed(src, path("pct-points"), {("指标体系", ref): "3%"}),
                    "evaluate", True))
    for ref, code in (("J19", "0%"), ("I19", "0.00%"), ("J25", '[Red]0.0%;"-"'), ("J23", "0%")):
        out.append(("percent", f"指标体系!{ref} {code}", _typed(src, path("fmt-shown"), {("指标体系", ref): 0.5},
                                                               {("指标体系", ref): code}), "evaluate", False))
    # error values and uncalculated formulas, in number, text and parameter cells
    for sheet, ref in (("指标体系", "J19"), ("指标体系", "I25"), ("指标体系", "F2"), ("指标体系", "G3"),
                       ("指标体系", "E4"), ("单位填报", "D2"), ("单位填报", "B3"), ("单位填报", "H2"), ("参数", "B4"),
                       ("参数", "B5"), ("参数", "B6")):
        for literal in ("#DIV/0!", "#N/A", "#REF!", "#NAME?", "#VALUE!"):
            if literal != "#DIV/0!" and sheet == "参数" and ref != "B4":
                continue
            out.append(("error", f"{sheet}!{ref} {literal}",
                        _cell_xml(src, path("err"), sheet, ref, f"<v>{literal}</v>", ' t="e"'), "evaluate", True))
        out.append(("uncalculated", f"{sheet}!{ref} =A1*2 no value",
                    _cell_xml(src, path("uncalc"), sheet, ref, "<f>A1*2</f>"), "evaluate", True))
    out.append(("uncalculated", "shared formula child without value",
                _cell_xml(src, path("uncalc-shared"), "指标体系", "J19", '<f t="shared" si="7"/>'), "evaluate", True))
    for ref in ("J19", "I23", "F2", "M24"):
        out.append(("logical", f"指标体系!{ref} TRUE", _typed(src, path("bool"), {("指标体系", ref): True}), "evaluate", True))
    out.append(("logical", "单位填报!D2 FALSE", _typed(src, path("bool"), {("单位填报", "D2"): False}), "evaluate", True))
    # text spellings
    for text, refuse in (("１,５００", False), ("1,500.0", False), ("１５００．０", False), ("1,5", True), ("15,00", True),
                         ("1.500,0", True), (",1500", True), ("1500,", True), ("¥1500", True), ("1500万元", True),
                         ("\u0661\u0665\u0660\u0660", True), ("NaN", True), ("inf", True), ("1e400", True),
                         ("0x5DC", True), ("1_500", True), ("１５００％", True), ("- 1500", True), ("−1500", True)):
        out.append(("text", f"单位填报!D2 “{text}”", _typed(src, path("text"), {("单位填报", "D2"): text}), "evaluate", refuse))
    for text, refuse in (("５０％", False), ("50 %", False), ("+50", False), ("5e1", False), ("50%%", True), ("%50", True)):
        out.append(("text", f"指标体系!J19 “{text}”", _typed(src, path("text"), {("指标体系", "J19"): text}), "evaluate",
                    refuse))
    # headers renamed: one 缺少表头 each
    for sheet, ref, new in (("指标体系", "J1", "实际"), ("指标体系", "I1", "目标"), ("指标体系", "M1", "评定"),
                            ("指标体系", "N1", "扣分值"), ("指标体系", "L1", "等级"), ("指标体系", "H1", "标准"),
                            ("指标体系", "G1", "方法"), ("单位填报", "D1", "年初"), ("单位填报", "B1", "单位")):
        out.append(("header", f"{sheet}!{ref} → {new}", _typed(src, path("hdr"), {(sheet, ref): new}), "evaluate", True))
    # sheets missing, renamed with a stray space or full-width form, or duplicated
    for sheet in ("汇总", "参数", "指标体系", "单位填报"):
        out.append(("sheet", f"{sheet} deleted", _typed(src, path("del"), {}, delete=(sheet,)), "evaluate", True))
        out.append(("sheet", f"{sheet} + space", _typed(src, path("ren"), {}, rename={sheet: sheet + " "}), "evaluate", True))
        out.append(("sheet", f"{sheet} + ideographic space", _typed(src, path("ren"), {}, rename={sheet: "\u3000" + sheet}),
                    "evaluate", True))

        def dup(parts, sheet=sheet):
            xml = parts["xl/workbook.xml"].decode()
            other = next(m for m in re.findall(r'<(?:\w+:)?sheet\b[^>]*\bname="([^"]+)"', xml) if m not in ("汇总", "参数", "指标体系", "单位填报"))
            parts["xl/workbook.xml"] = xml.replace(f'name="{other}"', f'name="{sheet}"', 1).encode()

        out.append(("sheet", f"two sheets named {sheet}", _zip_edit(src, path("dup"), dup), "evaluate", True))
        if sheet == "汇总":
            out.append(("sheet", "verify: two sheets named 汇总", out[-1][2], "verify", True))
            out.append(("sheet", "export: two sheets named 汇总", out[-2][2], "export", True))
    # overflow at the input cell
    for sheet, ref in (("指标体系", "I19"), ("指标体系", "J19"), ("指标体系", "F2"), ("指标体系", "M24"),
                       ("指标体系", "N5"), ("指标体系", "B2"), ("单位填报", "D2"), ("单位填报", "G3"), ("单位填报", "H2")):
        for value in (1.7e308, -1.7e308, 1e16):
            out.append(("overflow", f"{sheet}!{ref} {value:g}", _typed(src, path("big"), {(sheet, ref): value}),
                        "evaluate", True))
    # profile files named in 参数!评价方案
    profiles = work / "profiles"
    profiles.mkdir(exist_ok=True)
    good = '[[grades]]\nname = "优"\nmin = 90\n[[grades]]\nname = "差"\nmin = 0\n'
    for tag, data in (("binary", b"\x00\x01\x02\xff\xfe" * 20), ("png", png_bytes()), ("syntax", b"[[grades]\nname = 1"),
                      ("min-text", good.replace("min = 90", 'min = "x"').encode()),
                      ("min-nan", good.replace("min = 90", "min = nan").encode()),
                      ("min-inf", good.replace("min = 90", "min = inf").encode()),
                      ("min-bool", good.replace("min = 90", "min = true").encode()),
                      ("no-grades", b'name = "x"\n'), ("grades-table", b'grades = "x"\n'),
                      ("weighting-number", ("weighting = 5\n" + good).encode()),
                      ("full-marks-zero", ("full_marks = 0\n" + good).encode()),
                      ("dup-grade", good.replace('"差"', '"优"').encode()), ("utf16", good.encode("utf-16")),
                      ("empty", b""), ("huge-min", good.replace("min = 90", "min = 1e999").encode())):
        file = profiles / f"{tag}.toml"
        file.write_bytes(data)
        out.append(("profile", f"参数!B4 → {tag}.toml", _typed(src, path("prof"), {("参数", "B4"): str(file)}), "evaluate",
                    True))
    for given in (str(profiles / "binary"), "../../../etc/passwd", "/etc/passwd", "qingdao-2020/../x", "nope"):
        out.append(("profile", f"参数!B4 → {given}", _typed(src, path("prof"), {("参数", "B4"): given}), "evaluate", True))
    return out


def display_cases(evaluated: Path, work: Path) -> list[tuple[str, str, Path, str, bool]]:
    """Forged display of an evaluated workbook (verify must refuse) and active content (export
    must remove it and succeed)."""
    from dtg_xl.results.layout import FACT_ROW

    work.mkdir(parents=True, exist_ok=True)
    out = []
    total, grade = f"B{FACT_ROW['综合得分']}", f"B{FACT_ROW['评价等次']}"
    n = iter(range(10_000))
    for ref, code in ((total, '"75.00"'), (total, "0"), (total, "0.0"), (total, ";;;"), (total, '[>0]"75";0.00'),
                      (grade, ';;;"中"'), (grade, '"良"'), ("D21", "0.00"), ("C21", '0.00" "'), ("G101", "0.0%"),
                      ("B8", "@;@;@;\"中\"")):
        out.append(("display", f"汇总!{ref} format {code}",
                    _typed(evaluated, work / f"d{next(n):03d}.xlsx", {}, {("汇总", ref): code}), "verify", True))
    value = "96.65"
    for ref, body in ((total, f"<f>75</f><v>{value}</v>"), (total, f"<f>汇总!C21*0+96.65</f><v>{value}</v>"),
                      ("R2", "<f>0</f><v>3</v>")):
        sheet = "指标体系" if ref == "R2" else "汇总"
        out.append(("display", f"{sheet}!{ref} formula", _cell_xml(evaluated, work / f"d{next(n):03d}.xlsx", sheet, ref,
                                                                   body), "verify", True))
    active = build_active_content(work / "active.xlsx")
    out.append(("active", "DDE name, cmd|/DTG_ formulas, file link, OLE", active, "export", False))
    return out
# ================================================================ issue 14 part B: hostile corpus (i14b)
# Forged and foreign unit forms, forms that kill their reader, outputs that are inputs, file
# names and header text from user input, hostile text for charts/report/mail, bad command lines.
# Each case is a command line run in its own folder by ``run_hostile_b`` (a forked child per
# case, so an abort is seen as a signal rather than killing the runner).
import hashlib as _hashlib
import os as _os
from dataclasses import dataclass as _dataclass, field as _field

_CJK = re.compile(r"[\u4e00-\u9fff]")


@_dataclass
class HostileCase:
    name: str
    folder: Path
    argv: list
    mention: list = _field(default_factory=list)  # each must appear in a refusal's message
    expect: str = "any"  # "ok", "refuse" (exit 2) or "any" (0 or 2)
    may_change: list = _field(default_factory=list)  # inputs the command is asked to rewrite (--in-place)


def _b_set_cells(path: Path, edits: dict) -> None:
    """Edit cells with openpyxl (test-side; the product never saves with openpyxl)."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for sheet, cells in edits.items():
        for ref, value in cells.items():
            wb[sheet][ref] = value
    wb.save(path)


def _b_rezip(path: Path, part: str, edit) -> None:
    tmp = path.with_suffix(".rezip")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, edit(data) if info.filename == part else data)
    tmp.replace(path)


def _b_issue(work: Path, example: Path) -> tuple[Path, list[Path]]:
    """A master with its 9 unit forms, each filled in (the genuine set every form case starts from)."""
    from dtg_xl.units.unitforms import write_unit_forms

    base = work / "issued"
    base.mkdir(parents=True, exist_ok=True)
    master = base / "主表.xlsx"
    shutil.copyfile(example, master)
    import openpyxl

    wb = openpyxl.load_workbook(master)  # three units keep every form case quick
    wb["单位填报"].delete_rows(5, 20)
    wb.save(master)
    forms = write_unit_forms(master, base / "forms")
    for i, p in enumerate(forms):
        _b_set_cells(p, {"单位填报": {"D2": 100 + i, "E2": 10, "F2": 110 + i, "G2": 110 + i}})
    return master, forms


def _b_form_case(work: Path, master: Path, forms: list[Path], name: str, mutate, index: int = 0,
                 mention=(), jobs: str | None = None) -> HostileCase:
    folder = work / name
    folder.mkdir(parents=True)
    m = folder / master.name
    shutil.copyfile(master, m)
    copies = []
    for f in forms:
        dst = folder / f.name
        shutil.copyfile(f, dst)
        copies.append(dst)
    mutate(copies[index], copies, folder)
    argv = ["consolidate", str(m), *map(str, sorted(p for p in folder.glob("*.xlsx") if p != m)),
            "-o", str(folder / "out" / "汇集.xlsx")]
    (folder / "out").mkdir()
    if jobs:
        argv += ["--jobs", jobs]
    return HostileCase(name, folder, argv, [copies[index].name, *mention], "refuse")


def hostile_form_cases_b(work: Path, example: Path) -> list[HostileCase]:
    """Forged, foreign, tampered and reader-killing unit forms (items 9–12)."""
    from dtg_xl.units.unitforms import SHEET_STAMP, STAMP_ROW, write_unit_forms

    master, forms = _b_issue(work / "forms-src", example)
    cases: list[HostileCase] = []

    def stamp_edit(label, value):
        def mutate(path, copies, folder):
            _b_set_cells(path, {SHEET_STAMP: {f"B{STAMP_ROW[label]}": value}})
        return mutate

    values = {"表单类型": ["别的表单", "", "dtg-xl 单位填报表 ", None], "模板版本": ["dtg-0", "", "dtg-2", 1],
              "单位名称": ["山东海事局", "不存在的单位", "=A1", "青岛海事局"],
              "主表文件": ["别的主表.xlsx", "", "../../x.xlsx", "主表.xlsm"],
              "主表行号": [3, "2 ", 1e308, -1], "项目名称": ["别的项目", "", "口岸大通关补助资金\r\n", "口岸大通关补助资金2"],
              "评价年度": [2019, "2021", "二〇二〇", 2020.5], "可填列": ["年初预算", "", "年初预算|上年评价得分", "|"],
              "生成时间": ["2000-01-01 00:00:00", "", "x", 45000], "密钥编号": ["00000000", "", "ffffffff", "zz"],
              "签名": ["", "0" * 64, "A" * 64, _hashlib.sha256(b"forged").hexdigest(), "x" * 5000]}
    same_when_canonical = {("表单类型", 2), ("项目名称", 2)}  # trailing blanks: canonical text is unchanged
    for label, vals in values.items():
        for k, v in enumerate(vals):
            c = _b_form_case(work, master, forms, f"stamp-{label}-{k}", stamp_edit(label, v),
                             index=k % len(forms), mention=[SHEET_STAMP])
            if (label, k) in same_when_canonical:
                c.expect = "any"
            cases.append(c)

    def locked_edit(ref, value):
        def mutate(path, copies, folder):
            _b_set_cells(path, {"单位填报": {ref: value}})
        return mutate

    for ref, vals in {"A2": [99, "x", None], "B2": ["山东海事局", "", "青岛海关 "], "C2": ["别的类别", None, 1],
                      "L2": [100, 0, "=1+1"], "D1": ["年初", None, "实际支出"]}.items():
        for k, v in enumerate(vals):
            if ref == "B2" and v == "青岛海关 ":
                continue  # trailing blank: canonical text equals the master's, so it verifies (by design)
            cases.append(_b_form_case(work, master, forms, f"locked-{ref}-{k}", locked_edit(ref, v), index=0,
                                      mention=["单位填报" if ref != "B2" else "表单信息"]))

    def impersonate(victim):
        def mutate(path, copies, folder):
            import openpyxl

            ws = openpyxl.load_workbook(copies[victim])["单位填报"]
            row = {c: ws[f"{c}2"].value for c in "ABCL"}
            st = openpyxl.load_workbook(copies[victim])[SHEET_STAMP]
            _b_set_cells(path, {"单位填报": {f"{c}2": v for c, v in row.items()} | {"D2": 99999},
                                SHEET_STAMP: {f"B{STAMP_ROW[k]}": st[f"B{STAMP_ROW[k]}"].value
                                              for k in ("单位名称", "主表行号")}})
            path.rename(folder / f"00-冒充{victim}.xlsx")
        return mutate

    for victim in range(1, 3):
        c = _b_form_case(work, master, forms, f"impersonate-{victim}", impersonate(victim), index=0,
                         mention=["签名"])
        c.mention[0] = f"00-冒充{victim}.xlsx"
        cases.append(c)

    def replay_signature(victim):  # another unit's genuine signature pasted in
        def mutate(path, copies, folder):
            import openpyxl

            st = openpyxl.load_workbook(copies[victim])[SHEET_STAMP]
            _b_set_cells(path, {SHEET_STAMP: {f"B{STAMP_ROW['签名']}": st[f"B{STAMP_ROW['签名']}"].value}})
        return mutate

    for victim in range(1, 3):
        cases.append(_b_form_case(work, master, forms, f"replay-{victim}", replay_signature(victim), mention=["签名"]))

    def twice(how):  # one genuine form handed in twice: a duplicate, both withheld (not a forgery)
        def mutate(path, copies, folder):
            other = folder / f"再次-{how}.xlsx"
            if how == "hard":
                _os.link(path, other)
            elif how == "soft":
                other.symlink_to(path.name)
            else:
                shutil.copyfile(path, other)
        return mutate

    for how in ("hard", "soft", "copy"):
        cases.append(_b_form_case(work, master, forms, f"twice-{how}", twice(how), mention=["多份"]))

    other = work / "other-master"
    other.mkdir()
    shutil.copyfile(example, other / "其他主表.xlsx")
    foreign = write_unit_forms(other / "其他主表.xlsx", other / "forms")
    for k in range(3):
        def mutate(path, copies, folder, k=k):
            shutil.copyfile(foreign[k], path)
        cases.append(_b_form_case(work, master, forms, f"foreign-{k}", mutate, index=k, mention=["密钥编号"]))

    sheet_xml = "xl/worksheets/sheet1.xml"
    killers = {
        "far-cell-newline": lambda d: d.replace(b"</sheetData>", b'<row r="3"><c\nr="XFD1048576"><v>1</v></c></row></sheetData>'),
        "far-cell-tab": lambda d: d.replace(b"</sheetData>", b'<row r="3"><c\tr="XFD1048576"><v>1</v></c></row></sheetData>'),
        "far-dimension": lambda d: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', d),
        "truncated-xml": lambda d: d[: len(d) // 2],
        "entity": lambda d: d.replace(b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet', 1),
    }
    for kname, edit in killers.items():
        for jobs in ("1", "2", "100000"):
            def mutate(path, copies, folder, edit=edit):
                _b_rezip(path, sheet_xml, edit)
            cases.append(_b_form_case(work, master, forms, f"killer-{kname}-j{jobs}", mutate, index=2, jobs=jobs))
    for kname, data in {"empty": b"", "text": "单位,年初预算\n青岛海关,1\n".encode(), "zip-junk": b"PK\x03\x04junk"}.items():
        for jobs in ("1", "2"):
            def mutate(path, copies, folder, data=data):
                path.write_bytes(data)
            cases.append(_b_form_case(work, master, forms, f"broken-{kname}-j{jobs}", mutate, index=1, jobs=jobs))
    for jobs in ("0", "-3", "100000"):
        c = _b_form_case(work, master, forms, f"jobs-{jobs}", stamp_edit("签名", ""), jobs=jobs)
        cases.append(c)
    return cases


def hostile_output_cases_b(work: Path, example: Path) -> list[HostileCase]:
    """Outputs that are inputs (every verb, every spelling), links, default names (items 16, 18, 30)."""
    from dtg_xl.doors.cli import main

    cases = []
    base = work / "outputs-src"
    base.mkdir(parents=True)
    evaluated = base / "R.xlsx"
    assert main(["evaluate", str(example), "-o", str(evaluated)]) == 0
    for verb in ("evaluate", "report", "mail", "export", "allocate", "compare", "consolidate", "unit-forms"):
        for spelling in ("same", "dotted", "hard", "soft", "dot-slash"):
            folder = work / f"out-{verb}-{spelling}"
            (folder / "sub").mkdir(parents=True)
            src = folder / "R.xlsx"
            shutil.copyfile(evaluated, src)
            out = {"same": src, "dotted": folder / "sub" / ".." / "R.xlsx", "hard": folder / "hard.xlsx",
                   "soft": folder / "soft.xlsx", "dot-slash": Path(str(folder) + "/./R.xlsx")}[spelling]
            if spelling == "hard":
                _os.link(src, out)
            elif spelling == "soft":
                out.symlink_to("R.xlsx")
            if verb == "unit-forms":  # the master sits in the forms folder under a form's name
                if spelling != "same":
                    continue
                shutil.copyfile(evaluated, folder / "sub" / "01-青岛海关.xlsx")
                argv = ["unit-forms", str(folder / "sub" / "01-青岛海关.xlsx"), "-o", str(folder / "sub"), "--force"]
                cases.append(HostileCase(f"out-{verb}-{spelling}", folder, argv, ["01-青岛海关.xlsx"], "refuse"))
                continue
            args = {"compare": ["compare", str(src), str(src)], "consolidate": ["consolidate", str(src), str(src)]}.get(
                verb, [verb, str(src)])
            cases.append(HostileCase(f"out-{verb}-{spelling}", folder, [*args, "-o", str(out)], ["R.xlsx", "输入文件"],
                                     "refuse"))
    for kind in ("link", "link-to-link", "absolute-link"):
        folder = work / f"inplace-{kind}"
        folder.mkdir(parents=True)
        real = folder / "real.xlsx"
        shutil.copyfile(example, real)
        link = folder / "link.xlsx"
        if kind == "link-to-link":
            (folder / "mid.xlsx").symlink_to("real.xlsx")
            link.symlink_to("mid.xlsx")
        else:
            link.symlink_to(real if kind == "absolute-link" else "real.xlsx")
        cases.append(HostileCase(f"inplace-{kind}", folder, ["evaluate", str(link), "--in-place"], [], "ok",
                                 may_change=[str(real)]))
    for verb in ("mail", "export"):
        folder = work / f"default-{verb}"
        folder.mkdir(parents=True)
        shutil.copyfile(evaluated, folder / "R.xlsx")
        cases.append(HostileCase(f"default-{verb}", folder, [verb, str(folder / "R.xlsx")], [], "ok"))
    return cases


HOSTILE_NAMES = ["../../x", "../逃逸", "/etc/passwd", "a/b/c", "C:\\Windows\\x", "CON", "nul", "COM1.txt", "LPT9",
                 "aux.xlsx", "tab\there", "新\r\n单位", "bell\x07", "  ", "...", ".hidden", "a:b*c?d", "<x>|y",
                 "很长" * 120, "\u202eexe.fdp", "zero\u200bwidth"]


def hostile_text_cases_b(work: Path, example: Path) -> list[HostileCase]:
    """User text that becomes file names, chart text, report text and mail headers (items 17, 21–23, 27)."""
    from dtg_xl.doors.cli import main

    cases = []
    for k, name in enumerate(HOSTILE_NAMES):
        folder = work / f"unitname-{k}"
        folder.mkdir(parents=True)
        master = folder / "主表.xlsx"
        shutil.copyfile(example, master)
        _b_set_cells(master, {"单位填报": {"B2": name.replace("\x07", "_x0007_")}})
        from dtg_xl.units.formkey import ensure_key

        ensure_key(master)  # the key is written once, by design, before the case: unit-forms then only reads
        cases.append(HostileCase(f"unitname-{k}", folder, ["unit-forms", str(master), "-o", str(folder / "forms")]))
    for k, name in enumerate(HOSTILE_NAMES[:15]):
        folder = work / f"project-{k}"
        folder.mkdir(parents=True)
        book = folder / "R.xlsx"
        shutil.copyfile(example, book)
        _b_set_cells(book, {"参数": {"B2": name.replace("\x07", "_x0007_")}})
        assert main(["evaluate", str(book), "--in-place"]) in (0, 2)
        cases.append(HostileCase(f"project-{k}", folder, ["mail", str(book), "-o", str(folder / "d.eml"), "--report"],
                                 ["参数!B2"]))
    dollars = ["$x$", "$\\frac{1}{0$", "$$", "a$b", "$\\alpha^{2}$公司", "\\$", "$_$", "$\\sqrt{$"]
    for k, text in enumerate(dollars):
        folder = work / f"dollar-{k}"
        folder.mkdir(parents=True)
        book = folder / "B.xlsx"
        shutil.copyfile(example, book)
        _b_set_cells(book, {"单位填报": {"B3": text}})
        cases.append(HostileCase(f"dollar-chart-{k}", folder, ["evaluate", str(book), "-o", str(folder / "o.xlsx"), "--charts"],
                                 [], "ok"))
        cases.append(HostileCase(f"dollar-report-{k}", folder, ["report", str(book), "-o", str(folder / "r.docx")], [], "ok"))
    controls = ["_x0007_", "_x001B_", "_x0000_", "_x000C_", "_x0008_", "a_x0001_b", "_xFFFE_", "_x001F__x0007_"]
    for k, text in enumerate(controls):
        folder = work / f"control-{k}"
        folder.mkdir(parents=True)
        book = folder / "B.xlsx"
        shutil.copyfile(example, book)
        reason_col = col_letter(list(INDICATOR_COLUMNS).index("扣分原因") + 1)
        _b_set_cells(book, {"指标体系": {f"{reason_col}4": f"原因{text}结束"}})
        cases.append(HostileCase(f"control-report-{k}", folder, ["report", str(book), "-o", str(folder / "r.docx")],
                                 [], "ok"))
    evaluated = work / "text-src.xlsx"
    assert main(["evaluate", str(example), "-o", str(evaluated)]) == 0
    recipients = ["a@example.cn\r\nBcc: x@evil.cn", "a@example.cn\nSubject: x", "x <a@example.cn>\r\n", "a@example.cn\x00",
                  "\r\n", "a@b\u2028c.cn", "not-an-address", "a@example.cn;\rb@example.cn"]
    for k, to in enumerate(recipients):
        folder = work / f"to-{k}"
        folder.mkdir(parents=True)
        shutil.copyfile(evaluated, folder / "R.xlsx")
        cases.append(HostileCase(f"recipient-{k}", folder,
                                 ["mail", str(folder / "R.xlsx"), "-o", str(folder / "d.eml"), "--to", to], ["--to"],
                                 "any"))
    for k, unfinished in enumerate([True, False]):
        folder = work / f"unfinished-{k}"
        folder.mkdir(parents=True)
        book = folder / "R.xlsx"
        shutil.copyfile(example, book)
        if unfinished:
            _b_set_cells(book, {"报告文字": {"B2": None, "B3": None}})
        assert main(["evaluate", str(book), "--in-place"]) == 0
        cases.append(HostileCase(f"require-finished-{k}", folder,
                                 ["mail", str(book), "-o", str(folder / "d.eml"), "--report", "--require-finished"],
                                 ["尚未完成"], "refuse" if unfinished else "ok"))
    for k, (a, b) in enumerate([("same", "same"), ("later", "earlier")]):
        folder = work / f"compare-{k}"
        folder.mkdir(parents=True)
        x, y = folder / "x.xlsx", folder / "y.xlsx"
        shutil.copyfile(example, x)
        shutil.copyfile(example, y)
        if b == "earlier":
            _b_set_cells(x, {"参数": {"B3": 2021}})
        cases.append(HostileCase(f"compare-{a}", folder, ["compare", str(x), str(y if k else x), "-o", str(folder / "c.xlsx")],
                                 [], "ok"))
    return cases


BAD_COMMAND_LINES = [[], ["frobnicate"], ["evaluate"], ["evaluate", "--bogus"], ["consolidate", "m.xlsx"],
                     ["consolidate", "m.xlsx", "f.xlsx", "--jobs", "x"], ["consolidate", "m.xlsx", "f.xlsx", "--jobs"],
                     ["mail"], ["mail", "a.xlsx", "--to"], ["export", "a.xlsx", "-o"], ["compare", "a.xlsx"],
                     ["new"], ["new", "a.xlsx", "--force=1"], ["verify", "a.xlsx", "b.xlsx"], ["unit-forms", "m.xlsx"],
                     ["whatif", "a.xlsx", "--set"], ["evaluate", "a.xlsx", "--in"], ["EVALUATE", "a.xlsx"],
                     ["evaluate", "不存在.xlsx"], ["report", "不存在.xlsx"], ["mail", "不存在.xlsx"],
                     ["verify", "不存在.xlsx"], ["export", "不存在.xlsx"], ["consolidate", "不存在.xlsx", "f.xlsx"],
                     ["unit-forms", "不存在.xlsx", "-o", "d"], ["allocate", "不存在.xlsx"], ["compare", "a.xlsx", "b.xlsx"],
                     ["--version-x"], ["-x"], ["evaluate", "a.xlsx", "--profile"], ["evaluate", "-o"],
                     ["consolidate", "--jobs", "2"], ["mail", "a.xlsx", "--report=yes"], ["new", "--example"],
                     ["whatif"], ["report", "a.xlsx", "--no-charts", "--no-charts", "x"], ["profiles", "x"],
                     ["build-workbook", "--blank=1"], ["compare", "a.xlsx", "b.xlsx", "c.xlsx"],
                     ["evaluate", "a.xlsx", "b.xlsx"], ["consolidate", "m.xlsx", "f.xlsx", "--jobs", "1.5"],
                     ["verify"], ["export"], ["allocate"], ["unit-forms"]]


def hostile_cli_cases_b(work: Path) -> list[HostileCase]:
    """Command lines a user mistypes (item 25): Chinese, no English, exit 2."""
    cases = []
    for k, argv in enumerate(BAD_COMMAND_LINES):
        folder = work / f"cli-{k}"
        folder.mkdir(parents=True)
        argv = [str(folder / a) if a.endswith(".xlsx") else a for a in argv]
        cases.append(HostileCase(f"cli-{k}", folder, argv, [], "refuse"))
    return cases


def hostile_cases_b(work: Path, example: Path) -> list[HostileCase]:
    work.mkdir(parents=True, exist_ok=True)
    return (hostile_form_cases_b(work / "f", example) + hostile_output_cases_b(work / "o", example)
            + hostile_text_cases_b(work / "t", example) + hostile_cli_cases_b(work / "c"))


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            out[str(p)] = _hashlib.sha256(p.read_bytes()).hexdigest()
    return out


_ENGLISH = re.compile(r"usage:|error:|Traceback|Error\b|Exception|the following|invalid choice|None\b")


def run_hostile_b(cases: list[HostileCase], root: Path) -> dict:
    """Run every case in a forked child; count aborts, internal errors, modified inputs, files outside
    their folder and refusals without a Chinese message naming file and cell/part."""
    import sys

    counts = {"cases": len(cases), "ok": 0, "refused": 0, "aborts": 0, "internal": 0, "modified_inputs": 0,
              "outside": 0, "unclear_refusals": 0}
    bad: list[str] = []
    for case in cases:
        before = _snapshot(case.folder)
        watched = {case.folder.parent, case.folder.parent.parent, root, root.parent}
        around = {d: {p.name for p in d.iterdir()} for d in watched}
        err_path, out_path = root / ".case.err", root / ".case.out"
        pid = _os.fork()
        if pid == 0:  # the child: run the CLI, exit with its code, nothing else
            code = 70
            try:
                fd_out = _os.open(out_path, _os.O_WRONLY | _os.O_CREAT | _os.O_TRUNC)
                fd_err = _os.open(err_path, _os.O_WRONLY | _os.O_CREAT | _os.O_TRUNC)
                _os.dup2(fd_out, 1)
                _os.dup2(fd_err, 2)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
                from dtg_xl.doors.cli import main

                try:
                    code = main(case.argv)
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 2
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                _os._exit(code)
        _, status = _os.waitpid(pid, 0)
        err = err_path.read_text("utf-8", "replace") if err_path.exists() else ""
        if _os.WIFSIGNALED(status):
            counts["aborts"] += 1
            bad.append(f"{case.name}: killed by signal {_os.WTERMSIG(status)}")
            continue
        code = _os.WEXITSTATUS(status)
        if code not in (0, 2) or "内部错误" in err or "Traceback" in err:
            counts["internal"] += 1
            bad.append(f"{case.name}: exit {code}: {err.strip()[:300]}")
            continue
        after = _snapshot(case.folder)
        changed = [p for p, h in before.items() if after.get(p) != h and "/out/" not in p and p not in case.may_change]
        if changed:
            counts["modified_inputs"] += 1
            bad.append(f"{case.name}: input changed: {changed[:3]}")
        escaped = sorted(f"{d}/{n}" for d in watched for n in {p.name for p in d.iterdir()} - around[d]
                         if not n.startswith(".case."))
        if escaped:
            counts["outside"] += 1
            bad.append(f"{case.name}: wrote outside its folder: {escaped[:3]}")
        if code == 0:
            counts["ok"] += 1
            if case.expect == "refuse":
                bad.append(f"{case.name}: accepted, expected a refusal")
        else:
            counts["refused"] += 1
            if case.expect == "ok":
                bad.append(f"{case.name}: refused, expected success: {err.strip()[:300]}")
            message = err
            clear = bool(_CJK.search(message)) and not _ENGLISH.search(message) and all(
                m in message for m in case.mention)
            if not clear:
                counts["unclear_refusals"] += 1
                bad.append(f"{case.name}: unclear refusal (want {case.mention}): {message.strip()[:300]}")
    counts["problems"] = bad
    return counts
