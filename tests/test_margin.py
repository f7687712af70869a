"""Grade margin at and around every band edge under qingdao-2020 (90/80/70) and mof-2020
(90/80/60), the losses that alone decide the grade (real workbook), and DTG_MARGIN."""
from __future__ import annotations

import openpyxl
import pytest

from dtg_xl.results import layout
from dtg_xl.doors import udfs
from dtg_xl.results.margin import grade_margin
from dtg_xl.delivery.template import load_example, write_template

from helpers import run_cli, run_json

# (total, grade, down, grade_below, up, grade_above): hand-computed
QINGDAO = [
    (100, "优", 10.0, "良", None, None),
    (90.01, "优", 0.01, "良", None, None),
    (90, "优", 0.0, "良", None, None),
    (89.99, "良", 9.99, "中", 0.01, "优"),
    (80.01, "良", 0.01, "中", 9.99, "优"),
    (80, "良", 0.0, "中", 10.0, "优"),
    (79.99, "中", 9.99, "差", 0.01, "良"),
    (70.01, "中", 0.01, "差", 9.99, "良"),
    (70, "中", 0.0, "差", 10.0, "良"),
    (69.99, "差", None, None, 0.01, "中"),
    (65, "差", None, None, 5.0, "中"),
    (0, "差", None, None, 70.0, "中"),
]
MOF = [
    (96.65, "优", 6.65, "良", None, None),
    (90, "优", 0.0, "良", None, None),
    (89.99, "良", 9.99, "中", 0.01, "优"),
    (80, "良", 0.0, "中", 10.0, "优"),
    (79.99, "中", 19.99, "差", 0.01, "良"),
    (70, "中", 10.0, "差", 10.0, "良"),  # 70 is no edge under mof-2020
    (60.01, "中", 0.01, "差", 19.99, "良"),
    (60, "中", 0.0, "差", 20.0, "良"),
    (59.99, "差", None, None, 0.01, "中"),
]


@pytest.mark.parametrize("profile,case", [("qingdao-2020", c) for c in QINGDAO] + [("mof-2020", c) for c in MOF])
def test_margin_at_and_around_each_band_edge(profile, case):
    total, grade, down, below, up, above = case
    m = grade_margin(total, profile)
    assert (m.grade, m.down, m.grade_below, m.up, m.grade_above) == (grade, down, below, up, above)


def test_margin_texts_and_udf():
    m = grade_margin(96.65, "qingdao-2020")
    assert m.down_text == "高于“优”下限（90分）6.65 分，低于90分为“良”"
    assert m.up_text == "已是最高等次“优”"
    assert udfs.DTG_MARGIN(89.45, "qingdao-2020") == \
        "高于“良”下限（80分）9.45 分，低于80分为“中”；距“优”下限（90分）还差 0.55 分"
    assert udfs.DTG_MARGIN(65).startswith("高于“中”下限（60分）5.00 分")  # blank profile = mof-2020
    assert udfs.DTG_MARGIN(65, "qingdao-2020") == "已是最低等次“差”；距“中”下限（70分）还差 5.00 分"
    assert udfs.DTG_MARGIN("九十").startswith("错误：综合得分应为数字")
    assert udfs.DTG_MARGIN(90, "shanghai").startswith("错误：未知的评价方案")


def _near_edge(tmp_path):
    """The 2020 case with more deductions: 96.65 − 2 − 3 − 2 − 0.2 = 89.45, just under 优."""
    data = load_example("dtg-2020")
    extra = {"立项程序规范性": 2, "绩效指标明确性": 3, "资金使用合规性": 2, "管理制度健全性": 0.2}
    for ind in data["indicators"]:
        if ind["三级指标"] in extra:
            ind["扣分"] = extra[ind["三级指标"]]
            ind["扣分原因"] = "测试用扣分"
    path = tmp_path / "edge.xlsx"
    write_template(path, data=data)
    return path


def test_decisive_losses_on_a_real_workbook(tmp_path, capsys):
    path = _near_edge(tmp_path)
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0 and data["total"] == 89.45 and data["grade"] == "良"
    m = data["margin"]
    assert (m["down"], m["grade_below"], m["up"], m["grade_above"]) == (9.45, "中", 0.55, "优")
    decisive = {d["l3"]: (d["lost"], d["total_if"], d["grade_if"]) for d in m["decisive"]}
    # every loss of at least 0.55 restores 优 alone; 管理制度健全性 (0.2) does not
    assert decisive == {
        "立项程序规范性": (2, 91.45, "优"), "绩效目标合理性": (0.75, 90.2, "优"),
        "绩效指标明确性": (3, 92.45, "优"), "预算编制科学性": (1, 90.45, "优"),
        "资金分配合理性": (1, 90.45, "优"), "资金使用合规性": (2, 91.45, "优"),
        "制度执行有效性": (0.6, 90.05, "优"),
    }
    # under mof-2020 the same total is also 良 with the same decisive losses
    code, data = run_json(["evaluate", path, "--profile", "mof-2020"], capsys)
    assert data["margin"]["down"] == 9.45 and len(data["margin"]["decisive"]) == 7


def test_margin_facts_on_the_summary(tmp_path, capsys):
    path = _near_edge(tmp_path)
    out = tmp_path / "out.xlsx"
    code, text, _ = run_cli(["evaluate", path, "-o", out], capsys)
    assert code == 0 and "距“优”下限（90分）还差 0.55 分" in text
    ws = openpyxl.load_workbook(out)["汇总"]
    facts = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in layout.FACT_ROW.values()}
    assert facts["距本等次下限"] == "高于“良”下限（80分）9.45 分，低于80分为“中”"
    assert facts["距上一等次"] == "距“优”下限（90分）还差 0.55 分"
    assert "制度执行有效性（失0.6分，挽回后90.05分“优”）" in facts["决定等次的失分"]
    assert "管理制度健全性" not in facts["决定等次的失分"]


def test_example_margin_is_shown_for_the_top_grade(example_copy, capsys):
    code, data = run_json(["evaluate", example_copy], capsys)
    m = data["margin"]
    assert (m["total"], m["grade"], m["down"], m["up"], m["decisive"]) == (96.65, "优", 6.65, None, [])


def test_decisive_losses_under_nested_weights(tmp_path, capsys):
    """分层权重: restoring a loss moves the total by weight × loss / 100, after the engine's ROUND."""
    rows = []

    def add(l1, weight, l2, l2_points, items):
        for name, points, actual in items:
            rows.append({"一级指标": l1, "一级权重": weight, "二级指标": l2, "二级分值": l2_points, "三级指标": name,
                         "分值": points, "评分方法": "正向", "目标值": 100, "实际值": actual, "计量单位": "%",
                         "偏差原因": "测试" if actual < 100 else None})

    add("预算绩效", 50, "预算管理", 75, [("预算编制", 7, 100), ("预算执行", 8, 98), ("预算调整", 5, 100),
                                    ("绩效目标", 25, 100), ("绩效监控", 25, 80), ("结果应用", 5, 100)])
    add("预算绩效", 50, "财务管理", 25, [("财务制度", 7, 100), ("资金使用", 13, 50), ("资产管理", 5, 100)])
    add("履职效能", 50, "重点工作", 100, [("通关时效", 60, 89), ("服务满意度", 40, 95)])
    path = tmp_path / "nested.xlsx"
    write_template(path, data={"params": {"评价方案": "qingdao-2020", "计分方式": "分层权重", "总分": 100},
                               "indicators": rows, "units": []})
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0, data["errors"]
    # 预算绩效 raw 88.34 → 44.17; 履职效能 raw 53.4 + 38 = 91.4 → 45.7; total 89.87 良, 0.13 below 优
    assert data["total"] == 89.87 and data["grade"] == "良" and data["warnings"] == []
    assert data["margin"]["up"] == 0.13
    decisive = {d["l3"]: (d["lost"], d["total_if"]) for d in data["margin"]["decisive"]}
    # 预算执行 loses 0.16 raw = 0.08 weighted → 89.95, still 良: not decisive
    assert decisive == {"绩效监控": (5, 92.37), "资金使用": (6.5, 93.12), "通关时效": (6.6, 93.17),
                        "服务满意度": (2, 90.87)}


def test_budget_line_is_a_decisive_loss_under_self_eval(tmp_path, capsys):
    """self-eval-2020 scores 执行率 × 10: spending 30% leaves 7 points on that line."""
    data = load_example("dtg-2020")
    dropped = ("落实国家降费政策", "集装箱进口环节通关成本较2017年下降")  # indicators carry 90 points here
    data["indicators"] = [r for r in data["indicators"] if r["三级指标"] not in dropped]
    for row in data["indicators"]:
        row.pop("一级权重", None)
    data["params"]["评价方案"] = "self-eval-2020"
    data["params"].pop("预算执行率口径")
    for i, unit in enumerate(data["units"]):
        unit["实际支出"] = 1964.55 if i == 0 else 0  # 1964.55 / 6548.5 = 30.00%
    for row in data["indicators"]:  # the indicator typed as before, so only the budget line loses points
        if row["三级指标"] == "预算执行率":
            row["实际值"] = 100
    path = tmp_path / "self.xlsx"
    write_template(path, data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0, out["errors"]
    assert (out["budget"]["execution_rate"], out["budget_score"], out["total"], out["grade"]) == (30, 3, 89.65, "良")
    decisive = {d["l3"]: (d["row"], d["lost"], d["total_if"]) for d in out["margin"]["decisive"]}
    assert decisive == {"绩效目标合理性": (4, 0.75, 90.4), "预算编制科学性": (6, 1, 90.65),
                        "资金分配合理性": (7, 1, 90.65), "制度执行有效性": (12, 0.6, 90.25),
                        "预算执行率": (None, 7, 96.65)}
