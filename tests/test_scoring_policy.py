"""Issue 12: scoring policy (得分精度/取舍方式/超额完成/超额提示/定性档次/预算执行分值), evaluator
adjustments (评定得分 + 调整原因), and the methods 阶梯扣分 / 偏离度 / 公式, each at its boundaries,
through real workbooks written by the template and read back by the product."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import openpyxl
import pytest

from dtg_xl.core import rules
from dtg_xl.core.excel_round import excel_round, excel_rounddown
from dtg_xl.core.policy import Policy, PolicyError, parse_value, with_values
from dtg_xl.core.schema import INDICATOR_COLUMNS, PARAMS
from dtg_xl.delivery.template import write_template
from dtg_xl.results import layout

from helpers import ROOT, run_cli, run_json

COL = {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(INDICATOR_COLUMNS, start=1)}
PARAM_ROW = {label: i for i, label in enumerate(PARAMS, start=2)}  # 参数: header row 1, then PARAMS in order


def ind(l3, points, method, l1="产出", l2="数量", **cells):
    return {"一级指标": l1, "二级指标": l2, "三级指标": l3, "分值": points, "评分方法": method, **cells}


def workbook(tmp_path, indicators, params=None, units=None, name="t.xlsx"):
    """A workbook from the template with these rows; without units the profile mof-2020 (no budget line)."""
    data = {"params": {"评价方案": "mof-2020", **(params or {})}, "indicators": indicators,
            "units": units or [{"单位名称": "甲", "年初预算": 100, "实际到位": 100, "实际支出": 100}]}
    return write_template(tmp_path / name, data=data)


def fill(points_left: float, l1="效益"):
    """A full-marks filler row so the points add up to 100."""
    return ind("其他指标", points_left, "扣分", l1=l1, l2="其他", 扣分=0)


def scores(tmp_path, capsys, indicators, params=None, units=None):
    code, data = run_json(["evaluate", workbook(tmp_path, indicators, params, units)], capsys)
    return code, data


# ---------------------------------------------------------------- rounding: ROUND / ROUNDDOWN, 0/1/2 dp
@pytest.mark.parametrize("x, digits, half_up, down", [
    (2.675, 2, 2.68, 2.67),  # stored 2.67499999…: Excel sees 2.675
    (8.62, 2, 8.62, 8.62),  # stored 8.6199999…: ROUNDDOWN must not give 8.61
    (-1.239, 2, -1.24, -1.23),  # 截尾 of a negative: toward zero
    (-2.675, 2, -2.68, -2.67),
    (1.45, 1, 1.5, 1.4),  # 1 dp tie
    (0.25, 1, 0.3, 0.2),
    (2.5, 0, 3.0, 2.0),  # 0 dp tie
    (-2.5, 0, -3.0, -2.0),
    (-0.5, 0, -1.0, 0.0),
    (99.999, 0, 100.0, 99.0),
    (8.6204, 0, 9.0, 8.0),
])
def test_round_and_rounddown_match_excel(x, digits, half_up, down):
    assert excel_round(x, digits) == half_up
    assert excel_rounddown(x, digits) == down
    assert Policy(digits=digits).round(x) == half_up
    assert Policy(digits=digits, rounding="截尾").round(x) == down
    arr = excel_rounddown(np.array([x, x]), digits)
    assert arr.tolist() == [down, down]


def test_rounddown_never_gives_negative_zero():
    assert str(excel_rounddown(-0.004, 2)) == "0.0"


# ---------------------------------------------------------------- policy values
@pytest.mark.parametrize("label, value, expected", [
    ("得分精度", 0, 0), ("得分精度", "1", 1), ("得分精度", 2.0, 2),
    ("取舍方式", "截尾", "截尾"), ("取舍方式", " 四舍五入 ", "四舍五入"),
    ("超额完成", "不封顶", "不封顶"), ("超额完成", "封顶", "封顶"),
    ("超额提示", 20, 20.0), ("超额提示", "20%", 20.0), ("超额提示", "0.5%", 0.5),
    ("定性档次", "80/50", (80.0, 50.0)), ("定性档次", "90%/60%", (90.0, 60.0)),
    ("预算执行分值", 20, 20.0), ("预算执行分值", "0", 0.0),
    ("得分精度", "", None), ("超额提示", None, None),
])
def test_policy_values_parse(label, value, expected):
    assert parse_value(label, value) == expected


@pytest.mark.parametrize("label, value, words", [
    ("得分精度", 3, "0、1或2"), ("得分精度", "两位", "数字"), ("得分精度", 1.5, "0、1或2"),
    ("取舍方式", "四舍六入", "截尾"), ("超额完成", "是", "不封顶"),
    ("超额提示", 0, "大于0"), ("超额提示", 0.2, "百分数"), ("超额提示", "很多", "数字"),
    ("定性档次", "60/80", "0 < 部分达成下限 < 达成下限"), ("定性档次", "80", "80/60"),
    ("预算执行分值", -10, "负数"),
])
def test_bad_policy_values_are_refused(label, value, words):
    with pytest.raises(PolicyError, match=words):
        parse_value(label, value)


def test_unknown_policy_label_is_refused():
    with pytest.raises(PolicyError, match="未知的计分规则"):
        with_values(Policy(), {"得分位数": 1})


def test_bad_param_cell_is_an_error_naming_it(tmp_path, capsys):
    path = workbook(tmp_path, [ind("A", 100, "扣分", 扣分=0)], {"得分精度": 5, "定性档次": "50/80"})
    code, data = run_json(["evaluate", path], capsys)
    cells = {e["cell"]: e["message"] for e in data["errors"]}
    assert code == 2 and f"B{PARAM_ROW['得分精度']}" in cells and f"B{PARAM_ROW['定性档次']}" in cells
    assert all(e["sheet"] == "参数" for e in data["errors"])


def test_profiles_verb_and_param_help_show_every_policy_value(tmp_path, capsys):
    code, out, _ = run_cli(["profiles"], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("self-eval-20-80"))
    for part in ("得分精度2位", "四舍五入", "超额封顶", "超额提示无", "定性档次80/60", "预算执行20分"):
        assert part in line
    path = write_template(tmp_path / "new.xlsx")
    ws = openpyxl.load_workbook(path)["参数"]
    notes = {ws.cell(r, 1).value: ws.cell(r, 3).value for r in range(2, ws.max_row + 1)}
    assert "self-eval-20-80：20" in notes["预算执行分值"] and "mof-2020：0" in notes["预算执行分值"]
    assert "截尾" in notes["取舍方式"] and "不封顶" in notes["超额完成"] and "80/60" in notes["定性档次"]
    lists = {str(dv.sqref).split()[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"四舍五入,截尾"' in lists[f"B{PARAM_ROW['取舍方式']}"]
    assert '"封顶,不封顶"' in lists[f"B{PARAM_ROW['超额完成']}"]
    guide = "\n".join(c.value or "" for c in openpyxl.load_workbook(path)["说明"]["A"])
    for word in ("阶梯扣分", "偏离度", "公式", "调整原因", "公式得分", "得分精度"):
        assert word in guide
    methods = next(dv for dv in openpyxl.load_workbook(path)["指标体系"].data_validations.dataValidation
                   if str(dv.sqref).split()[0].startswith(COL["评分方法"]))
    assert "阶梯扣分" in methods.formula1 and "偏离度" in methods.formula1 and "公式" in methods.formula1


# ---------------------------------------------------------------- 得分精度 / 取舍方式 on a workbook
@pytest.mark.parametrize("params, expected", [
    ({}, 8.63), ({"得分精度": 1}, 8.6), ({"得分精度": 0}, 9.0),
    ({"取舍方式": "截尾"}, 8.62), ({"得分精度": 1, "取舍方式": "截尾"}, 8.6), ({"得分精度": 0, "取舍方式": "截尾"}, 8.0),
])
def test_precision_and_truncation_apply_to_indicator_rows(tmp_path, capsys, params, expected):
    # 10 × 86.25 / 100 = 8.625: a 2 dp tie
    code, data = scores(tmp_path, capsys, [ind("A", 10, "正向", 目标值=100, 实际值=86.25), fill(90)], params)
    assert code == 0, data["errors"]
    assert data["indicators"][0]["score"] == expected == data["indicators"][0]["formula_score"]


@pytest.mark.parametrize("params, expected", [({}, 17.24), ({"得分精度": 1}, 17.2), ({"得分精度": 0}, 17.0),
                                             ({"取舍方式": "截尾", "得分精度": 0}, 17.0)])
def test_precision_applies_to_the_budget_line(tmp_path, capsys, params, expected):
    units = [{"单位名称": "甲", "年初预算": 43.2, "实际到位": 43.2, "实际支出": 37.24}]  # 86.20%
    code, data = scores(tmp_path, capsys, [ind("A", 80, "扣分", 扣分=0)],
                        {"评价方案": "self-eval-20-80", **params}, units)
    assert code == 0, data["errors"]
    assert data["budget_score"] == expected and data["total"] == 80 + expected


# ---------------------------------------------------------------- 超额完成 / 超额提示
def test_uncapped_over_achievement_scores_above_points_and_says_so(tmp_path, capsys):
    rows = [ind("A", 10, "正向", 目标值=100, 实际值=120), ind("B", 10, "等于", 目标值=10, 实际值=11), fill(80)]
    code, capped = scores(tmp_path, capsys, rows)
    assert [i["score"] for i in capped["indicators"][:2]] == [10, 10] and capped["total"] == 100
    code, data = scores(tmp_path, capsys, rows, {"超额完成": "不封顶"})
    assert code == 0 and [i["score"] for i in data["indicators"][:2]] == [12, 11]
    assert data["total"] == 103
    assert any("超过总分100" in w["message"] for w in data["warnings"])


def test_over_warning_at_and_beyond_its_percentage(tmp_path, capsys):
    rows = [ind("A", 10, "正向", 目标值=100, 实际值=120), ind("B", 10, "正向", 目标值=100, 实际值=120.01),
            ind("C", 10, "反向", 目标值=100, 实际值=150), fill(70)]
    code, data = scores(tmp_path, capsys, rows, {"超额提示": 20})
    over = [w for w in data["warnings"] if "超额完成" in w["message"]]
    assert code == 0 and len(over) == 1  # exactly 20% is not "more than"; 反向 is never over-achieved
    assert over[0]["cell"] == f"{COL['实际值']}3" and "超额完成20.01%" in over[0]["message"]
    assert "按偏离度调减" in over[0]["message"]
    code, data = scores(tmp_path, capsys, rows)
    assert not [w for w in data["warnings"] if "超额完成" in w["message"]]  # blank: no warning


# ---------------------------------------------------------------- 定性档次
@pytest.mark.parametrize("bands, level, given, ok", [
    (None, "部分达成年度指标并具有一定效果", 6, True), (None, "部分达成年度指标并具有一定效果", 5, False),
    ("80/50", "部分达成年度指标并具有一定效果", 5, True), ("80/50", "部分达成年度指标并具有一定效果", 4.99, False),
    ("80/50", "未达成年度指标且效果较差", 4.99, True), ("80/50", "未达成年度指标且效果较差", 5, False),
    ("80/50", "达成年度指标", 8, True), ("80/50", "达成年度指标", 7.99, False),
])
def test_qualitative_bands(tmp_path, capsys, bands, level, given, ok):
    params = {"定性档次": bands} if bands else {}
    code, data = scores(tmp_path, capsys, [ind("A", 10, "定性", 定性等级=level, 评定得分=given), fill(90)], params)
    assert (code == 0) == ok, data["errors"]
    if not ok:
        assert data["errors"][0]["cell"] == f"{COL['评定得分']}2"


# ---------------------------------------------------------------- 预算执行分值
def test_budget_points_must_leave_the_rest_to_the_indicators(tmp_path, capsys):
    code, data = scores(tmp_path, capsys, [ind("A", 90, "扣分", 扣分=0)], {"预算执行分值": 20})
    assert code == 2 and "应为80" in data["errors"][0]["message"]
    code, data = scores(tmp_path, capsys, [ind("A", 80, "扣分", 扣分=0)], {"预算执行分值": 20})
    assert code == 0 and data["budget_score"] == 20 and data["total"] == 100
    code, data = scores(tmp_path, capsys, [ind("A", 100, "扣分", 扣分=0)], {"评价方案": "self-eval-2020", "预算执行分值": 0})
    assert code == 0 and data["budget_score"] is None  # 0 = no budget line


def test_budget_line_without_a_budget_is_refused(tmp_path, capsys):
    units = [{"单位名称": "甲", "年初预算": 0, "实际到位": 0, "实际支出": 0}]
    code, data = scores(tmp_path, capsys, [ind("A", 90, "扣分", 扣分=0)], {"评价方案": "self-eval-2020"}, units)
    assert code == 2 and data["total"] is None
    assert data["errors"][0]["sheet"] == "单位填报" and "无法计算预算执行率" in data["errors"][0]["message"]


# ---------------------------------------------------------------- 阶梯扣分
STEPS = "起扣线=90；步长=5；每步扣分=1"


@pytest.mark.parametrize("criteria, actual, expected", [
    (STEPS, 90, 10), (STEPS, 95, 10), (STEPS, 89.99, 10), (STEPS, 85, 9), (STEPS, 84.99, 9), (STEPS, 80, 8),
    (STEPS + "；不足一步=进一", 89.99, 9), (STEPS + "；不足一步=进一", 85, 9), (STEPS + "；不足一步=进一", 84.99, 8),
    (STEPS + "；不足一步=按比例", 87.5, 9.5), (STEPS + "；不足一步=按比例", 81, 8.2),
    (STEPS, 0, 0), ("起扣线=90；步长=1；每步扣分=3", 80, 0),  # 扣完为止
    ("起扣线=90.1；步长=0.1；每步扣分=1", 89.8, 7),  # 3 steps exactly, despite 90.1 − 89.8 = 0.2999…
    ("起扣线=5；步长=1；每步扣分=2；方向=反向", 5, 10), ("起扣线=5；步长=1；每步扣分=2；方向=反向", 7, 6),
    ("步长=5；每步扣分=1", 80, 8),  # threshold = 目标值 (90)
])
def test_stepped(criteria, actual, expected):
    assert rules.score_one("阶梯扣分", 10, 90, actual, bands=criteria) == expected
    assert rules.score_one("stepped", 10, 90, actual, bands=criteria) == expected


@pytest.mark.parametrize("criteria, words", [
    ("起扣线=90；步长=5", "缺少“每步扣分”"), ("起扣线=90；步长=0；每步扣分=1", "大于0"),
    ("90以上满分，每降低5%扣1分", "起扣线=90；步长=5；每步扣分=1"), ("", "为空"),
    (STEPS + "；不足一步=四舍五入", "舍去、进一、按比例"), (STEPS + "；方向=向上", "正向"),
])
def test_stepped_parse_errors_show_an_example(criteria, words):
    with pytest.raises(rules.RuleError, match=words) as info:
        rules.prepare("阶梯扣分", 10, 90, 85, bands=criteria)
    assert info.value.field == "criteria"


# ---------------------------------------------------------------- 偏离度
BANDS = "±10%:100%；±15%:60%；±20%:20%"


@pytest.mark.parametrize("actual, expected", [
    (100, 10), (110, 10), (90, 10), (110.01, 6), (89.99, 6), (115, 6), (85, 6), (115.01, 2), (120, 2), (80, 2),
    (120.01, 0), (79.99, 0), (0, 0), (300, 0),
])
def test_deviation_band_edges(actual, expected):
    assert rules.score_one("偏离度", 10, 100, actual, bands=BANDS) == expected


def test_deviation_errors():
    with pytest.raises(rules.RuleError, match="目标值应大于0"):
        rules.prepare("偏离度", 10, 0, 5, bands=BANDS)
    with pytest.raises(rules.RuleError, match="±偏离%:得分比例") as info:
        rules.prepare("deviation", 10, 100, 5, bands="10%以内满分")
    assert info.value.field == "criteria"


# ---------------------------------------------------------------- 公式
def test_formula_example_and_excel_functions():
    f = "=MIN(分值, 分值*实际值/目标值*0.25)"
    assert rules.score_one("公式", 10, 10, 30, bands=f) == 7.5
    assert rules.score_one("公式", 10, 10, 50, bands=f) == 10
    assert rules.score_one("formula", 10, 100, 86.25, bands="=分值*实际值/目标值") == 8.63  # then ROUND 2 dp
    assert rules.score_one("公式", 10, 100, 86.25, bands="=ROUNDDOWN(分值*实际值/目标值, 1)") == 8.6
    assert rules.score_one("公式", 10, 5, 3, deducted=2, bands="=MAX(0, 分值-扣分*2)") == 6
    assert rules.score_one("公式", 10, 100, 95, bands="=IF(实际值>=目标值, 分值, IF(实际值>=90%*目标值, 分值*60%, 0))") == 6
    assert rules.score_one("公式", 10, None, 7, bands="=ROUND(实际值^2/10, 0)+AND(TRUE, NOT(FALSE))") == 6


@pytest.mark.parametrize("formula, words", [
    ("=分值/(目标值-100)", "#DIV/0!"),
    ("=SQRT(-实际值)", "#NUM!"),
    ("=分值-200", "为负数"),
    ("=分值*2", "超过分值"),
    ("=IF(实际值>0, \"满分\", 0)", "应为数字"),
    ("MIN(分值, 1)", "应以“=”开头"),
    ("=MIN(分值", "无法解析"),
    ("=满分*2", "不是本行字段"),
])
def test_formula_errors_name_the_criteria(formula, words):
    with pytest.raises(rules.RuleError, match=words) as info:
        rules.prepare("公式", 10, 100, 50, bands=formula)
    assert info.value.field == "criteria"
    assert "=MIN(分值, 分值*实际值/目标值)" in str(info.value) or words in ("为负数", "超过分值", "应为数字", "#DIV/0!", "#NUM!")


@pytest.mark.parametrize("formula", [
    '=INDIRECT("A1")', "=A1*2", "=Sheet1!B2", "='C:\\etc\\[passwd]x'!A1", "=[1]Sheet1!A1",
    '=WEBSERVICE("http://127.0.0.1/")', '=CALL("kernel32","WinExec","JC","calc",0)', '=HYPERLINK("file:///etc/passwd")',
    "=__import__('os').system('id')", "=open('/etc/passwd')", "=SUM(分值:实际值)", '=INFO("directory")',
])
def test_formula_cannot_reach_files_network_or_python(formula):
    with pytest.raises(rules.RuleError) as info:
        rules.prepare("公式", 10, 100, 50, bands=formula)
    assert info.value.field == "criteria"


def test_formula_missing_field_names_its_cell(tmp_path, capsys):
    code, data = scores(tmp_path, capsys, [ind("A", 10, "公式", 评分标准="=MIN(分值, 实际值)"), fill(90)])
    assert code == 2 and data["errors"][0]["cell"] == f"{COL['实际值']}2" and "实际值为空" in data["errors"][0]["message"]
    code, data = scores(tmp_path, capsys, [ind("A", 10, "公式", 评分标准="=INDIRECT(\"A1\")", 实际值=1), fill(90)])
    assert code == 2 and data["errors"][0]["cell"] == f"{COL['评分标准']}2"


def test_workbooks_without_a_formula_row_never_import_the_library(tmp_path):
    path = tmp_path / "ex.xlsx"
    write_template(path, example="dtg-2020")
    code = ("import sys; from dtg_xl.doors.cli import main; rc = main(['evaluate', sys.argv[1], '--json']);"
            "sys.stderr.write(str('formulas' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert json.loads(done.stdout)["total"] == 96.65 and done.stderr.strip().endswith("False")


# ---------------------------------------------------------------- evaluator adjustment
def test_adjustment_replaces_the_score_and_is_listed(tmp_path, capsys):
    rows = [ind("A", 10, "正向", 目标值=100, 实际值=100, 评定得分=7, 调整原因="目标值设定偏低，按偏离度调减"),
            ind("B", 10, "扣分", 扣分=1, 扣分原因="资料不全", 评定得分=9.5, 调整原因="复核后减半扣分"), fill(80)]
    path = workbook(tmp_path, rows)
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0, data["errors"]
    a, b = data["indicators"][:2]
    assert (a["formula_score"], a["score"], a["adjustment_reason"]) == (10, 7, "目标值设定偏低，按偏离度调减")
    assert (b["formula_score"], b["score"]) == (9, 9.5)
    assert data["total"] == 96.5
    assert [(x["l3"], x["difference"]) for x in data["adjustments"]] == [("A", -3), ("B", 0.5)]
    loss = next(x for x in data["losses"] if x["l3"] == "A")
    assert loss["lost"] == 3 and loss["reason"].startswith("评价调整：公式得分10，评定得分7")
    out = path.with_name("t-评价结果.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb["指标体系"]
    assert [ws[f"{COL['得分']}2"].value, ws[f"{COL['公式得分']}2"].value] == [7, 10]
    s = wb["汇总"]
    first = layout.ADJUSTMENTS.first_row
    assert s.cell(layout.ADJUSTMENTS.header_row - 1, 1).value == "评价调整"
    assert [s.cell(first, c).value for c in range(1, 8)] == ["产出", "数量", "A", 10, 7, -3, "目标值设定偏低，按偏离度调减"]
    code, text, _ = run_cli(["evaluate", path], capsys)
    assert "评价调整：A 公式得分10 → 评定得分7（-3）" in text


@pytest.mark.parametrize("cells, field, words", [
    ({"评定得分": 7}, "调整原因", "调整原因"),
    ({"评定得分": 11, "调整原因": "x"}, "评定得分", "超过分值"),
    ({"评定得分": -1, "调整原因": "x"}, "评定得分", "负数"),
    ({"评定得分": "七分", "调整原因": "x"}, "评定得分", "数字"),
])
def test_bad_adjustments_name_their_cell(tmp_path, capsys, cells, field, words):
    code, data = scores(tmp_path, capsys, [ind("A", 10, "正向", 目标值=100, 实际值=100, **cells), fill(90)])
    assert code == 2 and data["errors"][0]["cell"] == f"{COL[field]}2" and words in data["errors"][0]["message"]


def test_adjustment_is_rounded_by_the_policy_and_may_exceed_points_when_uncapped(tmp_path, capsys):
    row = ind("A", 10, "正向", 目标值=100, 实际值=100, 评定得分=7.45, 调整原因="x")
    code, data = scores(tmp_path, capsys, [row, fill(90)], {"得分精度": 1, "取舍方式": "截尾"})
    assert code == 0 and data["indicators"][0]["score"] == 7.4
    row = ind("A", 10, "正向", 目标值=100, 实际值=100, 评定得分=11, 调整原因="超额奖励")
    code, data = scores(tmp_path, capsys, [row, fill(90)], {"超额完成": "不封顶"})
    assert code == 0 and data["indicators"][0]["score"] == 11 and data["total"] == 101


def test_margin_uses_the_final_score(tmp_path, capsys):
    rows = [ind("A", 10, "正向", 目标值=100, 实际值=100, 评定得分=9, 调整原因="评价组复核"), fill(90)]
    code, data = scores(tmp_path, capsys, rows)
    assert data["total"] == 99 and data["margin"]["down"] == 9


# ---------------------------------------------------------------- the UDF
def test_dtg_score_takes_new_methods_and_policy_options():
    from dtg_xl.doors.udfs import DTG_SCORE

    assert DTG_SCORE("正向", 10, 100, 86.25) == 8.63
    assert DTG_SCORE("正向", 10, 100, 86.25, options="得分精度=1；取舍方式=截尾") == 8.6
    assert DTG_SCORE("正向", 10, 100, 120, options="超额完成=不封顶") == 12
    assert DTG_SCORE("正向", 10, 100, 120, options="self-eval-20-80") == 10
    assert DTG_SCORE("阶梯扣分", 10, None, 84.99, STEPS) == 9
    assert DTG_SCORE("偏离度", 10, 100, 115, BANDS) == 6
    assert DTG_SCORE("公式", 10, 10, 30, "=MIN(分值, 分值*实际值/目标值*0.25)") == 7.5
    assert DTG_SCORE("定性", 10, None, None, "部分达成年度指标并具有一定效果", 5, options="定性档次=80/50") == 5
    assert DTG_SCORE("正向", 10, 100, 100, None, 7, "复核调减") == 7
    assert "调整原因" in DTG_SCORE("正向", 10, 100, 100, None, 7)
    assert DTG_SCORE("正向", 10, 100, 100, options="得分精度=3").startswith("错误：得分精度")
    assert DTG_SCORE("公式", 10, 10, 30, '=WEBSERVICE("http://127.0.0.1")').startswith("错误：")


# ---------------------------------------------------------------- fingerprint and verify
def test_unused_new_inputs_keep_the_fingerprint_of_earlier_builds(tmp_path, capsys):
    """The 2020 example's 数据指纹 is the one the build before issue 12 wrote (its template had no
    计分规则 rows, 公式得分 or 调整原因): inputs left blank do not change what a result was computed from."""
    from dtg_xl.results.fingerprint import fingerprint
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.core.model import read_model

    from test_references import pre_issue_13_example

    path = write_template(tmp_path / "ex.xlsx", data=pre_issue_13_example())  # issue 13 changed the inputs
    book = FileBook(path)
    try:
        assert fingerprint(read_model(book)) == "sha256:d663942b5d7bda3ccb226072"
    finally:
        book.close()


def test_formula_and_adjusted_workbooks_fingerprint_stably_and_verify(tmp_path, capsys):
    rows = [ind("A", 10, "公式", 评分标准="=MIN(分值, 分值*实际值/目标值)", 目标值=10, 实际值=9),
            ind("B", 10, "正向", 目标值=1, 实际值=1, 评定得分=8, 调整原因="复核"), fill(80)]
    path = workbook(tmp_path, rows, {"得分精度": 1})
    prints = set()
    for _ in range(2):  # separate processes: nothing of a compiled formula's identity leaks in
        done = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(path), "--json"],
                              capture_output=True, text=True, cwd=ROOT)
        assert json.loads(done.stdout)["total"] == 97
        out = path.with_name("t-评价结果.xlsx")
        prints.add(openpyxl.load_workbook(out)["汇总"].cell(layout.FACT_ROW["数据指纹"], 2).value)
    assert len(prints) == 1
    code, text, err = run_cli(["verify", out], capsys)
    assert code == 0, text + err


def test_compare_and_mail_mention_adjustments(tmp_path, capsys):
    from dtg_xl.delivery.mail import body
    from helpers import engine_result

    base = [ind("A", 10, "正向", 目标值=100, 实际值=100), fill(90)]
    last = workbook(tmp_path, base, name="last.xlsx")
    adjusted = [ind("A", 10, "正向", 目标值=100, 实际值=100, 评定得分=8, 调整原因="目标值偏低"),
                ind("其他指标", 90, "扣分", l1="效益", l2="其他", 扣分=0, 评定得分=90, 调整原因="复核无误")]
    this = workbook(tmp_path, adjusted, name="this.xlsx")
    code, text, _ = run_cli(["compare", last, this], capsys)
    assert code == 0 and "得分 10→8（本年评价调整：公式得分10→评定得分8（目标值偏低））" in text
    # the 同比 sheet shows them too (its 评价调整 column), as the text and the JSON do
    from dtg_xl.results import compare

    out = tmp_path / "同比.xlsx"
    code, data = run_json(["compare", last, this, "-o", out], capsys)
    assert code == 0
    ws = openpyxl.load_workbook(out)[compare.SHEET_COMPARE]
    col = compare.IND_HEADERS.index("评价调整") + 1
    assert ws.cell(compare.IND_HEADER_ROW, col).value == "评价调整"
    sheet = {ws.cell(r, 4).value: ws.cell(r, col).value
             for r in range(compare.IND_HEADER_ROW + 1, compare.IND_HEADER_ROW + 1 + len(data["indicators"]))}
    assert sheet == {"A": "本年：公式得分10→评定得分8（目标值偏低）", "其他指标": "本年：公式得分90→评定得分90（复核无误）"}
    assert {r["l3"]: r["adjustment"]["this"] for r in data["indicators"]}["A"] in sheet["A"]
    mail = body(engine_result(this), ["this.xlsx"])
    assert "扣2分：评价调整：公式得分10，评定得分8（目标值偏低）" in mail
    assert "2. 效益—其他指标：公式得分90分，评定得分90分，原因：复核无误" in mail  # listed although nothing was lost


def test_report_lists_adjustments(tmp_path, capsys):
    from docx import Document

    rows = [ind("A", 10, "正向", 目标值=100, 实际值=90, 评定得分=10, 调整原因="疫情原因，评价组认定达标"), fill(90)]
    path = workbook(tmp_path, rows)
    out = tmp_path / "r.docx"
    code, text, err = run_cli(["report", path, "-o", out], capsys)
    assert code == 0, text + err
    paragraphs = [p.text for p in Document(out).paragraphs]
    assert "评价调整：以下指标以评价人的评定得分为最终得分。" in paragraphs
    assert "A：按评分规则得9分，评定得分10分。调整原因：疫情原因，评价组认定达标" in paragraphs


def test_over_warning_reads_a_percent_formatted_cell_as_shown(tmp_path, capsys):
    path = workbook(tmp_path, [ind("A", 10, "正向", 目标值=100, 实际值=125), fill(90)])
    wb = openpyxl.load_workbook(path)
    cell = wb["参数"][f"B{PARAM_ROW['超额提示']}"]
    cell.value, cell.number_format = 0.2, "0%"  # shows 20%
    wb.save(path)
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0 and any("超额完成25%" in w["message"] for w in data["warnings"])
    cell.number_format = "General"  # a bare 0.2: 0.2% or 20%? refused, naming the cell
    wb.save(path)
    code, data = run_json(["evaluate", path], capsys)
    assert code == 2 and data["errors"][0]["cell"] == f"B{PARAM_ROW['超额提示']}" and "百分数" in data["errors"][0]["message"]
