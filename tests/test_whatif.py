"""What-if: `dtg-xl whatif` leaves the input byte-identical and its numbers equal a real
re-evaluation of an edited copy; bad references are clear Chinese errors; the 模拟 sheet gives
the same result through `evaluate`."""
from __future__ import annotations

import hashlib
import shutil

import openpyxl
import pytest

from dtg_xl.xlsx.books import FileBook
from dtg_xl.results.whatif import PatchedBook, WhatIfError, run_whatif, Change

from helpers import edit_cells, run_cli, run_json


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cols(path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path, read_only=True)["指标体系"]
    header = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
    return {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(header, start=1) if h}


def _row(path, l3: str) -> int:
    ws = openpyxl.load_workbook(path, read_only=True)["指标体系"]
    return next(r for r, row in enumerate(ws.iter_rows(values_only=True), start=1) if l3 in row)


@pytest.fixture
def changes(example_copy):
    """Three changes across two sheets: a shortfall, a removed deduction, a unit's spending."""
    c = _cols(example_copy)
    return {
        "指标体系": {f"{c['实际值']}{_row(example_copy, '监管出入境船舶艘次')}": 8000,
                 f"{c['扣分']}{_row(example_copy, '绩效目标合理性')}": 0,
                 f"{c['实际值']}{_row(example_copy, '进口整体通关时间较2017年压缩率')}": 40},
        "单位填报": {"G2": 100},
    }


def _set_args(changes: dict) -> list[str]:
    return [a for sheet, cells in changes.items() for ref, v in cells.items() for a in ("--set", f"{sheet}!{ref}={v}")]


def test_whatif_leaves_the_input_byte_identical_and_equals_an_edited_copy(example_copy, changes, capsys):
    before_hash = sha(example_copy)
    before_files = sorted(p.name for p in example_copy.parent.iterdir())
    code, w = run_json(["whatif", example_copy, *_set_args(changes)], capsys)
    assert code == 0
    assert sha(example_copy) == before_hash
    assert sorted(p.name for p in example_copy.parent.iterdir()) == before_files  # no file written

    edited = example_copy.with_name("edited.xlsx")
    shutil.copyfile(example_copy, edited)
    edit_cells(edited, changes)
    code, real = run_json(["evaluate", edited], capsys)
    assert code == 0
    assert (w["after"]["total"], w["after"]["grade"]) == (real["total"], real["grade"])
    assert w["after"]["categories"] == [{"name": c["name"], "score": c["score"]} for c in real["categories"]]
    assert w["after"]["warnings"] == real["warnings"]
    code, orig = run_json(["evaluate", example_copy], capsys)
    assert (w["before"]["total"], w["before"]["grade"]) == (orig["total"], orig["grade"]) == (96.65, "优")
    # every indicator whose score differs between the two real evaluations, and only those
    old = {i["row"]: i["score"] for i in orig["indicators"]}
    new = {i["row"]: i["score"] for i in real["indicators"]}
    assert {m["row"]: (m["before"], m["after"]) for m in w["moved"]} == \
        {r: (old[r], new[r]) for r in old if old[r] != new[r]}
    # hand check: 3.56 (8000/9000×4), 3 (0.75 deduction gone), 4 (40/50×5), and 单位填报!G2 2400 → 100 moves the
    # 预算执行率 indicator (实际值 预算:执行率): 4248.5 / 6548.5 = 64.88% → 4 × 0.6488 = 2.60;
    # 96.65 − 0.44 + 0.75 − 1 − 1.40 = 94.56
    assert [(m["l3"], m["after"], m["change"]) for m in w["moved"]] == [
        ("绩效目标合理性", 3, 0.75), ("预算执行率", 2.6, -1.4), ("监管出入境船舶艘次", 3.56, -0.44),
        ("进口整体通关时间较2017年压缩率", 4, -1)]
    assert w["after"]["total"] == 94.56 and w["change"] == -2.09
    assert [c["cell"] for c in w["changes"]][-1] == "单位填报!G2"


def test_whatif_text_output(example_copy, changes, capsys):
    code, out, _ = run_cli(["whatif", example_copy, *_set_args(changes)], capsys)
    assert code == 0
    assert "综合得分 96.65 → 94.56（-2.09），等次 优 → 优" in out
    assert "预算执行率：4 → 2.6（-1.40）" in out  # 单位填报!G2 is a source of 预算:执行率
    assert "监管出入境船舶艘次：4 → 3.56（-0.44）" in out
    assert "模拟修改：单位填报!G2" in out


def test_grade_change_is_reported(example_copy, capsys):
    c = _cols(example_copy)
    row = _row(example_copy, "计划任务完成及时率")  # 7 points
    code, w = run_json(["whatif", example_copy, "--set", f"指标体系!{c['实际值']}{row}=0"], capsys)
    assert code == 0 and w["after"]["total"] == 89.65 and w["after"]["grade"] == "良" and w["grade_changed"]


def test_bad_references_are_all_reported_in_chinese(example_copy, capsys):
    before = sha(example_copy)
    code, out, err = run_cli(["whatif", example_copy, "--set", "不存在!A1=1", "--set", "指标体系J12=95",
                              "--set", "指标体系!12J=1", "--set", "指标体系!J12", "--set", "汇总!B7=100",
                              "--set", "指标体系!R5=3", "--set", "指标体系!A1=x", "--set", "指标体系!J12==A1"], capsys)
    assert code == 2 and out == ""
    for text in ("工作簿中没有工作表“不存在”", "“指标体系J12”缺少工作表名", "单元格“12J”格式不对",
                 "“指标体系!J12”缺少“=”", "“汇总”由程序填写", "“得分”列由程序计算", "第1行是表头",
                 "模拟值不能是公式"):
        assert text in err, text
    assert "Traceback" not in err and sha(example_copy) == before


def test_a_value_the_rules_reject_names_the_cell(example_copy, capsys):
    c = _cols(example_copy)
    row = _row(example_copy, "监管出入境船舶艘次")
    code, w = run_json(["whatif", example_copy, "--set", f"指标体系!{c['实际值']}{row}=很多"], capsys)
    assert code == 2 and w["after"]["total"] is None
    assert {(e["sheet"], e["cell"]) for e in w["after"]["errors"]} == {("指标体系", f"{c['实际值']}{row}")}


def test_missing_file_and_no_set(example_copy, capsys):
    code, _, err = run_cli(["whatif", example_copy.with_name("nope.xlsx"), "--set", "指标体系!J2=1"], capsys)
    assert code == 2 and "找不到文件" in err
    code, _, err = run_cli(["whatif", example_copy], capsys)
    assert code == 2 and "至少一个模拟值" in err
    code, _, err = run_cli(["whatif", example_copy, "--set", "指标体系!J1048577=1"], capsys)
    assert code == 2 and "格式不对" in err
    code, _, err = run_cli(["whatif", example_copy, "--set", "指标体系!J13=1", "--set", "指标体系!$J$13=2"], capsys)
    assert code == 2 and "指标体系!J13：指定了2次" in err


def test_blank_value_clears_a_cell_and_far_rows_are_fine(example_copy, capsys):
    c = _cols(example_copy)
    row = _row(example_copy, "监管出入境船舶艘次")
    code, w = run_json(["whatif", example_copy, "--set", f"指标体系!{c['实际值']}{row}="], capsys)
    assert code == 2 and w["changes"][0]["after"] is None
    assert any("实际值" in e["message"] for e in w["after"]["errors"])  # 正向 needs an 实际值
    # a note far below the table is read as one more row: an indicator without name or points
    code, w = run_json(["whatif", example_copy, "--set", "指标体系!E5000=新指标"], capsys)
    assert code == 2 and any(e["cell"].endswith("5000") for e in w["after"]["errors"])
    code, w = run_json(["whatif", example_copy, "--set", "参数!B4=mof-2020"], capsys)
    assert code == 0 and w["after"]["total"] == 96.65 and w["changes"][0]["before"] == "qingdao-2020"


def test_patched_view_does_not_change_the_books_own_values(example_path):
    book = FileBook(example_path)
    try:
        original = [list(r) for r in book.sheet_values("指标体系")]
        view = PatchedBook(book, [Change("指标体系", 2, 10, 1.0), Change("指标体系", 400, 30, "x")])
        patched = view.sheet_values("指标体系")
        assert patched[1][9] == 1.0 and patched[399][29] == "x"
        assert patched[1][:9] == original[1][:9] and patched[398] == []
        assert book.sheet_values("指标体系") == original
        with pytest.raises(WhatIfError):
            run_whatif(book, ["指标体系!J2"])
    finally:
        book.close()


# ---------------------------------------------------------------- the 模拟 sheet
def test_simulation_sheet_gives_the_same_result_through_evaluate(example_copy, changes, capsys):
    code, w = run_json(["whatif", example_copy, *_set_args(changes)], capsys)
    rows = [(sheet, ref, v) for sheet, cells in changes.items() for ref, v in cells.items()]
    sim = {f"A{4 + i}": s for i, (s, _, _) in enumerate(rows)}
    sim |= {f"B{4 + i}": ref for i, (_, ref, _) in enumerate(rows)}
    sim |= {f"C{4 + i}": v for i, (_, _, v) in enumerate(rows)}
    sim["B9"], sim["C9"] = "指标体系!J3", None  # blank 模拟值: row not used
    edit_cells(example_copy, {"模拟": sim})
    out = example_copy.with_name("out.xlsx")
    code, data = run_json(["evaluate", example_copy, "-o", out], capsys)
    assert code == 0 and data["total"] == 96.65  # the workbook's own result is not simulated
    ws = openpyxl.load_workbook(out)["模拟"]
    facts = {ws.cell(r, 7).value: ws.cell(r, 8).value for r in range(4, 10)}
    assert facts == {"当前综合得分": 96.65, "模拟综合得分": w["after"]["total"], "变化": w["change"],
                     "当前等次": "优", "模拟等次": "优", "模拟状态": "已模拟4处修改"}
    moved = [[ws.cell(r, c).value for c in range(7, 14)] for r in range(13, 13 + len(w["moved"]) + 1)]
    assert moved[:-1] == [[m["row"], m["l1"], m["l2"], m["l3"], m["before"], m["after"], m["change"]]
                          for m in w["moved"]]
    assert moved[-1] == [None] * 7
    assert [ws.cell(r, 4).value for r in range(4, 8)] == [c["before"] for c in w["changes"]]  # 原值
    # inputs in the output copy are the original ones: the simulation changed nothing
    src = openpyxl.load_workbook(example_copy)
    res = openpyxl.load_workbook(out)
    for sheet, cells in changes.items():
        for ref in cells:
            assert res[sheet][ref].value == src[sheet][ref].value


def test_simulation_sheet_reports_bad_rows_and_does_not_simulate(example_copy, capsys):
    edit_cells(example_copy, {"模拟": {"A4": "指标体系", "B4": "J13", "C4": 1,
                                       "A5": "汇总", "B5": "B7", "C5": 100,
                                       "A6": "指标体系", "B6": "XX", "C6": 1,
                                       "B7": "指标体系!$J$13", "C7": 2}})
    out = example_copy.with_name("out.xlsx")
    code, _ = run_json(["evaluate", example_copy, "-o", out], capsys)
    assert code == 0
    ws = openpyxl.load_workbook(out)["模拟"]
    assert ws["E4"].value is None and "由程序填写" in ws["E5"].value and "格式不对" in ws["E6"].value
    assert ws["E7"].value == "与第4行模拟同一单元格"
    assert ws["H9"].value == "模拟输入有3个问题，见左表“问题”列，未模拟"
    assert ws["H4"].value == 96.65 and ws["H5"].value is None
    # fixing the rows clears the stale problems on the next run
    edit_cells(out, {"模拟": {"A5": None, "B5": None, "C5": None, "A6": None, "B6": None, "C6": None,
                              "B7": None, "C7": None}})
    code, _ = run_json(["evaluate", out, "--in-place"], capsys)
    ws = openpyxl.load_workbook(out)["模拟"]
    assert ws["E5"].value is None and ws["E6"].value is None and ws["H9"].value == "已模拟1处修改"


def test_empty_simulation_sheet_says_so(example_copy, capsys):
    out = example_copy.with_name("out.xlsx")
    code, _ = run_json(["evaluate", example_copy, "-o", out], capsys)
    ws = openpyxl.load_workbook(out)["模拟"]
    assert ws["H9"].value == "未填写模拟值" and ws["H4"].value == 96.65 and ws["H5"].value is None
