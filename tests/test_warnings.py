"""偏差原因: a quantitative indicator below its points without a reason is a warning with its
cell (JSON `warnings`, 汇总 list, exit code 0); other methods and filled reasons are not."""
from __future__ import annotations

import openpyxl

from dtg_xl.results import layout
from dtg_xl.core.deviation import QUANTITATIVE
from dtg_xl.delivery.template import load_example, write_template

from helpers import edit_cells, run_cli, run_json


def _header_cols(path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path, read_only=True)["指标体系"]
    header = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
    return {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(header, start=1) if h}


def _row_of(path, l3: str) -> int:
    ws = openpyxl.load_workbook(path, read_only=True)["指标体系"]
    for r, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        if l3 in row:
            return r
    raise AssertionError(l3)


def test_template_has_reason_and_measure_columns_between_reason_and_score(example_path):
    headers = list(_header_cols(example_path))
    i = headers.index("扣分原因")
    assert headers[i + 1: i + 4] == ["偏差原因", "改进措施", "得分"]


def test_2020_example_has_no_warnings(example_copy, capsys):
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 0 and data["total"] == 96.65 and data["warnings"] == []


def test_missing_reason_is_a_warning_with_its_cell_and_exit_0(example_copy, capsys):
    cols = _header_cols(example_copy)
    row = _row_of(example_copy, "监管出入境船舶艘次")
    edit_cells(example_copy, {"指标体系": {f"{cols['实际值']}{row}": 8000}})  # target 9000 → 3.56 of 4
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 0 and data["errors"] == []
    assert data["total"] == 96.21
    assert len(data["warnings"]) == 1
    w = data["warnings"][0]
    assert (w["sheet"], w["cell"]) == ("指标体系", f"{cols['偏差原因']}{row}")
    assert "监管出入境船舶艘次" in w["message"] and "3.56" in w["message"] and "偏差原因" in w["message"]

    # the summary lists it after the errors, marked 提示, and the status says so
    code, out, _ = run_cli(["evaluate", example_copy, "-o", example_copy.with_name("out.xlsx")], capsys)
    assert code == 0 and f"提示：指标体系!{cols['偏差原因']}{row}" in out
    ws = openpyxl.load_workbook(example_copy.with_name("out.xlsx"))["汇总"]
    first = [ws.cell(layout.ERRORS.first_row, layout.ERRORS.col + i).value for i in range(3)]
    assert first[:2] == ["指标体系", f"{cols['偏差原因']}{row}"] and first[2].startswith("提示：")
    assert ws.cell(layout.FACT_ROW["校验结果"], 2).value.startswith("通过（另有1条提示")


def test_a_filled_reason_silences_the_warning(example_copy, capsys):
    cols = _header_cols(example_copy)
    row = _row_of(example_copy, "监管出入境船舶艘次")
    edit_cells(example_copy, {"指标体系": {f"{cols['实际值']}{row}": 8000,
                                          f"{cols['偏差原因']}{row}": "疫情影响，船舶到港减少",
                                          f"{cols['改进措施']}{row}": "加强预判"}})
    code, data = run_json(["evaluate", example_copy], capsys)
    assert code == 0 and data["warnings"] == [] and data["total"] == 96.21
    # the summary's loss list and the JSON carry the evaluator's explanation
    [loss] = [x for x in data["losses"] if x["l3"] == "监管出入境船舶艘次"]
    assert loss["reason"] == "实际值8000艘次，目标值9000艘次；偏差原因：疫情影响，船舶到港减少；改进措施：加强预判"
    [ind] = [i for i in data["indicators"] if i["l3"] == "监管出入境船舶艘次"]
    assert (ind["deviation_reason"], ind["improvement"]) == ("疫情影响，船舶到港减少", "加强预判")


def test_only_quantitative_methods_warn(tmp_path, capsys):
    """定性 and 扣分 below points carry their own judgement; every quantitative method warns."""
    data = load_example("dtg-2020")
    by_name = {ind["三级指标"]: ind for ind in data["indicators"]}
    by_name["口岸疫情防控和入境特殊物品安全风险控制"].update({"定性等级": "部分达成年度指标并具有一定效果", "评定得分": 3})
    by_name["进口整体通关时间较2017年压缩率"]["实际值"] = 40  # 正向 below target
    by_name["外贸货运量口岸全国排名"]["实际值"] = 6  # 排名 worse than target
    by_name["落实国家降费政策"]["实际值"] = "否"  # 是否
    by_name["进出口企业满意度"]["实际值"] = 85  # 分档 lower band
    by_name["立项依据充分性"]["实际值"] = 4  # 要素 4 of 5
    path = tmp_path / "m.xlsx"
    write_template(path, data=data)
    code, result = run_json(["evaluate", path], capsys)
    assert code == 0 and result["errors"] == []
    warned = {w["message"].split("”")[0].split("“")[1] for w in result["warnings"]}
    below = {i["l3"] for i in result["indicators"] if i["score"] < i["points"]}
    quantitative = {i["l3"] for i in result["indicators"] if i["method"] in QUANTITATIVE}
    assert warned == below & quantitative
    assert warned == {"进口整体通关时间较2017年压缩率", "外贸货运量口岸全国排名", "落实国家降费政策",
                      "进出口企业满意度", "立项依据充分性"}
    assert "口岸疫情防控和入境特殊物品安全风险控制" in below  # 定性 lost points, no warning
    assert "绩效目标合理性" in below  # 扣分 lost points, no warning


def test_old_workbook_without_the_column_points_at_the_indicator(tmp_path, capsys):
    """A workbook made before the columns existed: the warning names the 三级指标 cell."""
    path = tmp_path / "old.xlsx"
    write_template(path, example="dtg-2020")
    wb = openpyxl.load_workbook(path)
    ws = wb["指标体系"]
    cols = {c.value: c.column for c in ws[1] if c.value}
    ws.delete_cols(cols["偏差原因"], 2)
    row = next(r for r in range(2, 40) if ws.cell(r, cols["三级指标"]).value == "监管出入境船舶艘次")
    ws.cell(row, cols["实际值"]).value = 8000
    wb.save(path)
    code, data = run_json(["evaluate", path], capsys)
    assert code == 0 and data["total"] == 96.21
    [w] = data["warnings"]
    assert w["cell"] == f"{openpyxl.utils.get_column_letter(cols['三级指标'])}{row}"
    assert "没有“偏差原因”列" in w["message"]
