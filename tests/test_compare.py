"""Year over year: `dtg-xl compare` matches indicators (same, renamed by slot, renamed by
similar name, added, removed) and its changes match hand-computed ones, on the 同比 sheet too."""
from __future__ import annotations

import copy
import hashlib

import openpyxl
import pytest

from dtg_xl.results import compare
from dtg_xl.results import layout
from dtg_xl.delivery.template import load_example, write_template

from helpers import edit_cells, run_cli, run_json


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _this_year(data: dict) -> dict:
    """2021 from 2020: a slot rename, a reworded indicator with new points, an indicator
    replaced by a different one, new target/actual figures."""
    data = copy.deepcopy(data)
    data["params"]["评价年度"] = 2021
    inds = data["indicators"]
    by = {ind["三级指标"]: ind for ind in inds}
    by["海运口岸外贸吞吐量"]["三级指标"] = "海运口岸外贸货运吞吐量"  # same slot/points/method → 更名
    by["外贸集装箱吞吐量"].update({"三级指标": "外贸集装箱吞吐量（万标箱）", "分值": 2})  # similar name → 更名
    by["监管出入境船舶艘次"].update({"分值": 5, "目标值": 9500, "实际值": 9300})  # 5 × 9300/9500 = 4.89
    by["进口整体通关时间较2017年压缩率"]["实际值"] = 62.3
    i = inds.index(by["外贸货运量口岸全国排名"])
    inds[i] = {"一级指标": "效益", "二级指标": "社会效益", "三级指标": "口岸通关便利度", "分值": 5, "评分方法": "定性",
               "定性等级": "达成年度指标", "评定得分": 4.5}
    return data


@pytest.fixture
def years(tmp_path):
    last, this = tmp_path / "2020.xlsx", tmp_path / "2021.xlsx"
    data = load_example("dtg-2020")
    write_template(last, data=data)
    write_template(this, data=_this_year(data))
    return last, this


def _by_name(data):
    return {r["l3"]: r for r in data["indicators"]}


def test_matching_and_hand_computed_changes(years, capsys):
    last, this = years
    hashes = (sha(last), sha(this))
    code, data = run_json(["compare", last, this], capsys)
    assert code == 0
    assert (sha(last), sha(this)) == hashes  # inputs untouched
    assert data["counts"] == {"不变": 21, "更名": 2, "新增": 1, "删除": 1}
    assert [(r["last"], r["this"], r["last_l2"]) for r in data["renamed"]] == [
        ("海运口岸外贸吞吐量", "海运口岸外贸货运吞吐量", None), ("外贸集装箱吞吐量", "外贸集装箱吞吐量（万标箱）", None)]
    assert data["added"] == ["口岸通关便利度"] and data["removed"] == ["外贸货运量口岸全国排名"]
    # totals: 产出 25 − 0.11 (4.89 of 5) = 24.89; 效益 35 − 5 + 4.5 = 34.5 → 96.04
    assert (data["last"]["total"], data["this"]["total"], data["total_change"]) == (96.65, 96.04, -0.61)
    assert (data["last"]["year"], data["this"]["year"]) == (2020, 2021)
    cats = {c["name"]: (c["score"]["last"], c["score"]["this"], c["score"]["change"]) for c in data["categories"]}
    assert cats == {"决策": (17.25, 17.25, 0), "过程": (19.4, 19.4, 0), "产出": (25, 24.89, -0.11),
                    "效益": (35, 34.5, -0.5)}
    rows = _by_name(data)
    ship = rows["监管出入境船舶艘次"]
    assert ship["status"] == "不变"
    assert [ship[k]["change"] for k in ("points", "target", "actual", "score")] == [1, 500, -160, 0.89]
    assert (ship["score"]["last"], ship["score"]["this"]) == (4, 4.89)
    box = rows["外贸集装箱吞吐量（万标箱）"]
    assert box["status"] == "更名" and box["last_name"] == "外贸集装箱吞吐量"
    assert (box["points"]["change"], box["score"]["change"], box["target"]["change"]) == (-1, -1, 0)
    assert rows["进口整体通关时间较2017年压缩率"]["actual"]["change"] == 2.15  # 62.3 − 60.15, no float noise
    added, removed = rows["口岸通关便利度"], rows["外贸货运量口岸全国排名"]
    assert (added["status"], added["score"]["last"], added["score"]["this"], added["score"]["change"]) == \
        ("新增", None, 4.5, None)
    assert (removed["status"], removed["score"]["last"], removed["score"]["this"], removed["this_row"]) == \
        ("删除", 5, None, None)
    assert data["indicators"][-1]["l3"] == "外贸货运量口岸全国排名"  # removed ones come last


def test_same_file_twice_is_all_unchanged(years, capsys):
    last, _ = years
    code, data = run_json(["compare", last, last, "-o", last.with_name("same.xlsx")], capsys)
    assert code == 0 and data["counts"] == {"不变": 24, "更名": 0, "新增": 0, "删除": 0}
    assert all(r[k]["change"] in (0, None) for r in data["indicators"] for k in ("target", "actual", "score"))


def test_compare_sheet_in_the_output_copy(years, capsys):
    last, this = years
    out = this.with_name("out.xlsx")
    code, text, _ = run_cli(["compare", last, this, "-o", out], capsys)
    assert code == 0
    assert "上年 96.65 分（优） → 本年 96.04 分（优），变化 -0.61" in text
    assert "更名：外贸集装箱吞吐量 → 外贸集装箱吞吐量（万标箱）" in text and "删除：外贸货运量口岸全国排名" in text
    assert "监管出入境船舶艘次：分值 4→5，目标值 9000→9500，实际值 9460→9300，得分 4→4.89" in text
    wb = openpyxl.load_workbook(out)
    ws = wb[compare.SHEET_COMPARE]
    facts = {ws.cell(compare.FACTS_ROW + i, 1).value: ws.cell(compare.FACTS_ROW + i, 2).value
             for i in range(len(compare.FACTS))}
    assert facts["上年综合得分"] == 96.65 and facts["本年综合得分"] == 96.04 and facts["综合得分变化"] == -0.61
    assert facts["指标匹配"] == "不变21项，更名2项，新增1项，删除1项"
    assert [ws.cell(compare.CAT_HEADER_ROW, c).value for c in range(1, 9)] == list(compare.CAT_HEADERS)
    cats = [[ws.cell(r, c).value for c in range(1, 9)] for r in range(compare.CAT_HEADER_ROW + 1, compare.CAT_HEADER_ROW + 6)]
    assert cats[2] == ["产出", "不变", 25, 25, 0, 25, 24.89, -0.11] and cats[4] == [None] * 8
    table = {}
    for r in range(compare.IND_HEADER_ROW + 1, compare.IND_HEADER_ROW + 1 + compare.IND_ROWS):
        row = [ws.cell(r, c).value for c in range(1, len(compare.IND_HEADERS) + 1)]
        if row[0]:
            table[row[3]] = dict(zip(compare.IND_HEADERS, row))
    assert len(table) == 25
    ship = table["监管出入境船舶艘次"]
    assert (ship["上年目标值"], ship["本年目标值"], ship["目标值变化"], ship["得分变化"]) == (9000, 9500, 500, 0.89)
    assert table["外贸集装箱吞吐量（万标箱）"]["上年名称"] == "外贸集装箱吞吐量"
    assert table["外贸货运量口岸全国排名"]["状态"] == "删除"
    # the copy also carries this year's evaluation
    assert wb["汇总"].cell(layout.FACT_ROW["综合得分"], 2).value == 96.04


def test_workbook_with_errors_is_named(years, capsys):
    last, this = years
    edit_cells(this, {"指标体系": {"F2": "三分"}})
    code, _, err = run_cli(["compare", last, this], capsys)
    assert code == 2 and "2021.xlsx有校验问题" in err and "指标体系!F2" in err and "Traceback" not in err


def test_output_must_not_be_an_input(years, capsys):
    last, this = years
    code, _, err = run_cli(["compare", last, this, "-o", last], capsys)
    assert code == 2 and "是输入文件之一" in err


def test_old_workbook_without_compare_sheet(years, capsys):
    last, this = years
    wb = openpyxl.load_workbook(this)
    del wb[compare.SHEET_COMPARE]
    old = this.with_name("old.xlsx")
    wb.save(old)
    code, _, err = run_cli(["compare", last, old, "-o", this.with_name("x.xlsx")], capsys)
    assert code == 2 and "没有“同比”工作表" in err
    code, data = run_json(["compare", last, old], capsys)  # without -o: the JSON, no file
    assert code == 0 and data["output"] is None and data["total_change"] == -0.61
    assert not old.with_name("old-同比.xlsx").exists()


def test_match_rules_directly():
    def ind(l1, l2, l3, ordinal, points=5, method="正向"):
        return {"l1": l1, "l2": l2, "l3": l3, "ordinal": ordinal, "points": points, "method": method}

    last = [ind("产出", "数量", "船舶艘次", 0), ind("产出", "数量", "吞吐量", 1), ind("效益", "社会", "满意度", 0)]
    this = [ind("产出", "数量", "船舶艘次", 0), ind("产出", "数量", "货物吞吐量", 1, points=4),
            ind("效益", "社会", "营商环境", 0, method="定性"), ind("效益", "社会", "满意度调查", 1)]
    got = [(x and x["l3"], y and y["l3"], s) for x, y, s in compare.match(last, this)]
    assert got == [("船舶艘次", "船舶艘次", "不变"), ("吞吐量", "货物吞吐量", "更名"),
                   (None, "营商环境", "新增"), ("满意度", "满意度调查", "更名")]
    # a similar name in another 一级 is not a rename
    got = compare.match([ind("产出", "数量", "满意度", 0)], [ind("效益", "社会", "满意度", 0)])
    assert [s for _, _, s in got] == ["新增", "删除"]


def test_an_indicator_moved_to_another_second_level_is_matched(tmp_path, capsys):
    data = load_example("dtg-2020")
    this_data = copy.deepcopy(data)
    by = {ind["三级指标"]: ind for ind in this_data["indicators"]}
    by["计划任务完成及时率"].update({"二级指标": "产出质量", "二级分值": None})  # 产出时效 merged into 产出质量
    by["口岸查验服务质量达标率"]["二级分值"] = 15  # 4 + 4 + 7
    last, this = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_template(last, data=data)
    write_template(this, data=this_data)
    code, out, err = run_cli(["compare", last, this], capsys)
    assert code == 0, err
    assert "更名：产出时效/计划任务完成及时率 → 产出质量/计划任务完成及时率" in out


def test_first_level_added_and_removed(tmp_path, capsys):
    """A renamed 一级 is not guessed: its indicators are 删除 and 新增, the 一级 rows say so."""
    data = load_example("dtg-2020")
    this_data = copy.deepcopy(data)
    for ind in this_data["indicators"]:
        if ind["一级指标"] == "效益":
            ind["一级指标"] = "效果"
    last, this = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_template(last, data=data)
    write_template(this, data=this_data)
    code, out = run_json(["compare", last, this], capsys)
    assert code == 0
    assert out["counts"] == {"不变": 17, "更名": 0, "新增": 7, "删除": 7}
    cats = {c["name"]: (c["status"], c["score"]["last"], c["score"]["this"], c["score"]["change"])
            for c in out["categories"]}
    assert cats["效果"] == ("新增", None, 35, None) and cats["效益"] == ("删除", 35, None, None)
    assert out["total_change"] == 0
    code, text, _ = run_cli(["compare", last, this, "-o", tmp_path / "c.xlsx"], capsys)
    assert "效果（新增）— → 35" in text and "效益（删除）35 → —" in text
