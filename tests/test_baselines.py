"""基准对比: 通关时间压缩率 computed from baseline and current values, referenced by indicators."""
from __future__ import annotations

import pytest
from python_calamine import CalamineWorkbook

from dtg_xl.core.baselines import compression_rate
from dtg_xl.core.references import parse
from dtg_xl.xlsx.books import FileBook
from dtg_xl.results.pipeline import evaluate_book, result_json

from helpers import edit_cells, run_json

# 指标体系 rows of the two compression indicators in the 2020 example; 实际值 is column J
IMPORT_ROW, EXPORT_ROW = 21, 22


def test_derived_2017_baselines_reproduce_the_published_rates():
    assert compression_rate(96.59, 38.49) == 60.15
    assert compression_rate(21.51, 2.48) == 88.47
    # the documented ranges of 2-dp baselines that give the same published rates
    assert [compression_rate(b, 38.49) for b in (96.57, 96.58, 96.59, 96.60)] == [60.14, 60.15, 60.15, 60.16]
    assert [compression_rate(b, 2.48) for b in (21.49, 21.50, 21.51, 21.52)] == [88.46, 88.47, 88.47, 88.48]


def test_reference_syntax():
    assert parse("基准对比:进口整体通关时间").parts == ("进口整体通关时间",)
    assert parse(" 基准对比： 出口整体通关时间 ").parts == ("出口整体通关时间",)
    assert parse(60.15) is None and parse("60.15") is None


def test_example_computes_its_compression_indicators(example_copy, capsys):
    rows = CalamineWorkbook.from_path(str(example_copy)).get_sheet_by_name("指标体系").to_python()
    assert rows[IMPORT_ROW - 1][9] == "基准对比:进口整体通关时间"  # typed nowhere: a reference
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 0 and data["total"] == 96.65 and data["grade"] == "优"
    actual = {i["l3"]: i["actual"] for i in data["indicators"]}
    assert actual["进口整体通关时间较2017年压缩率"] == 60.15
    assert actual["出口整体通关时间较2017年压缩率"] == 88.47
    # the computed rates are written next to their inputs
    out = example_copy.with_name("demo-评价结果.xlsx")
    sheet = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("基准对比").to_python()
    assert sheet[0][:6] == ["指标", "基准年", "基准值", "当年值", "计量单位", "压缩率"]
    assert [r[5] for r in sheet[1:3]] == [60.15, 88.47]


def test_current_value_drives_the_score(example_copy, capsys):
    edit_cells(example_copy, {"基准对比": {"D2": 60}})  # import time 60 h: (96.59-60)/96.59 = 37.88%
    code, data = run_json(["evaluate", example_copy], capsys)
    ind = next(i for i in data["indicators"] if i["l3"] == "进口整体通关时间较2017年压缩率")
    assert ind["actual"] == 37.88 and ind["score"] == 3.79  # 正向: 5 × 37.88 / 50
    assert data["total"] == 95.44 and data["grade"] == "优"


@pytest.mark.parametrize("edits, where, text", [
    ({"指标体系": {f"J{IMPORT_ROW}": "基准对比:进口通关时间"}}, ("指标体系", f"J{IMPORT_ROW}"), "不在基准对比表中"),
    ({"基准对比": {"C2": 0}}, ("基准对比", "C2"), "基准值必须大于0"),
    ({"基准对比": {"D3": "两小时"}}, ("基准对比", "D3"), "当年值应为数字"),
    ({"基准对比": {"A3": "进口整体通关时间"}}, ("基准对比", "A3"), "重复"),
])
def test_bad_baselines_are_reported_with_cells(example_copy, capsys, edits, where, text):
    edit_cells(example_copy, edits)
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 2 and data["total"] is None
    found = {(e["sheet"], e["cell"]): e["message"] for e in data["errors"]}
    assert where in found and text in found[where], found


def test_indicator_pointing_at_a_broken_baseline_names_both(example_copy, capsys):
    edit_cells(example_copy, {"基准对比": {"C2": None}})
    code, data = run_json(["evaluate", example_copy], capsys)
    found = {(e["sheet"], e["cell"]): e["message"] for e in data["errors"]}
    assert "缺少基准值" in found[("基准对比", "C2")]
    assert "基准对比!A2" in found[("指标体系", f"J{IMPORT_ROW}")]


class WithoutSheet:
    """A book that hides one sheet: an older workbook made before 基准对比 existed."""

    def __init__(self, book, hidden):
        self.book, self.hidden = book, hidden

    def sheet_names(self):
        return [s for s in self.book.sheet_names() if s != self.hidden]

    def sheet_values(self, name):
        return self.book.sheet_values(name)

    def write(self, *args):
        pass


def test_reference_without_the_sheet_is_an_error_and_plain_numbers_still_work(example_copy):
    book = FileBook(example_copy)
    try:
        result = evaluate_book(WithoutSheet(book, "基准对比"))
        assert any(p.cell == f"J{IMPORT_ROW}" and "没有可用的“基准对比”" in p.message for p in result.errors)
    finally:
        book.close()
    edit_cells(example_copy, {"指标体系": {f"J{IMPORT_ROW}": 60.15, f"J{EXPORT_ROW}": 88.47}})
    book = FileBook(example_copy)
    try:
        data = result_json(evaluate_book(WithoutSheet(book, "基准对比")))
        assert data["total"] == 96.65 and data["errors"] == []
    finally:
        book.close()


def test_template_sheet_as_a_user_sees_it(example_path):
    import openpyxl

    ws = openpyxl.load_workbook(example_path)["基准对比"]
    assert [c.value for c in ws[1]][:7] == ["指标", "基准年", "基准值", "当年值", "计量单位", "压缩率", "说明"]
    assert ws["A2"].value == "进口整体通关时间" and ws["C2"].value == 96.59 and ws["D2"].value == 38.49
    assert ws["F2"].value is None and ws["F2"].fill.fgColor.rgb.endswith("F2F2F2")  # output, filled by the program
    assert "压缩率（%）" in ws["I1"].value and "基准对比:" in ws["I1"].value  # how to reference a row
