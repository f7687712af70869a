"""Windows-only parts checked on Linux: the UDF VBA that the add-in's ImportPythonUDFsToAddin would
generate (xlwings' own generator, COM stubbed: tests/classic_udf_vba.py), the VBA projects' code
page and what it means for Chinese text, and which renamed copies of dtg.xlsm break its button."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT
from helpers import vba_modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

XLSM = ROOT / "workbook" / "dtg.xlsm"
XLAM = ROOT / "workbook" / "dtg_xl.xlam"


def generated(tmp_path: Path, workbook_name: str) -> dict:
    out = tmp_path / "vba.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "classic_udf_vba.py"), str(out), workbook_name],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- UDFs imported into the add-in
def test_addin_udf_vba_is_ascii_with_optional_arguments_and_the_active_workbook(tmp_path):
    data = generated(tmp_path, "dtg_xl.xlam")
    vba, functions = data["vba"], data["functions"]
    assert vba.isascii()  # read by VBComponents.Import in the system code page
    identifiers = re.findall(r"^Function (\w+)\(([^)]*)\)", vba, re.M)
    assert sorted(name for name, _ in identifiers) == sorted(functions)
    for name, params in identifiers:
        assert name.isascii() and name.isidentifier()
        for param in (p.strip() for p in params.split(",") if p.strip()):
            assert re.fullmatch(r"(Optional )?[A-Za-z_][A-Za-z0-9_]*", param), (name, param)
    assert "Function DTG_SCORE(method, points, Optional target, Optional actual, Optional detail, Optional given, Optional reason, Optional options)" in vba
    # an add-in's UDFs pass the workbook they are used in, not the add-in
    calls = re.findall(r'XLPy\.CallUDF\("dtg_xl\.udfs", "(\w+)", [^\n]*', vba)
    assert sorted(set(calls)) == sorted(functions)
    excel_calls = re.findall(r'XLPy\.CallUDF\("dtg_xl\.udfs"[^\n]*Application\.Caller', vba)  # the Excel branch
    assert len(excel_calls) == len(functions)
    for line in excel_calls:
        assert "ActiveWorkbook, Application.Caller" in line and "ThisWorkbook" not in line
    standalone = generated(tmp_path, "dtg.xlsm")["vba"]
    assert "ThisWorkbook, Application.Caller" in standalone and "ActiveWorkbook, Application.Caller" not in standalone
    # MacroOptions: xlwings cuts descriptions at 255; Excel's function wizard shows the category
    for name, meta in functions.items():
        assert meta["category"] == "DTG" and len(meta["category"]) <= 255
        assert 0 < len(meta["description"]) <= 255, name
        assert all(len(doc) <= 255 for _, doc, _ in meta["args"]), name
        optional = [arg for arg, _, opt in meta["args"] if opt]
        params = dict(identifiers)[name]
        assert all(f"Optional {arg}" in params for arg in optional), (name, optional)


# ---------------------------------------------------------------- the code page
def project_codepage(path: Path) -> tuple[int, str]:
    import olefile
    from oletools.olevba import VBA_Project

    with zipfile.ZipFile(path) as z:
        ole = olefile.OleFileIO(io.BytesIO(z.read("xl/vbaProject.bin")))
    try:
        project = VBA_Project(ole, "", "PROJECT", "VBA/dir", relaxed=True)
        return project.codepage, project.codec
    finally:
        ole.close()


@pytest.mark.parametrize("path", [XLSM, XLAM], ids=["dtg.xlsm", "dtg_xl.xlam"])
def test_vba_project_code_page_is_1252_and_the_code_is_ascii(path):
    """xlwings' quickstart VBA projects are saved with code page 1252 (Western European).  VBA
    source is stored in that code page, so Chinese text in VBA would be lost on any Windows
    whose ANSI code page differs; ours has none: every module is ASCII.  The Chinese the
    clerk reads lives where Unicode is kept: cells (控制台, xlwings.conf notes), the ribbon XML
    (UTF-8), MacroOptions help (a COM string) and message boxes (win32 MessageBoxW)."""
    assert project_codepage(path) == (1252, "cp1252")
    modules = vba_modules(path)
    assert modules and all(code.isascii() for code in modules.values())
    with zipfile.ZipFile(path) as z:
        if "customUI/customUI.xml" in z.namelist():
            z.read("customUI/customUI.xml").decode("utf-8")  # UTF-8 XML: 绩效评价 survives any locale


# ---------------------------------------------------------------- renamed copies of dtg.xlsm
def sample_call_module(workbook_name: str) -> str:
    """SampleCall's module name: Left(ThisWorkbook.Name, InStrRev(ThisWorkbook.Name, ".") - 1)."""
    return workbook_name[: workbook_name.rfind(".")]


def test_sample_call_derives_the_module_like_this():
    sample = vba_modules(XLSM)["Module1.bas"]
    assert 'mymodule = Left(ThisWorkbook.Name, (InStrRev(ThisWorkbook.Name, ".", -1, vbTextCompare) - 1))' in sample
    assert 'RunPython "import " & mymodule & ";" & mymodule & ".main()"' in sample


def button_outcome(folder: Path, workbook_name: str) -> str:
    """What Python does with SampleCall's command for a copy of dtg.xlsm named workbook_name,
    with dtg.py beside it (prepare_sys_path puts the workbook's folder on sys.path)."""
    module = sample_call_module(workbook_name)
    code = f"import {module};{module}.main"  # .main() would need Excel: stop at the lookup
    probe = (f"import sys; sys.path.insert(0, {str(folder)!r})\n"
             f"try:\n    exec(compile({code!r}, '<RunPython>', 'exec'))\n"
             f"except SyntaxError: print('SyntaxError')\n"
             f"except ModuleNotFoundError: print('ModuleNotFoundError')\n"
             f"else: print('ok')\n")
    proc = subprocess.run([sys.executable, "-B", "-c", probe], capture_output=True, text=True,
                          cwd=folder.parent, env={"PATH": "/usr/bin:/bin", "XLWINGS_LICENSE_KEY": "noncommercial"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


RENAMES = {
    "dtg.xlsm": "ok",
    "dtg (1).xlsm": "SyntaxError",          # a second download
    "dtg - 副本.xlsm": "SyntaxError",        # Explorer's copy (Chinese Windows)
    "dtg - Copy.xlsm": "SyntaxError",        # Explorer's copy (English Windows)
    "dtg(2).xlsm": "SyntaxError",
    "dtg副本.xlsm": "ModuleNotFoundError",   # a valid identifier, but no dtg副本.py
    "dtg_2021.xlsm": "ModuleNotFoundError",
    "dtg.2021.xlsm": "SyntaxError",          # InStrRev takes the last dot: import dtg.2021
    "dtg.v2.xlsm": "ModuleNotFoundError",    # import dtg.v2: dtg.py is not a package
    "评价.xlsm": "ModuleNotFoundError",
}


def test_which_renamed_copies_break_the_button(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "dtg.py").write_bytes((ROOT / "workbook" / "dtg.py").read_bytes())
    found = {name: button_outcome(folder, name) for name in RENAMES}
    assert found == RENAMES
    # renaming dtg.py along with the workbook makes a valid-identifier name work again
    (folder / "dtg_2021.py").write_bytes((ROOT / "workbook" / "dtg.py").read_bytes())
    assert button_outcome(folder, "dtg_2021.xlsm") == "ok"


def test_addin_button_does_not_depend_on_the_workbook_name():
    """RunMain imports the add-in's own name (ThisWorkbook = dtg_xl.xlam), never the active workbook's."""
    run_main = vba_modules(XLAM)["RibbonMyAddin.bas"]
    assert "ThisWorkbook.Name" in run_main and "ActiveWorkbook" not in run_main
    assert sample_call_module(XLAM.name) == "dtg_xl"
    compile("import dtg_xl;dtg_xl.main()", "<RunPython>", "exec")
