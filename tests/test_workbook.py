"""workbook/dtg.xlsm: rebuilt and compared with the committed file; its VBA (read with olevba)
is xlwings' quickstart VBA of the pinned version and runs ``dtg.main``; its buttons call that
macro; its xlwings.conf sheet points at the UDF module."""
from __future__ import annotations

import ast
import re
import tomllib
import zipfile
from pathlib import Path

import pytest
from lxml import etree

import xlwings
from dtg_xl.doors import excel_door
from dtg_xl.doors import workbook_build

from helpers import ROOT, package_texts, run_cli, run_json, sheet_values, vba_modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # oletools' pyparsing calls

COMMITTED = ROOT / "workbook" / "dtg.xlsm"
MODULE = ROOT / "workbook" / "dtg.py"
REBUILD = "workbook/dtg.xlsm 已过期：请运行 dtg-xl build-workbook 后提交"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
      "x": "urn:schemas-microsoft-com:office:excel", "v": "urn:schemas-microsoft-com:vml"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "dtg.xlsm"
    workbook_build.build_workbook(out)
    return out


def buttons(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sheet name -> [(caption, macro)] of its form buttons, followed through the package rels."""
    out = {}
    with zipfile.ZipFile(path) as z:
        wb = etree.fromstring(z.read("xl/workbook.xml"))
        rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", NS)}
        for sheet in wb.findall("m:sheets/m:sheet", NS):
            part = "xl/" + target[sheet.get(f"{{{NS['r']}}}id")]
            rel_part = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
            if rel_part not in z.namelist():
                continue
            for rel in etree.fromstring(z.read(rel_part)).findall("rel:Relationship", NS):
                if not rel.get("Type").endswith("/vmlDrawing"):
                    continue
                vml = etree.fromstring(z.read("xl/" + rel.get("Target").replace("../", "")))
                for shape in vml.iter(f"{{{NS['v']}}}shape"):
                    data = shape.find("x:ClientData", NS)
                    if data is not None and data.get("ObjectType") == "Button":
                        caption = "".join(shape.find("v:textbox", NS).itertext()).strip()
                        out.setdefault(sheet.get("name"), []).append((caption, data.findtext("x:FmlaMacro", namespaces=NS)))
    return out


# ---------------------------------------------------------------- rebuild == committed
def test_committed_workbook_exists():
    assert COMMITTED.is_file() and MODULE.is_file(), "运行 dtg-xl build-workbook 生成 workbook/dtg.xlsm"


def test_rebuild_is_deterministic(built, tmp_path):
    again = tmp_path / "dtg.xlsm"
    workbook_build.build_workbook(again)
    assert again.read_bytes() == built.read_bytes()


def test_rebuild_has_the_committed_sheets_and_values(built):
    new, old = sheet_values(built), sheet_values(COMMITTED)
    assert list(new) == list(old), REBUILD
    for name in new:
        assert new[name] == old[name], f"{name}: {REBUILD}"


def test_rebuild_has_the_committed_vba_and_buttons(built):
    assert vba_modules(built) == vba_modules(COMMITTED), REBUILD
    assert buttons(built) == buttons(COMMITTED), REBUILD


def test_rebuild_is_byte_identical_part_by_part(built):
    with zipfile.ZipFile(built) as a, zipfile.ZipFile(COMMITTED) as b:
        assert a.namelist() == b.namelist(), REBUILD
        differ = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert not differ, f"{REBUILD}（不同的部件：{differ}）"


def test_committed_module_is_the_generated_one(built):
    assert MODULE.read_text(encoding="utf-8") == built.with_suffix(".py").read_text(encoding="utf-8")
    assert MODULE.read_text(encoding="utf-8") == workbook_build.MODULE_TEMPLATE.format(name="dtg")


# ---------------------------------------------------------------- VBA: RunPython of dtg.main
def test_vba_is_xlwings_quickstart_running_dtg_main():
    modules = vba_modules(COMMITTED)
    assert {"Module1.bas", "xlwings.bas"} <= set(modules)
    sample = modules["Module1.bas"]
    # the module name is the workbook's name without extension: dtg.xlsm -> "import dtg; dtg.main()"
    assert re.search(r"Sub\s+SampleCall\(\)", sample)
    assert 'mymodule = Left(ThisWorkbook.Name, (InStrRev(ThisWorkbook.Name, ".", -1, vbTextCompare) - 1))' in sample
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in sample
    assert COMMITTED.stem == "dtg" and MODULE.stem == COMMITTED.stem
    lib = modules["xlwings.bas"]
    assert "Public Function RunPython(PythonCommand As String)" in lib
    assert "Sub ImportPythonUDFs()" in lib  # what "Import Functions" runs in a standalone workbook
    assert 'GetConfig("UDF MODULES")' in lib and 'Set sht = wb.Sheets(PROJECT_NAME & ".conf")' in lib


def test_module_main_runs_the_excel_door_on_the_caller():
    tree = ast.parse(MODULE.read_text(encoding="utf-8"))
    main = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main")
    calls = {ast.unparse(node.func) for node in ast.walk(main) if isinstance(node, ast.Call)}
    assert {"xw.Book.caller", "run_from_control_sheet"} <= calls
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert "from dtg_xl.excel_door import import_xlwings, run_from_control_sheet" in imports
    assigned = {ast.unparse(n) for n in tree.body if isinstance(n, ast.Assign)}
    assert "xw = import_xlwings()" in assigned  # the lean import (tests/test_lean_xlwings.py)


def test_control_sheet_warns_against_renaming():
    rows = sheet_values(COMMITTED)[excel_door.SHEET_CONTROL]
    warning = rows[workbook_build.RENAME_WARNING_ROW - 1][0]
    assert warning == workbook_build.RENAME_WARNING
    assert "dtg (1).xlsm" in warning and "dtg - 副本.xlsm" in warning and "加载项" in warning


def test_buttons_call_the_quickstart_macro():
    found = buttons(COMMITTED)
    assert found[excel_door.SHEET_CONTROL] == [(excel_door.BUTTON_CAPTION, "[0]!SampleCall")]
    assert all(macro == "[0]!SampleCall" for sheet in found.values() for _, macro in sheet)
    assert "Sub SampleCall()" in vba_modules(COMMITTED)["Module1.bas"]


def test_workbook_is_macro_enabled_with_codenames():
    types, wb = package_texts(COMMITTED, "[Content_Types].xml", "xl/workbook.xml")
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    assert 'codeName="ThisWorkbook"' in wb
    assert "application/vnd.ms-office.vbaProject" in types


# ---------------------------------------------------------------- the version pin
def test_xlwings_version_pin_matches_the_embedded_vba():
    lib = vba_modules(COMMITTED)["xlwings.bas"]
    embedded = re.search(r'Public Const XLWINGS_VERSION As String = "([^"]+)"', lib).group(1)
    assert f'"xlwings64-{embedded}.dll"' in lib  # the DLL the VBA loads carries the same version
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if d.replace(" ", "").startswith("xlwings==")]
    assert pins == [f"xlwings=={embedded}"], "pyproject.toml 须把 xlwings 固定为工作簿内嵌 VBA 的版本"
    assert xlwings.__version__ == embedded, (
        f"安装的 xlwings {xlwings.__version__} 与工作簿内嵌的 VBA 版本 {embedded} 不一致")


def test_committed_vba_is_what_this_xlwings_quickstart_gives(tmp_path):
    """The VBA binary is xlwings' own, byte for byte: drift in either direction fails."""
    vba, conf = workbook_build.quickstart_parts(workbook_build.run_quickstart(tmp_path, "dtg"))
    with zipfile.ZipFile(COMMITTED) as z:
        assert z.read("xl/vbaProject.bin") == vba
    assert "UDF Modules" in [k for k, _ in conf]


# ---------------------------------------------------------------- xlwings.conf
def test_conf_sheet_has_the_quickstart_keys_and_our_udf_module(tmp_path):
    _, quick = workbook_build.quickstart_parts(workbook_build.run_quickstart(tmp_path, "dtg"))
    rows = sheet_values(COMMITTED)["xlwings.conf"]
    keys = []
    for row in rows:  # the VBA reads A1 down to the first empty cell
        if not row[0]:
            break
        keys.append((row[0], row[1]))
    conf = dict(keys)
    assert [k for k, _ in keys] == [k for k, _ in quick]
    assert len({k.upper() for k, _ in keys}) == len(keys)  # GetConfigFromSheet's dictionary needs unique keys
    assert conf["UDF Modules"] == "dtg_xl.udfs"
    assert conf["Interpreter_Win"] == "python"
    assert conf["Debug UDFs"] is False and conf["Use UDF Server"] is False and conf["Show Console"] is False
    notes = [r[0] for r in rows[len(keys) + 1:] if r[0]]
    assert any(f"xlwings=={xlwings.__version__}" in n for n in notes)
    import importlib

    assert hasattr(importlib.import_module(conf["UDF Modules"]), "DTG_SCORE")


def test_control_sheet_cells_are_where_the_door_reads_and_writes():
    rows = sheet_values(COMMITTED)[excel_door.SHEET_CONTROL]
    for label, row in excel_door.SETTING_ROW.items():
        assert rows[row - 1][0] == label
        assert rows[row - 1][1] == excel_door.SETTING_DEFAULTS[label]
    for label, row in excel_door.STATUS_ROW.items():
        assert rows[row - 1][0] == label and rows[row - 1][1] == ""
    assert tuple(rows[excel_door.PROBLEMS_HEADER_ROW - 1][:3]) == excel_door.PROBLEM_HEADERS
    assert sheet_values(COMMITTED)[excel_door.SHEET_CONTROL] and list(sheet_values(COMMITTED))[0] == "控制台"


# ---------------------------------------------------------------- the CLI verb and the headless door
def test_cli_build_workbook(tmp_path, capsys):
    out = tmp_path / "book1.xlsm"
    code, stdout, _ = run_cli(["build-workbook", "-o", out], capsys)
    assert code == 0 and out.is_file() and (tmp_path / "book1.py").is_file()
    assert "已生成" in stdout
    assert 'xw.Book("book1.xlsm").set_mock_caller()' in (tmp_path / "book1.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, message", [
    ("my-book.xlsm", "须由英文字母、数字、下划线组成"),
    ("dtg.xlsx", "应为 .xlsm"),
    ("missing/dtg.xlsm", "文件夹不存在"),
])
def test_cli_build_workbook_bad_output(tmp_path, capsys, name, message):
    code, _, err = run_cli(["build-workbook", "-o", tmp_path / name], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.xlsm")) and not list(tmp_path.glob("*.py"))


def test_build_workbook_default_is_the_checkouts_workbook_wherever_it_runs(tmp_path, capsys, monkeypatch):
    """Issue 11: `dtg-xl build-workbook` without -o worked only from the repository root."""
    assert workbook_build.DEFAULT_OUTPUT == COMMITTED  # found from the package, not from the current folder
    repo = tmp_path / "checkout"
    (repo / "workbook").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    monkeypatch.setattr(workbook_build, "REPOSITORY", repo)
    monkeypatch.setattr(workbook_build, "DEFAULT_OUTPUT", repo / "workbook" / "dtg.xlsm")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    code, stdout, err = run_cli(["build-workbook"], capsys)
    assert code == 0, err
    assert (repo / "workbook" / "dtg.xlsm").is_file() and (repo / "workbook" / "dtg.py").is_file()
    assert str(repo / "workbook" / "dtg.xlsm") in stdout and not list(elsewhere.iterdir())


def test_build_workbook_without_a_checkout_asks_for_an_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(workbook_build, "REPOSITORY", tmp_path / "site-packages")
    monkeypatch.setattr(workbook_build, "DEFAULT_OUTPUT", tmp_path / "site-packages" / "workbook" / "dtg.xlsm")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["build-workbook"], capsys)
    assert code == 2 and "请用 -o 指定输出文件" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.xlsm"))


def test_headless_evaluate_of_the_xlsm_keeps_macros_and_buttons(tmp_path, capsys):
    out = tmp_path / "dtg-评价结果.xlsm"
    code, data = run_json(["evaluate", COMMITTED, "-o", out], capsys)
    assert code == 0 and data["total"] == 96.65 and data["grade"] == "优"
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(COMMITTED) as b:
        assert a.read("xl/vbaProject.bin") == b.read("xl/vbaProject.bin")
    assert buttons(out) == buttons(COMMITTED)
    assert vba_modules(out) == vba_modules(COMMITTED)


# ---------------------------------------------------------------- the button's optional files (headless half)
class _SavedBook(excel_door.XlwingsBook):
    """The door's book with a file on disk.  Excel's Workbook.SaveCopyAs cannot run here, so the
    copy is the headless write of the same pipeline into the same workbook (FileBook.save);
    reads go to the file as the live sheets would give them."""

    def __init__(self, path):
        from dtg_xl.xlsx.books import FileBook

        self.book = None  # no live workbook: path/save_copy are overridden
        self._path = path
        self._file = FileBook(path) if path else None

    def sheet_names(self):
        return self._file.sheet_names()

    def sheet_values(self, name):
        return self._file.sheet_values(name)

    @property
    def path(self):
        return self._path

    def save_copy(self, dst):
        from dtg_xl.xlsx.books import FileBook
        from dtg_xl.results.pipeline import evaluate_book

        book = FileBook(self._path)
        try:
            evaluate_book(book)
        finally:
            book.close()
        return book.save(dst)


def _outputs(src, **settings):
    from dtg_xl.core.engine import evaluate
    from dtg_xl.core.model import read_model

    book = _SavedBook(src)
    result = evaluate(read_model(book)) if src else None
    return excel_door.optional_outputs(book, excel_door.Settings(**settings), result)


def test_email_copy_report_and_draft_beside_the_workbook(tmp_path):
    import email
    import email.policy
    import shutil

    from docx import Document

    from dtg_xl.results import layout

    src = tmp_path / "dtg.xlsm"
    shutil.copyfile(COMMITTED, src)
    before = src.read_bytes()
    outputs = _outputs(src, email=True, report=True, draft=True)
    copy, report, draft = (tmp_path / f"dtg-{n}" for n in ("邮件版.xlsx", "评价报告.docx", "邮件草稿.eml"))
    assert outputs == {"邮件版": f"已生成：{copy}", "报告": f"已生成：{report}",
                       "邮件草稿": f"已生成：{draft}（未发送，用Outlook打开后发送）"}
    assert src.read_bytes() == before  # the user's workbook is never touched
    with zipfile.ZipFile(copy) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
    values = sheet_values(copy)
    assert "xlwings.conf" not in values and values["汇总"][layout.FACT_ROW["综合得分"] - 1][1] == 96.65
    text = "\n".join(p.text for p in Document(report).paragraphs)
    assert "经综合评价，该项目综合得分96.65分，等次：优。" in text
    message = email.message_from_bytes(draft.read_bytes(), policy=email.policy.default)
    assert message["X-Unsent"] == "1" and "（96.65分，优）" in message["Subject"]
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == ["2020年度口岸大通关补助资金绩效评价报告.docx", "dtg.xlsx"]  # macro-free copy + report
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dtg.xlsm", copy.name, report.name, draft.name])


def test_email_copy_goes_to_the_chosen_folder(tmp_path):
    import shutil

    src = tmp_path / "dtg.xlsm"
    shutil.copyfile(COMMITTED, src)
    out = tmp_path / "out"
    out.mkdir()
    assert _outputs(src, email=True, folder=out) == {"邮件版": f"已生成：{out / 'dtg-邮件版.xlsx'}"}
    assert (out / "dtg-邮件版.xlsx").is_file() and not (tmp_path / "dtg-邮件版.xlsx").exists()


def test_files_of_an_unsaved_book_say_so():
    from dtg_xl.core.engine import evaluate
    from dtg_xl.core.model import read_model

    result = evaluate(read_model(_SavedBook(COMMITTED)))
    outputs = excel_door.optional_outputs(_SavedBook(None), excel_door.Settings(email=True, report=True), result)
    assert set(outputs) == {"邮件版", "报告"}
    assert all(text.startswith(f"未生成{label}：工作簿尚未保存到磁盘") for label, text in outputs.items())
