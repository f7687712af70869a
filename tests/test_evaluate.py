"""`dtg-xl new` + `dtg-xl evaluate` end to end on real workbooks: the seed case, both weighting
modes, and every validation error with its sheet!cell."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import openpyxl
import pytest

from dtg_xl.results import layout
from dtg_xl.delivery.template import load_example, write_template

from helpers import ROOT, edit_cells, run_cli, run_json


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- the 2020 seed case
def test_seed_case_reproduces_the_report(example_copy, capsys):
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 0, data["errors"]
    assert data["total"] == 96.65 and data["grade"] == "优" and data["profile"] == "qingdao-2020"
    assert {c["name"]: c["score"] for c in data["categories"]} == {"决策": 17.25, "过程": 19.4, "产出": 25, "效益": 35}
    assert {c["name"]: c["points"] for c in data["categories"]} == {"决策": 20, "过程": 20, "产出": 25, "效益": 35}
    deductions = {i["l3"]: i["deduction"] for i in data["indicators"] if i["deduction"]}
    assert deductions == {"绩效目标合理性": 0.75, "预算编制科学性": 1, "资金分配合理性": 1, "制度执行有效性": 0.6}
    assert all(i["reason"] for i in data["indicators"] if i["deduction"])
    b = data["budget"]
    assert (b["initial"], b["added"], b["adjusted"], b["spent"]) == (4241, 2307.5, 6548.5, 6548.5)
    assert b["execution_rate"] == 100 and b["in_place_rate"] == 100
    assert len(data["units"]) == 9 and data["errors"] == []


def test_seed_case_is_also_excellent_under_mof_bands(example_copy, capsys):
    code, data = run_json(["evaluate", example_copy, "--profile", "mof-2020"], capsys)
    assert code == 0 and data["total"] == 96.65 and data["grade"] == "优" and data["profile"] == "mof-2020"


def test_output_workbook_shows_the_numbers_to_openpyxl(example_copy, capsys):
    before = sha(example_copy)
    code, out, _ = run_cli(["evaluate", example_copy], capsys)
    assert code == 0 and "96.65" in out
    assert sha(example_copy) == before  # input untouched
    result = example_copy.with_name("demo-评价结果.xlsx")
    wb = openpyxl.load_workbook(result)
    ws = wb["汇总"]
    facts = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in layout.FACT_ROW.values()}
    assert facts["综合得分"] == 96.65 and facts["评价等次"] == "优" and facts["校验结果"] == "通过"
    cats = {ws.cell(r, 1).value: ws.cell(r, 3).value
            for r in range(layout.CATEGORIES.first_row, layout.CATEGORIES.last_row + 1) if ws.cell(r, 1).value}
    assert cats == {"决策": 17.25, "过程": 19.4, "产出": 25, "效益": 35, "合计": 96.65}
    budget = [ws.cell(layout.BUDGET.first_row, c).value for c in range(1, 8)]
    assert budget == [4241, 2307.5, 6548.5, 6548.5, 6548.5, 1, 1]
    assert ws.cell(layout.BUDGET.first_row, 7).number_format == "0.00%"  # shows 100.00%
    reasons = [ws.cell(r, 7).value for r in range(layout.LOSSES.first_row, layout.LOSSES.first_row + 4)]
    assert all(reasons) and "绩效目标合理性" in reasons[0]
    header = [c.value for c in wb["指标体系"][1]]
    col = header.index("得分") + 1
    scores = [row[0].value for row in wb["指标体系"].iter_rows(min_row=2, max_row=25, min_col=col, max_col=col)]
    assert sum(scores) == pytest.approx(96.65)


def test_in_place_and_explicit_output(example_copy, tmp_path, capsys):
    out = tmp_path / "结果.xlsx"
    assert run_cli(["evaluate", example_copy, "-o", out], capsys)[0] == 0 and out.exists()
    before = sha(example_copy)
    assert run_cli(["evaluate", example_copy, "--in-place"], capsys)[0] == 0
    assert sha(example_copy) != before
    # evaluating an already-evaluated workbook gives the same result
    code, data = run_json(["evaluate", example_copy, "--in-place"], capsys)
    assert code == 0 and data["total"] == 96.65


def test_same_output_as_input_needs_in_place(example_copy, capsys):
    code, _, err = run_cli(["evaluate", example_copy, "-o", example_copy], capsys)
    assert code == 2 and "--in-place" in err


def test_console_script_runs_without_traceback(example_copy):
    proc = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(example_copy), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and '"total": 96.65' in proc.stdout and proc.stderr == ""


def test_self_evaluation_profile_adds_budget_score(tmp_path, capsys):
    """self-eval-2020: indicators carry 90 points and 执行率 × 10 (capped) is added."""
    data = load_example("dtg-2020")
    dropped = ("落实国家降费政策", "集装箱进口环节通关成本较2017年下降")  # 5 + 5 points of 效益/经济效益
    data["indicators"] = [r for r in data["indicators"] if r["三级指标"] not in dropped]
    for row in data["indicators"]:
        row.pop("一级权重", None)
    data["params"]["评价方案"] = "self-eval-2020"
    data["params"].pop("预算执行率口径")  # the profile's 调整后预算 base
    data["units"][0]["实际支出"] = 2400 - 654.85  # 90% of 6548.5 spent overall
    path = tmp_path / "self.xlsx"
    write_template(path, data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0, out["errors"]
    assert out["budget"]["execution_rate"] == 90
    assert out["budget_score"] == 9
    # the 预算执行率 indicator (实际值 预算:执行率) follows the budget too: 4 × 90% = 3.6
    assert next(i["score"] for i in out["indicators"] if i["l3"] == "预算执行率") == 3.6
    assert out["total"] == 95.25 and out["grade"] == "优"


# ---------------------------------------------------------------- 分层权重 (nested) weighting
def nested_data() -> dict:
    """预算绩效 权重 50 → 预算管理 75 (7+8+5+25+25+5) and 财务管理 25 (7+13+5); 履职效能 权重 50."""
    rows = []

    def add(l1, weight, l2, l2_points, items):
        for name, points, actual in items:
            rows.append({"一级指标": l1, "一级权重": weight, "二级指标": l2, "二级分值": l2_points, "三级指标": name,
                         "分值": points, "评分方法": "正向", "目标值": 100, "实际值": actual, "计量单位": "%"})

    add("预算绩效", 50, "预算管理", 75, [("预算编制", 7, 100), ("预算执行", 8, 90), ("预算调整", 5, 100),
                                    ("绩效目标", 25, 100), ("绩效监控", 25, 80), ("结果应用", 5, 100)])
    add("预算绩效", 50, "财务管理", 25, [("财务制度", 7, 100), ("资金使用", 13, 50), ("资产管理", 5, 100)])
    add("履职效能", 50, "重点工作", 100, [("通关时效", 60, 100), ("服务满意度", 40, 95)])
    return {"params": {"评价方案": "qingdao-2020", "计分方式": "分层权重", "总分": 100}, "indicators": rows,
            "units": []}


def test_nested_weighting(tmp_path, capsys):
    path = tmp_path / "nested.xlsx"
    write_template(path, data=nested_data())
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0, data["errors"]
    # 预算绩效: 7 + 7.2 + 5 + 25 + 20 + 5 + 7 + 6.5 + 5 = 87.7 → 50 × 87.7 / 100 = 43.85
    # 履职效能: 60 + 38 = 98 → 49
    cats = {c["name"]: (c["points"], c["score"]) for c in data["categories"]}
    assert cats == {"预算绩效": (50, 43.85), "履职效能": (50, 49)}
    assert data["total"] == 92.85 and data["grade"] == "优"
    assert data["budget"] is None and data["units"] == []


def test_nested_weights_leave_room_for_the_budget_line(tmp_path, capsys):
    """分层权重 with 预算执行分值 10: total = Σ 权重 × 一级得分/100 + the budget line, so the 一级权重 must add up to
    总分 − 10 (as the 三级 points do in 逐级累加); 50 + 50 could reach 110, an error naming the 一级权重 column."""
    data = nested_data()
    data["params"]["预算执行分值"] = 10
    data["units"] = [{"单位名称": "甲", "年初预算": 100, "实际到位": 100, "实际支出": 90}]
    path = write_template(tmp_path / "nested-budget.xlsx", data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and out["total"] is None
    (problem,) = [e for e in out["errors"] if "一级权重之和" in e["message"]]
    assert (problem["sheet"], problem["cell"]) == ("指标体系", "B:B")
    assert problem["message"] == "一级权重之和100应为90（总分100减预算执行10分）"
    for row in data["indicators"]:
        row["一级权重"] = 45
    path = write_template(tmp_path / "nested-budget-45.xlsx", data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0, out["errors"]
    # 45 × 87.7 / 100 = 39.465 → 39.47; 45 × 98 / 100 = 44.1; budget line 10 × 90% = 9
    assert {c["name"]: c["score"] for c in out["categories"]} == {"预算绩效": 39.47, "履职效能": 44.1}
    assert out["budget_score"] == 9 and out["total"] == 92.57


def test_nested_weighting_checks_its_sums(tmp_path, capsys):
    data = nested_data()
    data["indicators"][0]["二级分值"] = 70  # 预算管理 declared 70, its rows add to 75
    data["indicators"][-1]["一级权重"] = 40  # weights now disagree within 履职效能 … and total ≠ 100
    path = tmp_path / "nested-bad.xlsx"
    write_template(path, data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and out["total"] is None
    cells = {(e["sheet"], e["cell"]) for e in out["errors"]}
    assert ("指标体系", "D2") in cells  # 二级分值 70 vs 75
    assert any("一级权重不一致" in e["message"] for e in out["errors"])


# ---------------------------------------------------------------- validation: sheet!cell, exit 2, all at once
@pytest.mark.parametrize("edits, sheet, cell, words", [
    ({"指标体系": {"J13": "很多"}}, "指标体系", "J13", "实际值应为数字"),
    ({"指标体系": {"G13": "加权"}}, "指标体系", "G13", "未知的评分方法"),
    ({"指标体系": {"M17": 2}}, "指标体系", "M17", "之间"),                     # 定性 4 points, 2 is below 80%
    ({"指标体系": {"L17": "很好"}}, "指标体系", "L17", "定性等级应为"),
    ({"指标体系": {"N4": 5}}, "指标体系", "N4", "超过分值"),                    # deduction 5 > 3 points
    ({"指标体系": {"O4": None}}, "指标体系", "O4", "扣分原因"),
    ({"指标体系": {"N13": 1}}, "指标体系", "N13", "只用于“扣分”方法"),
    ({"指标体系": {"E3": "立项依据充分性"}}, "指标体系", "E3", "重复"),
    ({"指标体系": {"F2": 4}}, "指标体系", "D2", "二级指标“项目立项”的分值5"),
    ({"指标体系": {"F13": 5, "D13": 11}}, "指标体系", "F2:F25", "分值之和101应为100"),
    ({"指标体系": {"H25": "≥95:100%；九十:80%"}}, "指标体系", "H25", "分档"),
    ({"参数": {"B4": "上海-2030"}}, "参数", "B4", "未知的评价方案"),
    ({"参数": {"B5": "平均"}}, "参数", "B5", "计分方式"),
    ({"单位填报": {"D3": -5}}, "单位填报", "D3", "不能为负数"),
    ({"单位填报": {"F4": "未知"}}, "单位填报", "F4", "实际到位应为数字"),
    ({"单位填报": {"B5": "青岛海关"}}, "单位填报", "B5", "重复"),
])
def test_each_validation_error_names_its_cell(example_copy, capsys, edits, sheet, cell, words):
    edit_cells(example_copy, edits)
    before = sha(example_copy)
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 2
    assert data["total"] is None and data["grade"] is None
    hits = [e for e in data["errors"] if e["sheet"] == sheet and e["cell"] == cell]
    assert hits, data["errors"]
    assert any(words in e["message"] for e in hits), hits
    assert sha(example_copy) == before


def test_all_errors_reported_at_once_and_written_to_the_summary(example_copy, capsys):
    edit_cells(example_copy, {"指标体系": {"J13": "x", "G14": "加权", "O4": None}, "单位填报": {"D3": -1}})
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 2
    cells = {(e["sheet"], e["cell"]) for e in data["errors"]}
    assert {("指标体系", "J13"), ("指标体系", "G14"), ("指标体系", "O4"), ("单位填报", "D3")} <= cells
    ws = openpyxl.load_workbook(example_copy.with_name("demo-评价结果.xlsx"))["汇总"]
    assert ws.cell(layout.FACT_ROW["综合得分"], 2).value is None
    assert "问题" in ws.cell(layout.FACT_ROW["校验结果"], 2).value
    listed = {(ws.cell(r, layout.ERRORS.col).value, ws.cell(r, layout.ERRORS.col + 1).value)
              for r in range(layout.ERRORS.first_row, layout.ERRORS.first_row + len(data["errors"]))}
    assert cells == listed
    assert ws.cell(layout.CATEGORIES.first_row, 3).value is None  # no scores when inputs are wrong


def test_missing_sheet_and_header(example_copy, tmp_path, capsys):
    wb = openpyxl.load_workbook(example_copy)
    del wb["单位填报"]
    wb["指标体系"]["G1"] = "方法"
    wb.save(example_copy)
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 2
    assert {"sheet": "单位填报", "cell": "", "message": "缺少工作表“单位填报”"} in data["errors"]


def test_missing_header(example_copy, capsys):
    edit_cells(example_copy, {"指标体系": {"G1": "方法"}})
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 2 and any(e["cell"] == "1:1" and "评分方法" in e["message"] for e in data["errors"])


@pytest.mark.parametrize("content", [b"", b"not a workbook at all", b"PK\x03\x04broken"])
def test_unreadable_file_is_a_clear_error(tmp_path, capsys, content):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(content)
    code, _, err = run_cli(["evaluate", bad], capsys)
    assert code == 2 and err.startswith("错误：") and "Traceback" not in err
    assert bad.read_bytes() == content


def test_missing_file(tmp_path, capsys):
    code, _, err = run_cli(["evaluate", tmp_path / "nope.xlsx"], capsys)
    assert code == 2 and "找不到文件" in err


def test_blank_template_reports_no_indicators(tmp_path, capsys):
    path = tmp_path / "blank.xlsx"
    assert run_cli(["new", path], capsys)[0] == 0
    code, data = run_json(["evaluate", path], capsys)
    assert code == 2 and any("没有指标" in e["message"] for e in data["errors"])


def test_new_refuses_to_overwrite_and_rejects_unknowns(tmp_path, capsys):
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"keep")
    code, _, err = run_cli(["new", path], capsys)
    assert code == 2 and "已存在" in err and path.read_bytes() == b"keep"
    assert run_cli(["new", tmp_path / "u.xlsx", "--profile", "nope"], capsys)[0] == 2
    assert run_cli(["new", tmp_path / "v.xlsx", "--example", "nope"], capsys)[0] == 2
    assert not (tmp_path / "u.xlsx").exists() and not (tmp_path / "v.xlsx").exists()


def test_profiles_verb_lists_bands(capsys):
    code, out, _ = run_cli(["profiles"], capsys)
    assert code == 0 and "qingdao-2020" in out and "中≥70" in out and "中≥60" in out


def test_committed_templates_are_up_to_date(tmp_path):
    for name, kwargs in [("dtg-template.xlsx", {"profile": "qingdao-2020"}),
                         ("dtg-2020-example.xlsx", {"example": "dtg-2020"})]:
        fresh = write_template(tmp_path / name, **kwargs)
        assert sha(fresh) == sha(ROOT / "templates" / name), f"templates/{name} is stale: run dtg-xl new"


def test_outputs_get_the_usual_file_mode(example_copy, tmp_path, capsys):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        out = tmp_path / "new.xlsx"
        assert run_cli(["evaluate", example_copy, "-o", out], capsys)[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's 0600
        os.chmod(out, 0o664)
        assert run_cli(["evaluate", example_copy, "-o", out], capsys)[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o664  # a replaced file keeps its mode
    finally:
        os.umask(umask)


def test_unreadable_output_sheet_is_refused_before_writing(example_copy, tmp_path, capsys):
    """Found by the part-mutation fuzz tier (case part-418): 汇总's mergeCell refs damaged so that calamine cannot
    parse the sheet; evaluate used to write results into it (exit 0) that no reader, verify included, could read."""
    import zipfile

    from dtg_xl.xlsx.patch import sheet_parts

    with zipfile.ZipFile(example_copy) as z:
        parts = {n: z.read(n) for n in z.namelist()}
        summary = sheet_parts(z)["汇总"]
    parts[summary] = parts[summary].replace(b'<mergeCell ref="B8:G8"/>', b'<mergeCell ref="A99999"/>', 1).replace(
        b'<mergeCell ref="B10:G10"/>', b'<mergeCell ref="$A$1"/>', 1)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    before = bad.read_bytes()
    out = tmp_path / "out.xlsx"
    code, _, err = run_cli(["evaluate", str(bad), "-o", str(out)], capsys)
    assert code == 2 and "工作表“汇总”" in err and "bad.xlsx" in err
    assert not out.exists() and bad.read_bytes() == before


@pytest.mark.parametrize("verb", ["evaluate", "export"])
def test_a_sheet_damaged_where_results_go_is_refused_naming_the_workbook_read(example_copy, tmp_path, capsys, verb):
    """A damage only the write-back meets (two rows numbered 3 on 汇总, which the pre-flight and the
    readers accept) is the input's: the message names the workbook read, not only the output, so the
    clerk knows which file to open and save again (found by the fuzz tier: it named only out.xlsx)."""
    import zipfile

    with zipfile.ZipFile(example_copy) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    summary = "xl/worksheets/sheet5.xml"
    assert '<sheet name="汇总" sheetId="5"'.encode() in parts["xl/workbook.xml"]
    parts[summary] = parts[summary].replace(b'<row r="4" ', b'<row r="3" ', 1)
    damaged = tmp_path / "受损.xlsx"
    with zipfile.ZipFile(damaged, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    code, _, err = run_cli([verb, damaged, "-o", tmp_path / "结果.xlsx"], capsys)
    assert code == 2 and "受损.xlsx" in err and "行号3（重复）无效，文件已损坏" in err, err
    assert not (tmp_path / "结果.xlsx").exists()


def test_more_losses_than_the_block_holds_are_counted_not_listed(tmp_path):
    """失分明细 holds 60 rows: the first 59 losses in table order, then a line saying how many more
    there are (their reasons are not worked out: a 100,000-row table can lose points on every row)."""
    import copy

    from dtg_xl.results.pipeline import evaluate_book
    from dtg_xl.xlsx.books import FileBook

    example = copy.deepcopy(load_example("dtg-2020"))
    n = 150
    example["indicators"] = [{"一级指标": "产出", "二级指标": "数量", "三级指标": f"指标{i:03d}", "分值": 100 / n,
                              "评分方法": "正向", "目标值": 100, "实际值": 50 + i % 3, "计量单位": "%"}
                             for i in range(n)]
    example.pop("baselines", None)
    path = write_template(tmp_path / "rows.xlsx", data=example)
    book = FileBook(path)
    result = evaluate_book(book)
    lost = layout.losses(result)
    assert len(lost) == n
    block = layout.LOSSES
    written = book.writes[layout.SHEET_SUMMARY]
    shown = [[written[(r, block.col + j)] for j in range(7)] for r in range(block.first_row, block.last_row + 1)]
    assert shown[:-1] == [[x["l1"], x["l2"], x["l3"], x["points"], x["score"], x["lost"], x["reason"]]
                          for x in lost[:block.capacity - 1]]
    assert shown[-1] == [f"……另有{n - block.capacity + 1}行未列出"] + [None] * 6
