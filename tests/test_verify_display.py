"""Issue 14, items 13–14: verify trusts what a reader sees, and recomputes from inputs only.

13: a custom number format on a result cell ('"75.00"' on 汇总!B7, ';;;"中"' on B8) or a formula
    with a stale cached value shows a forged total; verify reports it, and evaluate and export give
    result cells back the template's own formats (and values, not formulas).
14: verify takes the profile from 参数 (never from 汇总) and says which profile it used and why.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from helpers import run_cli
from dtg_xl.results.layout import FACT_ROW

TOTAL, GRADE = f"B{FACT_ROW['综合得分']}", f"B{FACT_ROW['评价等次']}"


@pytest.fixture
def evaluated(example_copy, capsys) -> Path:
    out = example_copy.with_name("evaluated.xlsx")
    assert run_cli(["evaluate", example_copy, "-o", out], capsys)[0] == 0
    return out


def _format(path: Path, cells: dict[str, str]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for ref, code in cells.items():
        wb["汇总"][ref].number_format = code
    wb.save(path)


def _formats_of(path: Path, refs) -> dict[str, str]:
    import openpyxl

    ws = openpyxl.load_workbook(path)["汇总"]
    return {ref: ws[ref].number_format for ref in refs}


@pytest.mark.parametrize("cells", [{TOTAL: '"75.00"'}, {GRADE: ';;;"中"'}, {TOTAL: "0"}, {"D21": "0.00"}])
def test_verify_reports_a_forging_number_format(evaluated, capsys, cells):
    _format(evaluated, cells)
    code, out, err = run_cli(["verify", evaluated], capsys)
    assert code == 2, out
    for ref, fmt in cells.items():
        assert f"汇总!{ref}：数字格式为“{fmt}”，不是模板的" in out, out
    assert "显示方式不可信" in out


def test_openpyxl_resave_alone_still_verifies(evaluated, capsys):
    _format(evaluated, {})
    code, out, err = run_cli(["verify", evaluated], capsys)
    assert code == 0, out


def test_evaluate_and_export_reset_result_formats(evaluated, capsys, tmp_path):
    _format(evaluated, {TOTAL: '"75.00"', GRADE: ';;;"中"', "D21": "0.0"})
    again = tmp_path / "again.xlsx"
    assert run_cli(["evaluate", evaluated, "-o", again], capsys)[0] == 0
    assert _formats_of(again, (TOTAL, GRADE, "D21")) == {TOTAL: "0.00", GRADE: "General", "D21": "0.00%"}
    assert run_cli(["verify", again], capsys)[0] == 0
    exported = tmp_path / "exported.xlsx"
    assert run_cli(["export", evaluated, "-o", exported], capsys)[0] == 0
    assert _formats_of(exported, (TOTAL, GRADE, "D21")) == {TOTAL: "0.00", GRADE: "General", "D21": "0.00%"}
    assert run_cli(["verify", exported], capsys)[0] == 0


def test_verify_reports_a_formula_in_a_result_cell(evaluated, capsys):
    with zipfile.ZipFile(evaluated) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    part = "xl/worksheets/sheet5.xml"  # 汇总
    xml, n = re.subn(rf'<c r="{TOTAL}"([^>]*?) t="n"><v>([^<]*)</v></c>|<c r="{TOTAL}"([^>]*?)><v>([^<]*)</v></c>',
                     lambda m: f'<c r="{TOTAL}"{m.group(1) or m.group(3) or ""}><f>75</f><v>{m.group(2) or m.group(4)}</v></c>',
                     parts[part].decode())
    assert n == 1
    parts[part] = xml.encode()
    with zipfile.ZipFile(evaluated, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    code, out, err = run_cli(["verify", evaluated], capsys)
    assert code == 2
    assert f"汇总!{TOTAL}：结果单元格含公式 =75" in out, out


def test_verify_takes_the_profile_from_params(example_copy, capsys, tmp_path):
    overridden = tmp_path / "overridden.xlsx"
    assert run_cli(["evaluate", example_copy, "-o", overridden, "--profile", "mof-2020"], capsys)[0] == 0
    code, out, err = run_cli(["verify", overridden], capsys)
    assert code == 2, out
    assert "按评价方案“qingdao-2020”重新计算（取自参数!B4“qingdao-2020”；不采用汇总表中记录的方案）" in out
    assert "汇总表记录的评价方案为“mof-2020”，但按“参数”表应为“qingdao-2020”" in out


def test_verify_says_which_profile_it_used(evaluated, capsys):
    code, out, err = run_cli(["verify", evaluated], capsys)
    assert code == 0
    assert "按评价方案“qingdao-2020”重新计算（取自参数!B4“qingdao-2020”" in out


def _result_format_walk(sheet, row, col):
    """result_format as it was: the facts, then a walk over the blocks (the reference)."""
    from dtg_xl.core.schema import SHEET_INDICATORS, SHEET_SUMMARY
    from dtg_xl.results.layout import FACT_ROW, PERCENT_COLUMNS, SUMMARY_BLOCKS

    if sheet == SHEET_SUMMARY:
        if col == 2 and row in FACT_ROW.values():
            return "0.00" if row == FACT_ROW["综合得分"] else "General"
        for b in SUMMARY_BLOCKS:
            if b.first_row <= row <= b.last_row and b.col <= col < b.col + b.width:
                return "0.00%" if col - b.col in PERCENT_COLUMNS.get(b, ()) else "0.00"
    if sheet == SHEET_INDICATORS:
        return "0.00"
    return None


def test_result_formats_looked_up_once_are_those_of_the_block_walk():
    """layout.result_format reads a table built once (the zip patch asks for every written cell);
    every cell of 汇总, 指标体系 and another sheet, past the last block, gets the format the walk gave."""
    from dtg_xl.results.layout import result_format

    for sheet in ("汇总", "指标体系", "参数"):
        for row in range(1, 330):
            for col in range(1, 22):
                assert result_format(sheet, row, col) == _result_format_walk(sheet, row, col), (sheet, row, col)
