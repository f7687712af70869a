"""workbook/dtg_xl.xlam, the 绩效评价 add-in: rebuilt and compared with the committed file byte for
byte; its VBA (read with olevba) is xlwings' quickstart add-in VBA; every ribbon button is bound to
a ribbon callback that exists in that VBA; its settings sheet is the one GetConfig reads; and the
Python side it runs (``import dtg_xl; dtg_xl.main()``) scores the *active* workbook — here a
remote Book built from a plain .xlsx, with and without a 控制台 sheet."""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

import xlwings
from dtg_xl.doors import addin, addin_build, excel_door
from dtg_xl.results import layout
from dtg_xl.core.schema import SHEET_SUMMARY

from helpers import ROOT, package_texts, run_cli, sheet_values, vba_modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # oletools' pyparsing calls

COMMITTED = ROOT / "workbook" / "dtg_xl.xlam"
REBUILD = "workbook/dtg_xl.xlam 已过期：请运行 dtg-xl build-workbook 后提交"
CUI = {"c": addin_build.CUI_NS}
needs_remote = pytest.mark.skipif(not os.environ.get("XLWINGS_LICENSE_KEY"),
                                  reason="xlwings' remote Book needs XLWINGS_LICENSE_KEY (e.g. noncommercial)")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return addin_build.build_addin(tmp_path_factory.mktemp("addin") / "dtg_xl.xlam")


# ---------------------------------------------------------------- rebuild == committed
def test_rebuild_is_byte_identical(built, tmp_path):
    again = addin_build.build_addin(tmp_path / "dtg_xl.xlam")
    assert again.read_bytes() == built.read_bytes()
    assert COMMITTED.read_bytes() == built.read_bytes(), REBUILD


def test_only_ribbon_settings_and_sheet_name_differ_from_xlwings_quickstart(tmp_path):
    quick = addin_build.run_quickstart_addin(tmp_path)
    with zipfile.ZipFile(quick) as a, zipfile.ZipFile(COMMITTED) as b:
        assert a.namelist() == b.namelist()
        assert [i.date_time for i in a.infolist()] == [i.date_time for i in b.infolist()]
        differ = {n for n in a.namelist() if a.read(n) != b.read(n)}
        assert b.read("xl/vbaProject.bin") == a.read("xl/vbaProject.bin")  # xlwings' VBA, untouched
    assert differ == {"customUI/customUI.xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"}


def test_addin_content_type_and_ribbon_relationship():
    types, rels = package_texts(COMMITTED, "[Content_Types].xml", "_rels/.rels")
    assert "application/vnd.ms-excel.addin.macroEnabled.main+xml" in types
    assert 'Type="http://schemas.microsoft.com/office/2007/relationships/ui/extensibility" Target="customUI/customUI.xml"' in rels


# ---------------------------------------------------------------- ribbon → VBA
def ribbon(path: Path):
    with zipfile.ZipFile(path) as z:
        return etree.fromstring(z.read(addin_build.RIBBON_PART))


def ribbon_callbacks(modules: dict[str, str]) -> set[str]:
    """Module.Sub of every Sub with the ribbon callback signature (control As IRibbonControl)."""
    found = set()
    for name, code in modules.items():
        for sub in re.findall(r"^\s*(?:Public\s+)?Sub\s+(\w+)\s*\(\s*control\s+As\s+IRibbonControl\s*\)", code, re.M | re.I):
            found.add(f"{name.rsplit('.', 1)[0]}.{sub}")
    return found


def test_ribbon_tab_is_chinese_and_every_button_calls_an_existing_callback():
    root = ribbon(COMMITTED)
    tabs = root.findall(".//c:tab", CUI)
    assert [t.get("label") for t in tabs] == ["绩效评价"]
    buttons = root.findall(".//c:button", CUI)
    assert [b.get("label") for b in buttons] == ["计算评分"]
    callbacks = ribbon_callbacks(vba_modules(COMMITTED))
    assert callbacks == {"RibbonMyAddin.RunMain"}
    for button in buttons:
        assert button.get("onAction") in callbacks
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.isascii() and i.isidentifier() for i in ids)


def test_the_callback_fails_when_the_ribbon_names_a_missing_macro():
    """The check above can fail: a button bound to a Sub that is not in the VBA is caught."""
    root = ribbon(COMMITTED)
    root.find(".//c:button", CUI).set("onAction", "RibbonMyAddin.RunOther")
    callbacks = ribbon_callbacks(vba_modules(COMMITTED))
    assert [b.get("onAction") for b in root.findall(".//c:button", CUI) if b.get("onAction") not in callbacks]


def test_runmain_imports_the_addin_name_and_runs_main():
    modules = vba_modules(COMMITTED)
    run_main = modules["RibbonMyAddin.bas"]
    assert 'mymodule = Left(ThisWorkbook.Name, (InStrRev(ThisWorkbook.Name, ".", -1, vbTextCompare) - 1))' in run_main
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in run_main
    assert COMMITTED.stem == "dtg_xl"  # → import dtg_xl; dtg_xl.main()
    import dtg_xl

    assert callable(dtg_xl.main)
    lib = modules["xlwings.bas"]
    assert "Sub ImportPythonUDFsToAddin()" in lib
    assert re.search(r'Public Const XLWINGS_VERSION As String = "([^"]+)"', lib).group(1) == xlwings.__version__
    # the settings sheet GetConfig reads in the add-in (ThisWorkbook) is PROJECT_NAME & ".conf"
    project = re.search(r'Public Const PROJECT_NAME As String = "([^"]+)"', lib).group(1)
    assert f"{project}.conf" == addin_build.CONF_SHEET
    assert 'If SheetExists(ThisWorkbook, PROJECT_NAME & ".conf") = True Then' in lib
    assert "GetConfig = ExpandEnvironmentStrings(GetConfig)" in lib  # %LOCALAPPDATA% is expanded


def test_settings_sheet_points_at_the_bundle_venv_and_the_udf_module():
    sheets = sheet_values(COMMITTED)
    assert list(sheets) == [addin_build.CONF_SHEET]
    conf = {row[0]: row[1] for row in sheets[addin_build.CONF_SHEET] if row and row[0]}
    assert conf["Interpreter_Win"] == r"%LOCALAPPDATA%\dtg_xl\venv\Scripts\python.exe"
    assert conf["UDF Modules"] == "dtg_xl.udfs"
    assert conf["Debug UDFs"] is False and conf["Use UDF Server"] is False and conf["Show Console"] is False


def test_build_refuses_another_file_name(tmp_path, capsys):
    with pytest.raises(addin_build.BuildError, match="dtg_xl.xlam"):
        addin_build.build_addin(tmp_path / "绩效评价.xlam")
    assert not list(tmp_path.iterdir())


def test_cli_build_workbook_writes_the_addin_beside(tmp_path, capsys):
    code, out, _ = run_cli(["build-workbook", "-o", tmp_path / "dtg.xlsm"], capsys)
    assert code == 0 and "“绩效评价”加载项" in out
    assert (tmp_path / "dtg_xl.xlam").read_bytes() == COMMITTED.read_bytes()


# ---------------------------------------------------------------- the door on the active workbook
@needs_remote
def test_button_on_a_plain_xlsx_with_a_control_sheet(tmp_path, monkeypatch):
    """dtg.xlsm's sheets saved as a plain .xlsx (what the clerk keeps with the add-in)."""
    import openpyxl

    from test_remote_book import applied, payload_from_file, remote_book

    plain = tmp_path / "评价.xlsx"
    wb = openpyxl.load_workbook(ROOT / "workbook" / "dtg.xlsm")  # a .xlsx with the same sheets, no macros
    del wb["xlwings.conf"]
    wb.save(plain)
    with zipfile.ZipFile(plain) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
    payload = payload_from_file(plain)
    book = remote_book(payload)
    import xlwings as xw

    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: book))  # Excel supplies the active book
    import dtg_xl

    dtg_xl.main()
    actions = book.json()["actions"]
    cells = applied(payload, [a for a in actions if a["func"] == "setValues"])
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["综合得分"], 2)] == 96.65
    assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["综合得分"], 2)] == 96.65
    assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["评价等次"], 2)] == "优"
    assert not [a for a in actions if a["func"] == "alert"]  # the status block says it


@needs_remote
def test_button_on_a_plain_template_without_control_sheet_shows_a_message(tmp_path, example_path):
    from test_remote_book import applied, payload_from_file, remote_book, set_cell, header_col
    from dtg_xl.core.schema import SHEET_INDICATORS

    payload = payload_from_file(example_path)  # dtg-xl new --example dtg-2020: plain .xlsx, no 控制台
    book = remote_book(payload)
    outcome = addin.main(book)
    actions = book.json()["actions"]
    alerts = [a["args"] for a in actions if a["func"] == "alert"]
    assert outcome.ok and alerts == [["综合得分 96.65，等次：优。\n结果已写入“指标体系”得分列和“汇总”表。", "绩效评价", "ok", "info", ""]]
    cells = applied(payload, [a for a in actions if a["func"] == "setValues"])
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["综合得分"], 2)] == 96.65

    actual, method = header_col(payload, SHEET_INDICATORS, "实际值"), header_col(payload, SHEET_INDICATORS, "评分方法")
    rows = next(s for s in payload["sheets"] if s["name"] == SHEET_INDICATORS)["values"]
    positive = next(r for r, row in enumerate(rows, start=1) if row[method - 1] == "正向")
    set_cell(payload, SHEET_INDICATORS, positive, actual, "九十")
    book = remote_book(payload)
    outcome = addin.main(book)
    (text, title, _, mode, _), = [a["args"] for a in book.json()["actions"] if a["func"] == "alert"]
    assert not outcome.ok and mode == "critical" and title == "绩效评价"
    assert text.startswith("发现1个问题，未计算得分：\n· 指标体系") and "九十" in text
    assert text.endswith("完整清单见“汇总”表右侧“校验问题”。")


@needs_remote
def test_button_on_an_unrelated_workbook_says_what_is_missing(tmp_path):
    import xlsxwriter
    from test_remote_book import payload_from_file, remote_book

    path = tmp_path / "Book1.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Sheet1").write(0, 0, "x")
    wb.close()
    book = remote_book(payload_from_file(path))
    addin.main(book)
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]  # nothing written into someone else's workbook
    text = actions[0]["args"][0]
    assert "内部错误" not in text and "缺少工作表" in text
    assert not text.split("\n")[-1].startswith("完整清单见“汇总”")  # there is no 汇总 to point at
