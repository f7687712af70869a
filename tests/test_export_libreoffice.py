"""Email-safe export: what is in the package (always), and what a recipient sees in LibreOffice
with recalculation on (tier: skips without soffice)."""
from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

import corpus_reliability as C
from dtg_xl.results import layout
from dtg_xl.xlsx.books import FileBook
from dtg_xl.doors.cli import main
from dtg_xl.delivery.export import ExportError, export_email_safe
from dtg_xl.results.pipeline import evaluate_book, result_json
from dtg_xl.xlsx.patch import NS, patch_workbook, sheet_parts

ARTIFACTS = Path(__file__).parent / "artifacts"
ERROR_TEXT = re.compile(r"#NAME\?|#VALUE!|#REF!|#DIV/0!|#N/A|#NUM!|#NULL!|Err:\d+")
WHEN = datetime(2026, 11, 25, 10, 0, 0)
needs_lo = pytest.mark.skipif(C.SOFFICE is None, reason="LibreOffice (soffice) is not installed")


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture(scope="module")
def filled_xlsm(tmp_path_factory) -> Path:
    """workbook/dtg.xlsm with the 2020 example typed into its input sheets (as a user would)."""
    if not C.DTG_XLSM.exists():
        pytest.skip("workbook/dtg.xlsm does not exist yet (built by the Excel issue)")
    work = tmp_path_factory.mktemp("xlsm")
    example = work / "example.xlsx"
    from dtg_xl.delivery.template import write_template
    write_template(example, example="dtg-2020")
    book = FileBook(example)
    writes = {s: {(r + 1, c + 1): (v if v != "" else None) for r, row in enumerate(book.sheet_values(s))
                  for c, v in enumerate(row)} for s in ("参数", "指标体系", "单位填报")}
    book.close()
    dst = work / "dtg-filled.xlsm"
    patch_workbook(C.DTG_XLSM, dst, writes)
    return dst


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("export")
    example = work / "dtg-2020.xlsx"
    from dtg_xl.delivery.template import write_template
    write_template(example, example="dtg-2020")
    out = work / "dtg-2020-export.xlsx"
    before = example.read_bytes()
    export_email_safe(example, out, when=WHEN)
    assert example.read_bytes() == before
    book = FileBook(example)
    engine = result_json(evaluate_book(book))
    book.close()
    return {"work": work, "src": example, "out": out, "engine": engine}


def test_export_is_macro_free_values_only_and_protected(filled_xlsm, tmp_path):
    out = tmp_path / "mail.xlsx"
    before = filled_xlsm.read_bytes()
    assert main(["export", str(filled_xlsm), "-o", str(out)]) == 0
    assert filled_xlsm.read_bytes() == before
    parts = _parts(out)
    assert not [n for n in parts if n.endswith(".bin") or "vba" in n.lower() or n.endswith(".vml")]
    ct = parts["[Content_Types].xml"].decode()
    assert "macroEnabled" not in ct and "vbaProject" not in ct
    assert "spreadsheetml.sheet.main+xml" in ct
    wb = etree.fromstring(parts["xl/workbook.xml"])
    names = [s.get("name") for s in wb.iter(f"{{{NS}}}sheet")]
    assert "xlwings.conf" not in names and "控制台" not in names and "汇总" in names
    for dn in wb.iter(f"{{{NS}}}definedName"):  # local names still point at the right sheet
        if dn.get("localSheetId") is not None:
            assert dn.text.startswith(names[int(dn.get("localSheetId"))])
    with zipfile.ZipFile(out) as z:
        sheets = sheet_parts(z)
    for name, part in sheets.items():
        xml = parts[part]
        assert b"<f>" not in xml and b"<f " not in xml, f"{name} still has formulas"
        assert b"legacyDrawing" not in xml or name not in ("汇总",), "button drawing left on 汇总"
    summary = parts[sheets["汇总"]]
    assert b'<sheetProtection sheet="1" objects="1" scenarios="1"/>' in summary
    assert b"password" not in summary.lower()
    for rel_part in [n for n in parts if n.endswith(".rels")]:  # nothing points at a missing part
        for rel in etree.fromstring(parts[rel_part]):
            assert rel.get("TargetMode") != "External"
    import openpyxl
    ws = openpyxl.load_workbook(out)["汇总"]
    assert ws[f"B{layout.FACT_ROW['综合得分']}"].value == 96.65
    assert ws.protection.sheet and not ws.protection.password
    assert "dtg-filled.xlsm" in ws["A2"].value and "dtg_xl" in ws["A2"].value


def _with_formula(src: Path, dst: Path, cell_xml: str, calculated: bool = True) -> Path:
    """src with one formula cell on 说明; calculated: saved by a program that computes formulas
    (Excel clears fullCalcOnLoad when it saves; XlsxWriter sets it because it never computes)."""
    with zipfile.ZipFile(src) as z:
        part = sheet_parts(z)["说明"]
        parts = {n: z.read(n) for n in z.namelist()}
    if calculated:
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b' fullCalcOnLoad="1"', b"")
    parts[part] = re.sub(rb'<c r="A3" s="(\d+)" t="s"><v>\d+</v></c>', cell_xml.encode(), parts[part], count=1)
    assert cell_xml.encode() in parts[part]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in parts.items():
            z.writestr(n, d)
    return dst


def test_udf_formula_becomes_its_value(example_path, tmp_path):
    src = _with_formula(example_path, tmp_path / "udf.xlsx",
                        '<c r="A3" t="str"><f>DTG_GRADE(96.65,"qingdao-2020")</f><v>优</v></c>')
    out = export_email_safe(src, tmp_path / "out.xlsx", when=WHEN)
    import openpyxl
    cell = openpyxl.load_workbook(out)["说明"]["A3"]
    assert cell.value == "优" and cell.data_type == "s"


@pytest.mark.parametrize("cell_xml, why", [
    ('<c r="A3" t="e"><f>DTG_SCORE("正向",10,100,90)</f><v>#NAME?</v></c>', "#NAME?"),
    ('<c r="A3"><f>DTG_TOTAL(B1:B9)</f></c>', "没有计算结果"),
])
def test_formula_without_value_is_refused(example_path, tmp_path, cell_xml, why):
    src = _with_formula(example_path, tmp_path / "bad.xlsx", cell_xml)
    out = tmp_path / "out.xlsx"
    with pytest.raises(ExportError, match=re.escape(why)) as info:
        export_email_safe(src, out)
    assert "说明!A3" in str(info.value)
    assert not out.exists()
    assert main(["export", str(src), "-o", str(out)]) == 2


def test_uncalculated_cached_values_are_not_trusted(example_path, tmp_path):
    """XlsxWriter never computes: its cached 0 for a formula is not a value to mail."""
    src = _with_formula(example_path, tmp_path / "xw.xlsx", '<c r="A3"><f>SUM(单位填报!C2:C10)</f><v>0</v></c>',
                        calculated=False)
    with pytest.raises(ExportError, match="未经计算") as info:
        export_email_safe(src, tmp_path / "out.xlsx")
    assert "说明!A3" in str(info.value) and not (tmp_path / "out.xlsx").exists()


def test_formula_on_a_changed_result_is_stale(example_path, tmp_path):
    """The file showed other results than the inputs give now: a formula reading 汇总 is stale."""
    src = _with_formula(example_path, tmp_path / "dep.xlsx", '<c r="A3"><f>汇总!B7*2</f><v>1</v></c>')
    with pytest.raises(ExportError, match="已过期"):
        export_email_safe(src, tmp_path / "out.xlsx")
    independent = _with_formula(example_path, tmp_path / "indep.xlsx", '<c r="A3"><f>SUM(参数!B3:B4)</f><v>2020</v></c>')
    out = export_email_safe(independent, tmp_path / "ok.xlsx", when=WHEN)
    import openpyxl
    assert openpyxl.load_workbook(out)["说明"]["A3"].value == 2020


def test_export_refuses_errors_and_bad_names(example_path, tmp_path, capsys):
    empty = tmp_path / "empty.xlsx"
    from dtg_xl.delivery.template import write_template
    write_template(empty)
    assert main(["export", str(empty), "-o", str(tmp_path / "x.xlsx")]) == 2
    assert "未导出" in capsys.readouterr().err
    assert main(["export", str(example_path), "-o", str(tmp_path / "x.xlsm")]) == 2
    assert ".xlsx" in capsys.readouterr().err
    assert main(["export", str(example_path), "-o", str(tmp_path / "no" / "such" / "x.xlsx")]) == 2
    assert "不存在" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.xlsx"], "nothing half-written"


def test_formula_like_user_text_stays_text_in_export(example_path, tmp_path):
    with zipfile.ZipFile(example_path) as z:
        part = sheet_parts(z)["参数"]
    src = tmp_path / "inj.xlsx"
    patch_workbook(example_path, src, {"参数": {(2, 2): "=HYPERLINK(\"http://evil\",\"点击\")"}})
    out = export_email_safe(src, tmp_path / "out.xlsx", when=WHEN)
    import openpyxl
    ws = openpyxl.load_workbook(out)
    assert ws["汇总"][f"B{layout.FACT_ROW['项目名称']}"].data_type == "s"
    assert ws["汇总"][f"B{layout.FACT_ROW['项目名称']}"].value.startswith("=HYPERLINK")
    assert b"<f>" not in _parts(out)[part]


# ---------------------------------------------------------------- LibreOffice tier
def _all_cells(sheets: dict) -> list[tuple[str, int, int, str]]:
    return [(n, r, c, v) for n, rows in sheets.items() for r, row in enumerate(rows, 1) for c, v in enumerate(row, 1)]


@needs_lo
@pytest.mark.libreoffice
def test_recipient_sees_engine_totals_and_no_errors(exports):
    work, out, engine = exports["work"], exports["out"], exports["engine"]
    shown = C.lo_sheets_csv(out, work / "csv", C.lo_profile(work))  # recalculation ON
    summary = shown["汇总"]
    assert summary[layout.FACT_ROW["综合得分"] - 1][1] == "96.65" == f"{engine['total']:g}"
    assert summary[layout.FACT_ROW["评价等次"] - 1][1] == "优" == engine["grade"]
    for i, cat in enumerate(engine["categories"]):
        row = summary[layout.CATEGORIES.first_row - 1 + i]
        assert row[0] == cat["name"] and float(row[2]) == pytest.approx(cat["score"], abs=1e-9)
    budget = summary[layout.BUDGET.first_row - 1]
    assert float(budget[2]) == pytest.approx(engine["budget"]["adjusted"])  # 6548.5
    assert C.csv_number(budget[6]) == pytest.approx(1.0)  # 100%
    errors = [x for x in _all_cells(shown) if ERROR_TEXT.search(x[3])]
    assert errors == []
    assert "dtg_xl" in summary[1][0] and "dtg-2020.xlsx" in summary[1][0]


@needs_lo
@pytest.mark.libreoffice
def test_xlsm_export_in_libreoffice(filled_xlsm, tmp_path):
    out = export_email_safe(filled_xlsm, tmp_path / "dtg-mail.xlsx", when=WHEN)
    shown = C.lo_sheets_csv(out, tmp_path / "csv", C.lo_profile(tmp_path))
    assert shown["汇总"][layout.FACT_ROW["综合得分"] - 1][1] == "96.65"
    assert [x for x in _all_cells(shown) if ERROR_TEXT.search(x[3])] == []
    assert "xlwings.conf" not in shown and "控制台" not in shown


@needs_lo
@pytest.mark.libreoffice
def test_summary_sheet_png_artifact(exports):
    if not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftoppm/pdftotext) is not installed")
    work, out = exports["work"], exports["out"]
    proc = C.lo_convert(out, work / "pdf", "pdf", C.lo_profile(work))
    pdf = work / "pdf" / (out.stem + ".pdf")
    assert pdf.exists(), proc.stderr
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = text.split("\f")
    page = next(i for i, p in enumerate(pages, 1) if "绩效评价结果汇总" in p)
    assert "96.65" in pages[page - 1] and "优" in pages[page - 1]
    assert not ERROR_TEXT.search(text)
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                    str(ARTIFACTS / "export-summary")], check=True)
    assert (ARTIFACTS / "export-summary.png").stat().st_size > 5000


def test_template_writer_keeps_formula_like_text_as_text(tmp_path):
    """User data (e.g. consolidated from units) written through XlsxWriter stays text."""
    import openpyxl

    from dtg_xl.delivery.template import load_example, write_template

    data = load_example("dtg-2020")
    data["units"][0]["单位名称"] = '=HYPERLINK("http://evil.example","点我")'
    data["indicators"][0]["扣分原因"] = "@SUM(1,2)"
    path = write_template(tmp_path / "inj.xlsx", data=data)
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)
             and c.value[:1] in "=@"]
    assert cells and all(c.data_type == "s" for c in cells)
    out = export_email_safe(path, tmp_path / "mail.xlsx", when=WHEN)
    wb = openpyxl.load_workbook(out)
    assert not [c for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]


@needs_lo
@pytest.mark.libreoffice
def test_dependent_formula_exported_after_a_calculating_save(tmp_path):
    """evaluate → (LibreOffice opens, recalculates and saves, as Excel would) → export: the
    formula =汇总!B7 on another sheet goes out as 96.65, not the stale cached 0."""
    import openpyxl

    src = C.build_xlsxwriter(tmp_path / "features.xlsx")
    done = tmp_path / "done.xlsx"
    assert main(["evaluate", str(src), "-o", str(done)]) == 0
    with pytest.raises(ExportError, match="未经计算"):
        export_email_safe(done, tmp_path / "too-early.xlsx")
    saved = tmp_path / "saved"
    C.lo_convert(done, saved, "xlsx:Calc MS Excel 2007 XML", C.lo_profile(tmp_path))
    out = export_email_safe(saved / "done.xlsx", tmp_path / "mail.xlsx", when=WHEN)
    wb = openpyxl.load_workbook(out)
    assert wb["图表"]["B1"].value == 96.65
    assert wb["汇总"][f"B{layout.FACT_ROW['综合得分']}"].value == 96.65
    assert main(["verify", str(out)]) == 0


def test_external_links_and_ribbon_are_removed(example_path, tmp_path):
    """Excel-shaped extras: an external workbook link (part, <externalReferences>, a name and a
    formula using it, whose calculated value is kept) and a custom ribbon (customUI)."""
    import openpyxl

    with zipfile.ZipFile(example_path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
        guide = sheet_parts(z)["说明"]
    ns_r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts["xl/externalLinks/externalLink1.xml"] = (
        f'<externalLink xmlns="{NS}" xmlns:r="{ns_r}"><externalBook r:id="rId1"><sheetNames>'
        '<sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>').encode()
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" '
        'Target="file:///C:/%E6%9D%A5%E6%BA%90/other.xlsx" TargetMode="External"/></Relationships>').encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rId90" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/externalLink" Target="externalLinks/externalLink1.xml"/></Relationships>')
    wb_xml = parts["xl/workbook.xml"].replace(b' fullCalcOnLoad="1"', b"")  # as if Excel saved it
    wb_xml = wb_xml.replace(b"</sheets>", b'</sheets><externalReferences><externalReference r:id="rId90"/>'
                                          b"</externalReferences>", 1)
    if b"<definedNames>" not in wb_xml:
        wb_xml = wb_xml.replace(b"<calcPr", b"<definedNames></definedNames><calcPr", 1)
    parts["xl/workbook.xml"] = wb_xml.replace(b"<definedNames>", '<definedNames><definedName name="外部数">'
                                              "[1]Sheet1!$A$1</definedName>".encode(), 1)
    parts["customUI/customUI14.xml"] = (b'<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui">'
                                        b'<ribbon><tabs><tab id="dtg" label="DTG"/></tabs></ribbon></customUI>')
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rId99" Type="http://schemas.microsoft.com/office/2007/relationships/'
        b'ui/extensibility" Target="customUI/customUI14.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>')
    parts[guide] = re.sub(rb'<c r="A3" s="(\d+)" t="s"><v>\d+</v></c>', b'<c r="A3"><f>[1]Sheet1!$A$1*2</f><v>84</v></c>',
                          parts[guide], count=1)
    src = tmp_path / "linked.xlsx"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in parts.items():
            z.writestr(n, d)
    out = export_email_safe(src, tmp_path / "mail.xlsx", when=WHEN)
    after = _parts(out)
    assert not [n for n in after if "externalLink" in n or "customUI" in n]
    everything = b"".join(after.values())
    assert b"externalReferences" not in everything and b"TargetMode=\"External\"" not in everything
    assert b"extensibility" not in after["_rels/.rels"] and b"externalLink" not in after["[Content_Types].xml"]
    wb = openpyxl.load_workbook(out)
    assert "外部数" not in wb.defined_names and wb["说明"]["A3"].value == 84
