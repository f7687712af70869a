"""Build ``workbook/dtg_xl.xlam``: the 绩效评价 Excel add-in, from xlwings' own quickstart add-in.

``xlwings quickstart dtg_xl --addin --ribbon`` (run in a temp folder) gives ``dtg_xl.xlam``:
xlwings' VBA (``RunPython``, ``GetConfig`` with ``PROJECT_NAME = "myaddin"``,
``ImportPythonUDFsToAddin``), a module ``RibbonMyAddin`` whose ``RunMain(control As
IRibbonControl)`` runs ``RunPython "import <add-in name>; <add-in name>.main()"``, a ribbon
(``customUI/customUI.xml``) with one button bound to ``RibbonMyAddin.RunMain`` and an inactive
settings sheet ``_myaddin.conf``.  We keep every part byte for byte except three:

* ``customUI/customUI.xml`` — our ribbon: a 绩效评价 tab whose button 计算评分 is bound to the
  same ``RibbonMyAddin.RunMain`` (the only ribbon callback the VBA has; what the click also
  produces is chosen on the active workbook's 控制台, as in ``dtg.xlsm``);
* the settings sheet — values for ``Interpreter_Win`` (the bundle's venv, with
  ``%LOCALAPPDATA%`` expanded by xlwings' ``GetConfig``) and ``UDF Modules`` (``dtg_xl.udfs``),
  written with ``dtg_xl.xlsx.patch``;
* ``xl/workbook.xml`` — the sheet renamed ``_myaddin.conf`` → ``myaddin.conf``, the name
  ``GetConfig`` reads in ``ThisWorkbook`` (the add-in) after the active workbook.

The add-in is named ``dtg_xl.xlam`` so ``RunMain`` runs ``import dtg_xl; dtg_xl.main()``: the
Python side is inside the installed package (``dtg_xl.main`` → ``dtg_xl.doors.addin.main``), no
``.py`` file has to travel with the add-in, and the add-in can sit in Excel's per-user XLSTART
folder (which opens every file in it).  ``xlwings.Book.caller()`` is the *active* workbook
(xlwings passes ``ActiveWorkbook.Name``), so the evaluation workbook can be a plain ``.xlsx``.
No VBA is written: the VBA binary is xlwings', the zip entries keep xlwings' timestamps, so the
output is deterministic (tests/test_addin.py rebuilds and compares byte for byte).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lxml import etree

from dtg_xl.doors.workbook_build import UDF_MODULES, BuildError
from dtg_xl.xlsx.patch import patch_workbook, write_copy

NAME = "dtg_xl"  # RunMain imports the add-in's file name: import dtg_xl; dtg_xl.main()
DEFAULT_OUTPUT = Path("workbook") / f"{NAME}.xlam"
RIBBON_PART = "customUI/customUI.xml"
RIBBON_MACRO = "RibbonMyAddin.RunMain"  # xlwings' quickstart ribbon module and callback
QUICKSTART_CONF = "_myaddin.conf"  # inactive in the quickstart; GetConfig reads PROJECT_NAME & ".conf"
CONF_SHEET = "myaddin.conf"
VENV = r"%LOCALAPPDATA%\dtg_xl\venv"  # where 安装.cmd creates the per-user venv
INTERPRETER_WIN = VENV + r"\Scripts\python.exe"
TAB_LABEL = "绩效评价"
CUI_NS = "http://schemas.microsoft.com/office/2006/01/customui"

RIBBON = f"""<customUI xmlns="{CUI_NS}">
    <ribbon>
        <tabs>
            <tab id="dtgTab" label="{TAB_LABEL}">
                <group id="dtgGroup" label="项目支出绩效评价">
                    <button id="dtgEvaluate" label="计算评分" size="large" onAction="{RIBBON_MACRO}" imageMso="MacroPlay"
                        screentip="计算评分（当前工作簿）"
                        supertip="校验并计分当前工作簿：结果写入“指标体系”得分列、“汇总”表和“控制台”状态；是否生成邮件版、图表、报告、邮件草稿由“控制台”的设置决定。" />
                </group>
            </tab>
        </tabs>
    </ribbon>
</customUI>
"""


def run_quickstart_addin(folder: Path, name: str = NAME) -> Path:
    """Run ``xlwings quickstart NAME --addin --ribbon`` in folder; returns the .xlam it made."""
    code = "import sys; from xlwings.cli import main; sys.argv[0] = 'xlwings'; main()"
    proc = subprocess.run([sys.executable, "-c", code, "quickstart", name, "--addin", "--ribbon"],
                          cwd=folder, capture_output=True, text=True)
    xlam = folder / name / f"{name}.xlam"
    if proc.returncode != 0 or not xlam.is_file():
        raise BuildError(f"xlwings quickstart --addin --ribbon 运行失败：{(proc.stderr or proc.stdout).strip()[-500:]}")
    return xlam


def conf_rows(xlam: Path, sheet: str = QUICKSTART_CONF) -> dict[str, int]:
    """Key -> 1-based row of the add-in's settings sheet (A1 down to the first empty cell)."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(xlam))
    try:
        if sheet not in wb.sheet_names:
            raise BuildError(f"xlwings 的加载项模板中没有设置表“{sheet}”，xlwings 版本可能不兼容")
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    finally:
        wb.close()
    keys = {}
    for r, row in enumerate(rows, start=1):
        if not row or row[0] in ("", None):
            break
        keys[str(row[0])] = r
    return keys


def _renamed_conf(workbook_xml: bytes) -> bytes:
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    root = etree.fromstring(workbook_xml)
    sheets = [s for s in root.findall("m:sheets/m:sheet", ns) if s.get("name") == QUICKSTART_CONF]
    if len(sheets) != 1:
        raise BuildError(f"xlwings 的加载项模板中没有设置表“{QUICKSTART_CONF}”")
    sheets[0].set("name", CONF_SHEET)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def build_addin(output: str | Path = DEFAULT_OUTPUT, interpreter: str = INTERPRETER_WIN) -> Path:
    """Build the add-in at output (its file name must stay dtg_xl.xlam: RunMain imports it)."""
    output = Path(output)
    if output.name != f"{NAME}.xlam":
        raise BuildError(f"加载项文件名须为 {NAME}.xlam：功能区按钮运行 import {NAME}; {NAME}.main()")
    if not output.parent.is_dir():
        raise BuildError(f"文件夹不存在：{output.parent}")
    with tempfile.TemporaryDirectory(prefix="dtg-addin-") as tmp:
        xlam = run_quickstart_addin(Path(tmp))
        keys = conf_rows(xlam)
        missing = [k for k in ("Interpreter_Win", "UDF Modules") if k not in keys]
        if missing:
            raise BuildError(f"xlwings 加载项的设置表缺少：{'、'.join(missing)}")
        step = Path(tmp) / "conf.xlam"
        patch_workbook(xlam, step, {QUICKSTART_CONF: {(keys["Interpreter_Win"], 2): interpreter,
                                                      (keys["UDF Modules"], 2): UDF_MODULES}})
        with zipfile.ZipFile(step) as zin:
            names = zin.namelist()
            if RIBBON_PART not in names:
                raise BuildError("xlwings 的加载项模板中没有功能区（customUI.xml）")
            replaced = {RIBBON_PART: RIBBON.encode("utf-8"), "xl/workbook.xml": _renamed_conf(zin.read("xl/workbook.xml"))}
        write_copy(step, output, replaced)  # every other part byte for byte, xlwings' timestamps kept
    return output
