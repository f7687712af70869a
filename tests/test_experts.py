"""专家评分 (core/experts.py) on real workbooks: 3 and 5 reviewers, 平均 and 去掉最高最低, band violations named with
the reviewer's cell, spread warnings, a typed 评定得分 that disagrees with its panel, and the computed columns."""
from __future__ import annotations

import openpyxl
import pytest

from dtg_xl.delivery.template import load_example, write_template

from helpers import edit_cells, run_json

SMART = "智慧口岸建设和口岸营商环境"  # 定性, 5 points, 达成年度指标: band [4, 5]
EPIDEMIC = "口岸疫情防控和入境特殊物品安全风险控制"  # 定性, 4 points


def _book(tmp_path, panels: dict[str, list], method: str | None = None, keep_typed: bool = False, **edits):
    data = load_example("dtg-2020")
    for row in data["indicators"]:
        if row["三级指标"] in panels and not keep_typed:
            row.pop("评定得分")
        row.update(edits.get(row["三级指标"], {}))
    data["experts"] = [{"三级指标": name, **{f"专家{i}": s for i, s in enumerate(scores, start=1) if s is not None}}
                       for name, scores in panels.items()]
    if method:
        data["params"]["专家评分方式"] = method
    return write_template(tmp_path / "experts.xlsx", data=data), data


def _ind(out, l3):
    return next(i for i in out["indicators"] if i["l3"] == l3)


def test_three_reviewers_mean_feeds_the_qualitative_score(tmp_path, capsys):
    path, _ = _book(tmp_path, {SMART: [4.5, 4.8, 4.2]})
    code, out = run_json(["evaluate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0, out["errors"]
    # (4.5 + 4.8 + 4.2) / 3 = 4.5; 96.65 − 0.5 = 96.15
    assert _ind(out, SMART)["score"] == 4.5 and out["total"] == 96.15
    src = _ind(out, SMART)["given_source"]
    assert src["reference"] == f"专家:{SMART}" and src["source"] == "专家评分!B2:D2 3位专家平均 = 4.5"
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["专家评分"]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("评定得分") + 1).value == 4.5
    assert ws.cell(2, header.index("极差") + 1).value == pytest.approx(0.6)


@pytest.mark.parametrize("method, expected, how", [
    ("去掉最高最低", 4.63, "5位专家，去掉最高5、最低4后平均"),  # (4.5 + 4.6 + 4.8) / 3 = 4.6333…
    ("平均", 4.58, "5位专家平均"),  # 22.9 / 5
])
def test_five_reviewers(tmp_path, capsys, method, expected, how):
    path, _ = _book(tmp_path, {SMART: [4.6, 5, 4, 4.8, 4.5]}, method=method)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0, out["errors"]
    assert _ind(out, SMART)["score"] == expected and how in _ind(out, SMART)["given_source"]["source"]


def test_trimming_needs_five_reviewers(tmp_path, capsys):
    path, _ = _book(tmp_path, {SMART: [4, 5, 4.6, 4.8]}, method="去掉最高最低")
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and _ind(out, SMART)["score"] == 4.6  # 18.4 / 4, nothing dropped
    assert "4位专家（不足5位，不去掉最高最低）平均" in _ind(out, SMART)["given_source"]["source"]


def test_each_reviewer_is_checked_against_the_band(tmp_path, capsys):
    path, data = _book(tmp_path, {SMART: [4.5, 3.5, 4.2, 5.5]})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and out["total"] is None
    row = 2 + [r["三级指标"] for r in data["indicators"]].index(SMART)
    (p,) = [p for p in out["errors"] if p["cell"] == f"M{row}"]  # 评定得分 of the indicator
    assert "专家评分!C2（专家2）“达成年度指标”的评定得分应在[4, 5]之间，实际为3.5" in p["message"]
    assert "专家评分!E2（专家4）" in p["message"] and "专家1" not in p["message"]


def test_a_wide_spread_is_a_warning_naming_the_row(tmp_path, capsys):
    # 未达成年度指标且效果较差: band [0, 3) of 5 points; 2.5 − 0.5 = 2 > 20% × 5
    path, _ = _book(tmp_path, {SMART: [0.5, 2.5, 2]}, **{SMART: {"定性等级": "未达成年度指标且效果较差"}})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and _ind(out, SMART)["score"] == 1.67  # 5 / 3
    (w,) = [w for w in out["warnings"] if w["sheet"] == "专家评分"]
    assert w["cell"] == "A2" and "极差2超过分值5的20%" in w["message"]
    path, _ = _book(tmp_path, {SMART: [4, 5, 4.5]})  # spread 1 = exactly 20%: no warning
    assert not [w for w in run_json(["evaluate", path], capsys)[1]["warnings"] if w["sheet"] == "专家评分"]


def test_typed_score_that_disagrees_with_its_panel_warns_and_an_explicit_reference_works(tmp_path, capsys):
    path, data = _book(tmp_path, {SMART: [4.5, 4.8, 4.2], EPIDEMIC: [4, 3.6, 3.8]}, keep_typed=True)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and _ind(out, SMART)["score"] == 5  # the typed score stands
    row = 2 + [r["三级指标"] for r in data["indicators"]].index(SMART)
    (w,) = [w for w in out["warnings"] if w["cell"] == f"M{row}"]
    assert "评定得分填写为5" in w["message"] and "专家评分!B2:D2专家评分结果为4.5" in w["message"]
    erow = 2 + [r["三级指标"] for r in data["indicators"]].index(EPIDEMIC)
    edit_cells(path, {"指标体系": {f"M{erow}": f"专家:{EPIDEMIC}"}})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and _ind(out, EPIDEMIC)["score"] == 3.8


def test_sheet_problems(tmp_path, capsys):
    path, _ = _book(tmp_path, {SMART: [4.5, "很好", 4.2], "不存在的指标": [3]}, method=None)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2
    assert any(p["sheet"] == "专家评分" and p["cell"] == "C2" and "专家2评分" in p["message"] for p in out["errors"])
    assert any(w["sheet"] == "专家评分" and w["cell"] == "A3" and "没有同名的三级指标" in w["message"]
               for w in out["warnings"])
    path, _ = _book(tmp_path, {SMART: [4.5]})
    edit_cells(path, {"参数": {"B18": "取中位数"}})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and any(p["cell"] == "B18" and "专家评分方式应为" in p["message"] for p in out["errors"])
