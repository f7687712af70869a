"""What a user sees on the 模拟 and 同比 sheets and the 指标体系 columns: opened with openpyxl,
and rendered by LibreOffice to text (that tier skips without soffice)."""
from __future__ import annotations

import shutil
import subprocess

import openpyxl
import pytest

from dtg_xl.results import compare
from dtg_xl.results import whatif

from helpers import edit_cells, run_json

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_simulation_sheet_in_the_template(example_path):
    ws = openpyxl.load_workbook(example_path)["模拟"]
    assert ws["A1"].value.startswith("模拟（假设分析）") and "A1:M1" in {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(3, c).value for c in range(1, 6)] == list(whatif.SIM_INPUT_HEADERS)
    assert [ws.cell(4 + i, 7).value for i in range(len(whatif.SIM_FACTS))] == list(whatif.SIM_FACTS)
    assert [ws.cell(whatif.SIM_MOVED_HEADER_ROW, 7 + c).value for c in range(7)] == list(whatif.SIM_MOVED_HEADERS)
    [dv] = [d for d in ws.data_validations.dataValidation if "A4" in str(d.sqref)]
    assert dv.type == "list" and "指标体系" in dv.formula1 and str(dv.sqref) == "A4:A53"
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToHeight == 0  # one page wide (fitToWidth 1 is the default, not written)
    assert ws.freeze_panes == "A4"


def test_compare_sheet_in_the_template(example_path):
    ws = openpyxl.load_workbook(example_path)["同比"]
    assert ws["A1"].value == compare.TITLE
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {f"B{compare.FACTS_ROW + i}:E{compare.FACTS_ROW + i}" for i in range(len(compare.FACTS))} <= merged
    assert [ws.cell(compare.IND_HEADER_ROW, c).value for c in range(1, len(compare.IND_HEADERS) + 1)] == list(compare.IND_HEADERS)
    assert compare.IND_HEADERS[-1] == "评价调整"  # the column issue 12 added
    assert ws.cell(compare.FACTS_ROW + 2, 2).number_format == "0.00"  # 上年综合得分 shows two decimals


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_shows_the_simulated_result(example_copy, tmp_path, capsys):
    edit_cells(example_copy, {"模拟": {"A4": "指标体系", "B4": "N4", "C4": 0}})  # drop the 0.75 deduction
    out = tmp_path / "out.xlsx"
    code, _ = run_json(["evaluate", example_copy, "-o", out], capsys)
    assert code == 0
    profile = tmp_path / "lo-profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(out)], check=True, capture_output=True, timeout=240)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "out.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    sim = next(page for page in text.split("\f") if "模拟结果" in page)
    assert "97.40" in sim and "已模拟1处修改" in sim and "绩效目标合理性" in sim
