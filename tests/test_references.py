"""References in 实际值/目标值/评定得分 (core/references.py) on real workbooks: every kind, hand-computed figures,
each way a reference can fail (named with its cell), the typed-vs-computed warning, the budget link through
consolidation, what-if and verify, and the traceability on 汇总 and in --json."""
from __future__ import annotations

import openpyxl
import pytest

from dtg_xl.core import references
from dtg_xl.core.schema import BUDGET_FIGURE_CELLS
from dtg_xl.delivery.template import load_example, write_template
from dtg_xl.results import layout
from dtg_xl.units.consolidate import consolidate
from dtg_xl.units.unitforms import write_unit_forms

from helpers import ROOT, edit_cells, run_cli, run_json

# 单位填报 of the 2020 example: 调整后预算 (年初 + 追加) and 上年评价得分 per unit, in row order
ADJUSTED = [2400, 450, 600, 230, 750, 600, 700, 538.5, 280]
LAST_SCORE = [95, 92, 93, 88, 91, 94, 90, 89, 86]
SHIPS = [3600, 1200, 1500, 500, 0, 1300, 1100, 0, 260]


def pre_issue_13_example() -> dict:
    """The 2020 example as it was before issue 13 (typed 100 / 100 / 9460, the old 评分标准 texts): with the new
    sheets and 参数 rows of the template unused, it keeps its earlier 数据指纹 (tests/test_scoring_policy.py)."""
    data = load_example("dtg-2020")
    old = {"资金到位率": ("实际到位资金/调整后预算×100%，达到目标得满分，否则按比例得分", 100),
           "预算执行率": ("实际支出/实际到位×100%，达到目标得满分，否则按比例得分", 100),
           "监管出入境船舶艘次": ("目标值为样例（报告未载明），实际值9460余艘次取自报告", 9460)}
    for l3, (criteria, actual) in old.items():
        _row_of(data, l3).update({"评分标准": criteria, "实际值": actual})
    row = _row_of(data, "口岸疫情防控和入境特殊物品安全风险控制")
    row["评分标准"] = "有效控制入境特殊物品安全风险、防控传染病疫情（入境旅客55.5万人次）"
    del row["实际值"], row["计量单位"]
    return data


def test_the_example_fingerprint_with_references():
    from dtg_xl.core.model import read_model
    from dtg_xl.results.fingerprint import fingerprint
    from dtg_xl.xlsx.books import FileBook

    book = FileBook(ROOT / "templates" / "dtg-2020-example.xlsx")
    try:
        assert fingerprint(read_model(book)) == "sha256:e916596742c98636b64bc142"
    finally:
        book.close()


def _row_of(data: dict, l3: str) -> dict:
    return next(r for r in data["indicators"] if r["三级指标"] == l3)


def _workbook(tmp_path, name="w.xlsx", **actuals) -> tuple:
    """The example with some indicators' 实际值 replaced: {三级指标: value}."""
    data = load_example("dtg-2020")
    for l3, value in actuals.items():
        _row_of(data, l3)["实际值"] = value
    return write_template(tmp_path / name, data=data), data


def _indicator(out: dict, l3: str) -> dict:
    return next(i for i in out["indicators"] if i["l3"] == l3)


def test_syntax():
    assert references.parse("单位:监管船舶艘次:合计") == references.Reference("单位", ("监管船舶艘次", "合计"),
                                                                          "单位:监管船舶艘次:合计")
    assert references.parse(" 预算：执行率 ").parts == ("执行率",)
    assert references.parse("单位:满意度:加权平均:实际支出").parts == ("满意度", "加权平均", "实际支出")
    for plain in (95, "95", "95%", "是", "单位", "预算执行率", None):
        assert references.parse(plain) is None


def test_the_example_uses_references_and_still_gives_96_65(example_copy, capsys):
    code, out = run_json(["evaluate", example_copy], capsys)
    assert code == 0 and (out["total"], out["grade"]) == (96.65, "优") and out["warnings"] == []
    ships = _indicator(out, "监管出入境船舶艘次")
    assert ships["actual"] == sum(SHIPS) == 9460
    assert ships["actual_source"]["reference"] == "单位:监管船舶艘次:合计"
    assert ships["actual_source"]["cells"] == ["单位填报!H2:H10"]
    assert _indicator(out, "口岸疫情防控和入境特殊物品安全风险控制")["actual"] == 55.5  # 20.5+2+8+10+14+1
    rate = _indicator(out, "预算执行率")
    assert rate["actual"] == 100 and rate["actual_source"]["cells"] == ["汇总!G101"]
    assert "实际支出6548.5 ÷ 实际到位6548.5" in rate["actual_source"]["source"]
    assert _indicator(out, "资金到位率")["actual_source"]["reference"] == "预算:到位率"
    assert _indicator(out, "外贸货运量口岸全国排名")["actual_source"] is None  # typed


@pytest.mark.parametrize("reference, expected", [
    ("单位:监管船舶艘次:合计", 9460),
    ("单位:监管船舶艘次:平均", 1051.11),  # 9460 / 9 = 1051.111…
    ("单位:监管船舶艘次:最大", 3600),
    ("单位:监管船舶艘次:最小", 0),
    # Σ 调整后预算 × 上年评价得分 / Σ 调整后预算 = 605096.5 / 6548.5 = 92.4023…
    ("单位:上年评价得分:加权平均", 92.4),
    # weighted by 监管船舶艘次: Σ ships × score / 9460 = 879460 / 9460 = 92.9662…
    ("单位:上年评价得分:加权平均:监管船舶艘次", 92.97),
    ("单位:实际支出:合计", 6548.5),
    ("预算:实际支出", 6548.5), ("预算:调整后预算", 6548.5), ("预算:年初预算", 4241), ("预算:追加预算", 2307.5),
    ("基准对比:进口整体通关时间", 60.15),
])
def test_each_kind_by_hand(tmp_path, capsys, reference, expected):
    # the hand figures, computed here from the example's own numbers
    assert sum(a * s for a, s in zip(ADJUSTED, LAST_SCORE)) == 605096.5 and sum(ADJUSTED) == 6548.5
    assert sum(n * s for n, s in zip(SHIPS, LAST_SCORE)) == 879460
    path, _ = _workbook(tmp_path, **{"海运口岸外贸吞吐量": reference})  # a 正向 row takes any value ≥ 0
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0, out["errors"]
    row = _indicator(out, "海运口岸外贸吞吐量")
    assert row["actual"] == expected and row["actual_source"]["value"] == expected


def test_target_and_actual_can_both_be_references(tmp_path, capsys):
    data = load_example("dtg-2020")
    row = _row_of(data, "监管出入境船舶艘次")
    row["目标值"], row["实际值"] = "单位:监管船舶艘次:最大", "单位:监管船舶艘次:合计"
    path = write_template(tmp_path / "t.xlsx", data=data)
    code, out = run_json(["evaluate", path], capsys)
    ind = _indicator(out, "监管出入境船舶艘次")
    assert code == 0 and ind["target"] == 3600 and ind["target_source"]["reference"] == "单位:监管船舶艘次:最大"


@pytest.mark.parametrize("reference, words", [
    ("单位:不存在的列:合计", ("单位填报表中没有“不存在的列”列", "监管船舶艘次")),
    ("单位:监管船舶艘次", ("缺少汇总方式", "合计、平均、最大、最小、加权平均")),
    ("单位:监管船舶艘次:中位数", ("汇总方式“中位数”不可用",)),
    ("单位:单位类别:合计", ("不是数值列",)),
    ("单位:上年评价得分:加权平均:不存在", ("没有“不存在”列",)),
    ("预算:利润", ("项目不可用", "执行率")),
    ("基准对比:不存在", ("不在基准对比表中", "进口整体通关时间")),
    ("问卷:合计", ("没有“问卷”工作表或其中没有答卷",)),
    ("专家:外贸货运量口岸全国排名", ("没有“专家评分”工作表或其中没有评分",)),
    ("单位:", ("缺少“单位:”之后的项目名",)),
])
def test_an_unresolvable_reference_names_its_cell_and_what_is_missing(tmp_path, capsys, reference, words):
    path, data = _workbook(tmp_path, **{"外贸货运量口岸全国排名": reference})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and out["total"] is None
    row = 2 + [r["三级指标"] for r in data["indicators"]].index("外贸货运量口岸全国排名")
    problem = next(p for p in out["errors"] if p["cell"] == f"J{row}")
    assert problem["sheet"] == "指标体系" and problem["message"].startswith("实际值引用")
    for word in words:
        assert word in problem["message"]


def test_every_bad_reference_of_every_row_is_reported_at_its_own_cell(tmp_path, capsys):
    """Two bad references in one row (实际值 and 目标值), a third in another row, and a bad 分值 beside a bad
    reference: each is reported at its own cell, once, in one run (not only the first of the row)."""
    data = load_example("dtg-2020")
    names = [r["三级指标"] for r in data["indicators"]]
    first = _row_of(data, "外贸货运量口岸全国排名")
    first["实际值"], first["目标值"] = "单位:不存在列:合计", "预算:不存在"
    second = _row_of(data, "监管出入境船舶艘次")
    second["实际值"], second["分值"] = "基准对比:不存在", "五"
    path = write_template(tmp_path / "two.xlsx", data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and out["total"] is None
    r1, r2 = (2 + names.index(n) for n in ("外贸货运量口岸全国排名", "监管出入境船舶艘次"))
    by_cell = {}
    for p in out["errors"]:
        by_cell.setdefault((p["sheet"], p["cell"]), []).append(p["message"])
    (actual,) = by_cell[("指标体系", f"J{r1}")]
    assert actual.startswith("实际值引用“单位:不存在列:合计”") and "没有“不存在列”列" in actual
    assert len(by_cell[("指标体系", f"I{r1}")]) == 1
    assert by_cell[("指标体系", f"I{r1}")][0].startswith("目标值引用“预算:不存在”的项目不可用")
    assert len(by_cell[("指标体系", f"J{r2}")]) == 1 and "不在基准对比表中" in by_cell[("指标体系", f"J{r2}")][0]
    assert len(by_cell[("指标体系", f"F{r2}")]) == 1 and "分值" in by_cell[("指标体系", f"F{r2}")][0]


def test_a_blank_unit_cell_or_no_units_is_an_error_not_a_smaller_total(tmp_path, capsys):
    path, _ = _workbook(tmp_path)
    edit_cells(path, {"单位填报": {"H5": None}})  # 董家口海事局's 监管船舶艘次
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2
    msg = next(p["message"] for p in out["errors"] if p["cell"] == "J13")
    assert "单位填报!H5（董家口海事局）为空或不是数字" in msg

    data = load_example("dtg-2020")
    data["units"] = []
    path = write_template(tmp_path / "empty.xlsx", data=data)
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2
    assert any(p["cell"] == "J13" and "单位填报表中没有单位" in p["message"] for p in out["errors"])
    assert any(p["cell"] == "J9" and "没有单位，无法计算预算执行情况" in p["message"] for p in out["errors"])


def test_zero_weights_cannot_be_averaged(tmp_path, capsys):
    path, _ = _workbook(tmp_path, **{"外贸货运量口岸全国排名": "单位:上年评价得分:加权平均:报关单量（万票）"})
    edit_cells(path, {"单位填报": {"K2": 0}})  # every unit's 报关单量 is now 0
    code, out = run_json(["evaluate", path], capsys)
    assert code == 2 and any("合计为0，无法加权平均" in p["message"] for p in out["errors"])


def test_typed_rate_that_disagrees_with_the_budget_is_a_warning_naming_both_cells(tmp_path, capsys):
    path, _ = _workbook(tmp_path, **{"预算执行率": 100})
    edit_cells(path, {"单位填报": {"G2": 2379.7}})  # 青岛海关 spends 20.3 less: 6528.2 / 6548.5 = 99.69%
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and out["budget"]["execution_rate"] == 99.69
    assert _indicator(out, "预算执行率")["score"] == 4  # the typed 100 is scored, as typed
    (w,) = [w for w in out["warnings"] if w["cell"] == "J9"]
    assert w["sheet"] == "指标体系" and "实际值填写为100" in w["message"] and "99.69%" in w["message"]
    assert BUDGET_FIGURE_CELLS["execution_rate"] in w["message"] and "预算:执行率" in w["message"]
    # the same workbook with the reference: the indicator follows, no warning
    edit_cells(path, {"指标体系": {"J9": "预算:执行率"}})
    code, out = run_json(["evaluate", path], capsys)
    assert code == 0 and not [w for w in out["warnings"] if w["cell"] == "J9"]
    assert _indicator(out, "预算执行率")["score"] == 3.99  # 4 × 99.69 / 100 = 3.9876


def test_budget_cells_named_in_schema_are_the_summary_budget_block():
    for i, name in enumerate(("initial", "added", "adjusted", "in_place", "spent", "in_place_rate",
                              "execution_rate")):
        assert BUDGET_FIGURE_CELLS[name] == f"{chr(65 + layout.BUDGET.col - 1 + i)}{layout.BUDGET.first_row}"
        assert layout.BUDGET.headers[i] in ("年初预算", "追加预算", "调整后预算", "实际到位", "实际支出", "资金到位率",
                                            "预算执行率")


def _consolidated(tmp_path, master, spent_of_first: float):
    forms = write_unit_forms(master, tmp_path / "forms")
    edit_cells(forms[0], {"单位填报": {"G2": spent_of_first}})  # 青岛海关 returns its form with 实际支出 changed
    out = tmp_path / "consolidated.xlsx"
    report = consolidate(master, forms, out)
    assert report.ok, report
    return out


def test_budget_link_after_consolidating_a_unit_form(tmp_path, capsys):
    """A unit's returned form lowers 实际支出: the referenced indicator moves and nothing disagrees; the same
    consolidation under a typed 100 keeps the score but warns."""
    master, _ = _workbook(tmp_path, "master.xlsx")
    out_path = _consolidated(tmp_path, master, 2200)  # 6348.5 / 6548.5 = 96.95%
    code, out = run_json(["evaluate", out_path], capsys)
    assert code == 0 and out["budget"]["execution_rate"] == 96.95
    assert _indicator(out, "预算执行率")["score"] == 3.88  # 4 × 0.9695 = 3.878
    assert out["total"] == 96.53 and out["warnings"][:0] == [] and not [w for w in out["warnings"]
                                                                       if w["cell"] == "J9"]
    typed_dir = tmp_path / "typed"
    typed_dir.mkdir()
    typed, _ = _workbook(typed_dir, "master.xlsx", **{"预算执行率": 100})
    code, out = run_json(["evaluate", _consolidated(typed_dir, typed, 2200)], capsys)
    assert code == 0 and out["total"] == 96.65 and [w["cell"] for w in out["warnings"]] == ["J9"]


def test_whatif_on_a_source_cell_moves_the_referenced_indicator(example_copy, capsys):
    code, w = run_json(["whatif", example_copy, "--set", "单位填报!H2=0"], capsys)  # 青岛海关's 3600 ships gone
    assert code == 0
    # 5860 / 9000 × 4 = 2.604… → 2.6; 96.65 − 1.4 = 95.25
    assert [(m["l3"], m["after"]) for m in w["moved"]] == [("监管出入境船舶艘次", 2.6)]
    assert w["after"]["total"] == 95.25


def test_verify_recomputes_from_the_sources(example_copy, capsys):
    code, _, _ = run_cli(["evaluate", example_copy, "--in-place"], capsys)
    assert code == 0
    assert run_cli(["verify", example_copy], capsys)[0] == 0
    edit_cells(example_copy, {"单位填报": {"G2": 2200}})  # a source of 预算:执行率, not the indicator row itself
    code, v = run_json(["verify", example_copy], capsys)
    assert code == 2 and not v["ok"]
    cells = {(d["sheet"], d["cell"]) for d in v["differences"]}
    assert ("指标体系", "R9") in cells  # the 预算执行率 indicator's 得分 is now stale
    assert ("汇总", "D170") in cells or any(c[0] == "汇总" for c in cells)


def test_summary_shows_where_each_referenced_value_came_from(example_copy, capsys):
    out = example_copy.with_name("out.xlsx")
    assert run_cli(["evaluate", example_copy, "-o", out], capsys)[0] == 0
    ws = openpyxl.load_workbook(out)["汇总"]
    assert ws.cell(layout.SOURCES.header_row - 1, 1).value == layout.SOURCES.title
    rows = [[ws.cell(r, c).value for c in range(1, 6)]
            for r in range(layout.SOURCES.first_row, layout.SOURCES.last_row + 1) if ws.cell(r, 1).value]
    assert [r[1] for r in rows] == ["指标体系!J8", "指标体系!J9", "指标体系!J13", "指标体系!J17", "指标体系!J21",
                                    "指标体系!J22"]
    ships = rows[2]
    assert ships[0] == "监管出入境船舶艘次" and ships[2] == "单位:监管船舶艘次:合计" and ships[3] == 9460
    assert ships[4] == "单位填报!H2:H10 监管船舶艘次 9家单位合计 = 9460"


def test_compare_follows_references(tmp_path, capsys):
    """Last year typed 9460 by hand; this year takes it from 单位填报 where 青岛海关 reports 3100: compare shows the
    resolved 实际值 (8960) and its change."""
    last, _ = _workbook(tmp_path, "2020.xlsx", **{"监管出入境船舶艘次": 9460})
    this, _ = _workbook(tmp_path, "2021.xlsx")
    edit_cells(this, {"单位填报": {"H2": 3100}})
    code, data = run_json(["compare", last, this], capsys)
    assert code == 0
    ship = next(r for r in data["indicators"] if r["l3"] == "监管出入境船舶艘次")
    assert (ship["actual"]["last"], ship["actual"]["this"], ship["actual"]["change"]) == (9460, 8960, -500)
    assert ship["score"]["this"] == 3.98  # 8960 / 9000 × 4 = 3.982
