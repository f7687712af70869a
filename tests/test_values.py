"""Issue 14, items 1–7: numbers read from ordinary input mean what the cell shows.

Every case is a real workbook (the 2020 example, edited with openpyxl as a clerk's Excel would
save it, or with its XML edited where openpyxl cannot write the cell: error values, formulas
without a cached value, two sheets of one name), run through the real CLI.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from helpers import engine_result, run_cli
def _v():
    from dtg_xl.core import values as v
    return v

POSITIVE_ROW = 19  # 正向, 分值 5, 目标值 50, 实际值 50 (集装箱进口环节通关成本较2017年下降)
TIERED_ROW = 25  # 分档
RANK_ROW = 23  # 排名


def _edit(path: Path, edits: dict, formats: dict | None = None, delete: tuple = (), rename: dict | None = None):
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for sheet, cells in edits.items():
        for ref, value in cells.items():
            wb[sheet][ref] = value
    for (sheet, ref), code in (formats or {}).items():
        wb[sheet][ref].number_format = code
    for sheet in delete:
        del wb[sheet]
    for old, new in (rename or {}).items():
        wb[old].title = new
    wb.save(path)


def _edit_xml(path: Path, part: str, edit) -> None:
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts[part] = edit(parts[part].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)


def _set_cell_xml(xml: str, ref: str, body: str, attrs: str = "") -> str:
    new, n = re.subn(rf'<c r="{ref}"(?: [^>]*?)?(?:/>|>.*?</c>)', f'<c r="{ref}"{attrs}>{body}</c>', xml, count=1)
    assert n == 1, ref
    return new


def _messages(result) -> list[str]:
    return [str(p) for p in result.errors]


# ---------------------------------------------------------------- item 1: percent formats
def test_percent_formatted_actual_reads_as_the_percentage_shown(example_copy):
    """A clerk types 95% into 实际值: Excel stores 0.95 with format 0%. Target 100 → 5 × 95/100."""
    _edit(example_copy, {"指标体系": {f"I{POSITIVE_ROW}": 100, f"J{POSITIVE_ROW}": 0.95}},
          formats={("指标体系", f"J{POSITIVE_ROW}"): "0%"})
    result = engine_result(example_copy)
    assert result.ok, _messages(result)
    i = list(result.model.rows).index(POSITIVE_ROW)
    assert float(result.scores[i]) == 4.75  # read as 0.95 it scored 0.05


def test_percent_formatted_target_and_custom_formats(example_copy):
    _edit(example_copy, {"指标体系": {f"I{POSITIVE_ROW}": 0.5, f"J{POSITIVE_ROW}": 0.4}},
          formats={("指标体系", f"I{POSITIVE_ROW}"): "0.00%", ("指标体系", f"J{POSITIVE_ROW}"): '[Blue]0.0%;"负"'})
    result = engine_result(example_copy)
    i = list(result.model.rows).index(POSITIVE_ROW)
    assert result.model.indicators["target"][i] == 50 and result.model.indicators["actual"][i] == 40
    assert float(result.scores[i]) == 4.0


def test_percent_format_detection():
    from dtg_xl.xlsx.cells import is_percent_format
    assert is_percent_format("0%") and is_percent_format("0.00%") and is_percent_format("#,##0.0%;[Red]-0.0%")
    assert not is_percent_format('0.00"%"') and not is_percent_format("0.00\\%") and not is_percent_format("General")
    assert not is_percent_format("[$%-409]0.00")


def test_fractions_keep_the_stored_value():
    from dtg_xl.xlsx.cells import Percent
    values, Kind = _v(), _v().Kind
    assert values.number(Percent(0.6), "权重", kind=Kind.FRACTION) == 0.6
    assert values.number("60%", "权重", kind=Kind.FRACTION) == 0.6
    assert values.number(Percent(0.07), "实际值") == 7.0  # exact in decimal, not 7.000000000000001
    assert str(values.parse_decimal("12.5%", "权重", kind=Kind.FRACTION)) == "0.125"


# ---------------------------------------------------------------- item 2: money refuses percents
@pytest.mark.parametrize("value,fmt", [("100%", None), ("1500%", None), (15.0, "0%"), ("１００％", None)])
def test_money_columns_refuse_percents(example_copy, capsys, value, fmt):
    _edit(example_copy, {"单位填报": {"D2": value}}, formats={("单位填报", "D2"): fmt} if fmt else None)
    code, out, err = run_cli(["evaluate", example_copy, "-o", example_copy.with_name("o.xlsx")], capsys)
    assert code == 2
    assert "单位填报!D2：年初预算是金额（万元），不能填百分数" in err, err


def test_points_refuse_percents(example_copy):
    _edit(example_copy, {"指标体系": {"F2": "3%"}})
    assert "指标体系!F2：分值是分数，不能填百分数（单元格显示为“3%”）" in _messages(engine_result(example_copy))


# ---------------------------------------------------------------- item 3: say what the cell holds
def test_error_values_booleans_and_uncalculated_formulas(example_copy, capsys):
    _edit(example_copy, {"指标体系": {f"J{RANK_ROW}": True}})

    def edit(xml):
        xml = _set_cell_xml(xml, f"J{POSITIVE_ROW}", "<v>#DIV/0!</v>", ' t="e"')
        xml = _set_cell_xml(xml, f"J{TIERED_ROW}", "<f>SUM(A1:A3)</f>")
        return _set_cell_xml(xml, "I22", "<f>NA()</f><v>#N/A</v>", ' t="e"')

    _edit_xml(example_copy, "xl/worksheets/sheet3.xml", edit)
    code, out, err = run_cli(["evaluate", example_copy, "-o", example_copy.with_name("o.xlsx")], capsys)
    assert code == 2
    assert f"指标体系!J{POSITIVE_ROW}：实际值：单元格是错误值 #DIV/0!" in err
    assert "指标体系!I22：目标值：单元格是错误值 #N/A" in err
    assert f"指标体系!J{TIERED_ROW}：实际值：公式尚未计算（文件中没有保存公式结果：=SUM(A1:A3)）：请在 Excel 中打开并保存后再试" in err
    assert f"指标体系!J{RANK_ROW}：实际值应为数字，单元格是逻辑值 TRUE" in err
    assert "缺少实际值" not in err


def test_error_in_a_text_cell_and_a_parameter(example_copy):
    def edit(xml):
        return _set_cell_xml(xml, "B4", "<v>#REF!</v>", ' t="e"')  # 参数!B4 = 评价方案

    _edit_xml(example_copy, "xl/worksheets/sheet2.xml", edit)
    result = engine_result(example_copy)
    assert "参数!B4：评价方案：单元格是错误值 #REF!，请修正公式或改填数值" in _messages(result)


# ---------------------------------------------------------------- item 4: one missing header
def test_renamed_header_gives_one_error(example_copy):
    from dtg_xl.core.model import read_model
    from dtg_xl.xlsx.books import FileBook

    _edit(example_copy, {"指标体系": {"J1": "实际"}})
    book = FileBook(example_copy)
    problems = read_model(book)
    book.close()
    assert [str(p) for p in problems] == ["指标体系!1:1：缺少表头：实际值"]  # was 14 errors about column E


def test_headers_needed_follow_each_method_spelling_in_order():
    # the headers a sheet needs come from each method it names, first occurrence first; a formula
    # cell showing 定性 (not yet calculated) does not stand for the text 定性 further down
    from dtg_xl.core.model import _needed_headers
    from dtg_xl.core.schema import HEADER_ROW
    from dtg_xl.xlsx.cells import Uncalculated

    header = [[None]] * HEADER_ROW
    rows = [*header, [Uncalculated("定性")], ["扣分"], [None], ["未知"], ["定性"], ["扣分"], []]
    assert _needed_headers(rows, {"method": 1}) == ("扣分", "定性等级", "评定得分")
    assert _needed_headers([*header, [1.0], [True]], {"method": 1}) == ()


def test_rows_cut_short_read_as_full_rows(example_copy):
    # a reader may end a row at its last filled cell (the remote Book, openpyxl's iter_rows): the
    # indicators, their problems and warnings are the same as from full-width rows
    import numpy as np

    from dtg_xl.core.model import read_model
    from dtg_xl.xlsx.books import FileBook

    _edit(example_copy, {"指标体系": {f"J{POSITIVE_ROW}": None, f"I{RANK_ROW}": "#N/A", "F3": "三分"}})

    class ShortRows(FileBook):
        def sheet_values(self, name):
            rows = [list(row) for row in super().sheet_values(name)]
            for row in rows:
                while row and row[-1] in (None, ""):
                    row.pop()
            return rows

    found = []
    for kind in (FileBook, ShortRows):
        book = kind(example_copy)
        try:
            found.append(read_model(book))
        finally:
            book.close()
    full, short = found
    assert [str(p) for p in short.errors] == [str(p) for p in full.errors]
    assert [str(p) for p in short.warnings] == [str(p) for p in full.warnings]
    assert [p.cell for p in full.errors][:3] == ["F3", f"J{POSITIVE_ROW}", f"I{RANK_ROW}"]  # then the sums
    assert short.indicators.keys() == full.indicators.keys()
    for name, column in full.indicators.items():
        np.testing.assert_array_equal(short.indicators[name], column, err_msg=name)
    book = ShortRows(example_copy)
    rows = book.sheet_values("指标体系")
    assert min(len(row) for row in rows[1:]) < len(rows[0]) == 20  # the rows really are short
    book.close()


# ---------------------------------------------------------------- item 5: full-width and separators
def test_full_width_and_thousands_separators(example_copy):
    _edit(example_copy, {"单位填报": {"D2": "1,500", "E2": "９００", "F2": "２,４００．０", "G2": "2 400"},
                         "指标体系": {f"I{POSITIVE_ROW}": "５０％", f"J{POSITIVE_ROW}": "５０"}})
    result = engine_result(example_copy)
    assert result.ok, _messages(result)
    assert result.total == 96.65
    unit = result.model.units[0]
    assert (unit["initial"], unit["added"], unit["in_place"], unit["spent"]) == (1500, 900, 2400, 2400)


@pytest.mark.parametrize("text,message", [
    ("1,5", "中的逗号位置不对"), ("12,34.5", "中的逗号位置不对"), ("\u0663", "应为数字"), ("NaN", "应为数字"),
    ("¥1500", "应为数字"), ("1e400", "超出可计算的范围")])
def test_ambiguous_text_is_refused(text, message):
    values = _v()
    with pytest.raises(values.RuleError, match=message):
        values.number(text, "年初预算", kind=values.Kind.MONEY)


# ---------------------------------------------------------------- item 6: the output sheet
@pytest.mark.parametrize("how", ["deleted", "renamed", "duplicated"])
def test_missing_or_ambiguous_summary_is_refused_before_writing(example_copy, capsys, how):
    if how == "deleted":
        _edit(example_copy, {}, delete=("汇总",))
    elif how == "renamed":
        _edit(example_copy, {}, rename={"汇总": "汇总 "})
    else:
        _edit_xml(example_copy, "xl/workbook.xml", lambda x: x.replace('name="模拟"', 'name="汇总"', 1))
    out = example_copy.with_name("o.xlsx")
    before = example_copy.read_bytes()
    code, stdout, err = run_cli(["evaluate", example_copy, "-o", out], capsys)
    assert code == 2 and not out.exists() and example_copy.read_bytes() == before
    assert "未写入任何内容" in err and "结果已写入" not in stdout
    expected = {"deleted": "缺少工作表“汇总”", "renamed": "有名为“汇总 ”的工作表，名称多了空格或字形不同",
                "duplicated": "工作簿中有2个名为“汇总”的工作表"}[how]
    assert expected in err, err


# ---------------------------------------------------------------- item 7: overflow at the input cell
def test_overflow_is_reported_at_the_input_cell(example_copy, capsys):
    _edit(example_copy, {"指标体系": {f"I{POSITIVE_ROW}": 1.7e308}, "单位填报": {"D2": 1.7e308}})
    code, out, err = run_cli(["evaluate", example_copy, "-o", example_copy.with_name("o.xlsx")], capsys)
    assert code == 2
    assert f"指标体系!I{POSITIVE_ROW}：目标值超出可计算的范围" in err
    assert "单位填报!D2：年初预算超出可计算的范围" in err
    assert "汇总!" not in err


def test_markers_are_what_they_say():
    from dtg_xl.xlsx.cells import CellError, Uncalculated
    values = _v()
    assert values.cell_problem(CellError("#NUM!")).startswith("单元格是错误值 #NUM!")
    assert values.cell_problem("#DIV/0!").startswith("单元格是错误值 #DIV/0!")  # an xlwings/remote error value
    assert values.cell_problem(Uncalculated("")).startswith("公式尚未计算")
    assert values.cell_problem("95%") is None
