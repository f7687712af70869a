"""The code behind the Excel button, run on xlwings' own remote Book (``xw.Book(json=payload)``)
built from the real workbook's sheets: the actions it returns are what Excel would be told to
write.  Also runs dtg.main() and the Lite/Server scripts and custom functions through
xlwings' own runtime.

Tier: xlwings' remote Book is licence-gated; XLWINGS_LICENSE_KEY=noncommercial (set by .ci/run)
enables it.  Without the key every test here skips with that reason.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from dtg_xl.doors import excel_door
from dtg_xl.results import layout
from dtg_xl.xlsx.books import FileBook
from dtg_xl.results.pipeline import evaluate_book
from dtg_xl.core.schema import SHEET_BASELINES, SHEET_INDICATORS, SHEET_SUMMARY

from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from data import remote_payload as payload_from_file  # noqa: E402 (bench/data.py; also used by bench/click_bench.py)

pytestmark = [
    pytest.mark.remote_book,
    pytest.mark.skipif(not os.environ.get("XLWINGS_LICENSE_KEY"),
                       reason="xlwings' remote Book needs XLWINGS_LICENSE_KEY (e.g. noncommercial); .ci/run sets it"),
]

WORKBOOK = ROOT / "workbook" / "dtg.xlsm"
WHEN = datetime(2021, 3, 1, 9, 30, 0)


def remote_book(payload: dict):
    import xlwings as xw

    return xw.Book(json=copy.deepcopy(payload))


def applied(payload: dict, actions: list[dict]) -> dict[tuple[str, int, int], object]:
    """Apply setValues actions: (sheet, 1-based row, 1-based col) -> value written."""
    names = [s["name"] for s in payload["sheets"]]
    cells = {}
    for a in actions:
        assert a["func"] == "setValues", a["func"]
        assert a["row_count"] == len(a["values"]) and a["column_count"] == len(a["values"][0])
        sheet = names[a["sheet_position"]]
        for i, row in enumerate(a["values"]):
            for j, value in enumerate(row):
                cells[(sheet, a["start_row"] + 1 + i, a["start_column"] + 1 + j)] = value
    return cells


def set_cell(payload: dict, sheet: str, row: int, col: int, value) -> None:
    values = next(s for s in payload["sheets"] if s["name"] == sheet)["values"]
    while len(values) < row:
        values.append([""] * len(values[0]))
    while len(values[row - 1]) < col:
        values[row - 1].append("")
    values[row - 1][col - 1] = value


def header_col(payload: dict, sheet: str, header: str) -> int:
    values = next(s for s in payload["sheets"] if s["name"] == sheet)["values"]
    return values[0].index(header) + 1


@pytest.fixture(scope="module")
def payload() -> dict:
    return payload_from_file(WORKBOOK)


@pytest.fixture(scope="module")
def run(payload):
    book = remote_book(payload)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    return outcome, applied(payload, book.json()["actions"]), book.json()["actions"]


# ---------------------------------------------------------------- the 2020 example
def test_example_writes_total_and_grade(run):
    outcome, cells, actions = run
    assert outcome.ok and outcome.result.total == 96.65
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["综合得分"], 2)] == 96.65
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["评价等次"], 2)] == "优"
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["计算时间"], 2)] == "2021-03-01 09:30:00"
    assert {a["func"] for a in actions} == {"setValues"}
    # the raw protocol: 0-based sheet position, row and column of the facts block's anchor (汇总!B3)
    names = [s["name"] for s in payload_from_file(WORKBOOK)["sheets"]]
    facts = next(a for a in actions if a["sheet_position"] == names.index(SHEET_SUMMARY)
                 and a["start_row"] == layout.FACTS_ROW - 1 and a["start_column"] == 1)
    assert facts["column_count"] == 1 and facts["row_count"] == len(layout.FACTS)
    assert facts["values"][layout.FACTS.index("综合得分")] == [96.65]
    assert facts["values"][layout.FACTS.index("评价等次")] == ["优"]


def test_example_writes_the_four_deductions_with_reasons(run):
    _, cells, _ = run
    b = layout.LOSSES
    rows = []
    for r in range(b.first_row, b.last_row + 1):
        row = [cells[(SHEET_SUMMARY, r, b.col + i)] for i in range(b.width)]
        if row[0] != "":
            rows.append(row)
    assert [(r[2], r[5]) for r in rows] == [("绩效目标合理性", 0.75), ("预算编制科学性", 1.0),
                                            ("资金分配合理性", 1.0), ("制度执行有效性", 0.6)]
    reasons = [r[6] for r in rows]
    assert reasons[0].startswith("绩效目标合理性有待提高") and "2307.5" in reasons[1]
    assert reasons[2].startswith("资金分配合理性不足") and reasons[3].startswith("制度执行有效性不足")
    assert round(sum(r[5] for r in rows), 10) == 3.35


def test_example_writes_budget_6548_5_executed_100_percent(run):
    _, cells, _ = run
    b = layout.BUDGET
    row = {h: cells[(SHEET_SUMMARY, b.first_row, b.col + i)] for i, h in enumerate(b.headers)}
    assert (row["年初预算"], row["追加预算"], row["调整后预算"]) == (4241.0, 2307.5, 6548.5)
    assert row["预算执行率"] == 1.0 and row["资金到位率"] == 1.0  # cells formatted 0.00% → 100.00%


def test_example_category_scores(run):
    _, cells, _ = run
    b = layout.CATEGORIES
    got = {cells[(SHEET_SUMMARY, r, b.col)]: cells[(SHEET_SUMMARY, r, b.col + 2)]
           for r in range(b.first_row, b.last_row + 1) if cells[(SHEET_SUMMARY, r, b.col)] != ""}
    assert got == {"决策": 17.25, "过程": 19.4, "产出": 25.0, "效益": 35.0, "合计": 96.65}


def test_remote_writes_equal_the_headless_writes(payload, run):
    """One pipeline: the remote Book gets exactly the cells the CLI's FileBook patches."""
    _, cells, _ = run
    book = FileBook(WORKBOOK)
    try:
        evaluate_book(book, when=WHEN)
    finally:
        book.close()
    headless = {(sheet, r, c): ("" if v is None else v)
                for sheet, writes in book.writes.items() for (r, c), v in writes.items()}
    remote = {k: v for k, v in cells.items() if k[0] != excel_door.SHEET_CONTROL}
    assert remote == headless
    score_col = header_col(payload, SHEET_INDICATORS, "得分")
    scores = [v for (s, r, c), v in remote.items() if s == SHEET_INDICATORS and c == score_col]
    assert len(scores) >= 20 and all(isinstance(v, float) for v in scores)


def test_control_sheet_status_after_success(run):
    _, cells, _ = run
    status = {label: cells[(excel_door.SHEET_CONTROL, row, 2)] for label, row in excel_door.STATUS_ROW.items()}
    assert status["最近运行时间"] == "2021-03-01 09:30:00"
    assert status["运行结果"].startswith("计算完成")
    assert status["综合得分"] == 96.65 and status["评价等次"] == "优" and status["邮件版"] == ""
    first = excel_door.PROBLEMS_HEADER_ROW + 1
    assert all(cells[(excel_door.SHEET_CONTROL, r, c)] == ""
               for r in range(first, first + excel_door.PROBLEM_ROWS) for c in (1, 2, 3))


# ---------------------------------------------------------------- a workbook with errors
def test_errors_write_the_error_list_not_scores(payload):
    bad = copy.deepcopy(payload)
    actual, method = header_col(bad, SHEET_INDICATORS, "实际值"), header_col(bad, SHEET_INDICATORS, "评分方法")
    rows = next(s for s in bad["sheets"] if s["name"] == SHEET_INDICATORS)["values"]
    positive = next(r for r, row in enumerate(rows, start=1) if row[method - 1] == "正向")
    set_cell(bad, SHEET_INDICATORS, positive, actual, "九十五")
    set_cell(bad, SHEET_INDICATORS, positive + 1, method, "随便")
    book = remote_book(bad)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(bad, book.json()["actions"])
    assert not outcome.ok and outcome.result.total is None

    e = layout.ERRORS
    listed = [tuple(cells[(SHEET_SUMMARY, r, e.col + i)] for i in range(3)) for r in range(e.first_row, e.last_row + 1)]
    listed = [row for row in listed if row[0] != ""]
    wanted = {(SHEET_INDICATORS, f"{chr(64 + actual)}{positive}"), (SHEET_INDICATORS, f"{chr(64 + method)}{positive + 1}")}
    assert wanted <= {(s, c) for s, c, _ in listed}
    messages = {c: m for _, c, m in listed}
    assert messages[f"{chr(64 + actual)}{positive}"] == "实际值应为数字，实际为“九十五”"
    assert messages[f"{chr(64 + method)}{positive + 1}"].startswith("未知的评分方法“随便”")

    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["综合得分"], 2)] == ""
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["评价等次"], 2)] == ""
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["校验结果"], 2)].startswith("发现")
    score_col = header_col(bad, SHEET_INDICATORS, "得分")
    assert all(v == "" for (s, r, c), v in cells.items() if s == SHEET_INDICATORS and c == score_col)
    b = layout.LOSSES
    assert all(cells[(SHEET_SUMMARY, r, b.col)] == "" for r in range(b.first_row, b.last_row + 1))

    status = {label: cells[(excel_door.SHEET_CONTROL, row, 2)] for label, row in excel_door.STATUS_ROW.items()}
    assert status["运行结果"].startswith(f"发现{len(outcome.problems)}个问题，未计算得分")
    assert status["综合得分"] == "" and status["评价等次"] == ""
    first = excel_door.PROBLEMS_HEADER_ROW + 1
    on_control = [tuple(cells[(excel_door.SHEET_CONTROL, r, c)] for c in (1, 2, 3)) for r in range(first, first + 2)]
    assert on_control == [(p.sheet, p.cell, p.message) for p in outcome.problems[:2]]


# ---------------------------------------------------------------- control-sheet choices
def _control(payload, label, value):
    p = copy.deepcopy(payload)
    set_cell(p, excel_door.SHEET_CONTROL, excel_door.SETTING_ROW[label], 2, value)
    return p


def test_profile_chosen_on_the_control_sheet_is_used(payload):
    p = _control(payload, excel_door.SETTING_PROFILE, "mof-2020")
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(p, book.json()["actions"])
    assert outcome.ok and outcome.result.model.profile.name == "mof-2020"
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["评价方案"], 2)] == "mof-2020"


@pytest.mark.parametrize("label, value, message", [
    (excel_door.SETTING_PROFILE, "shanghai-2020", "未知的评价方案“shanghai-2020”"),
    (excel_door.SETTING_EMAIL, "也许", "应填“是”或“否”"),
    (excel_door.SETTING_FOLDER, "/no/such/folder", "输出文件夹不存在"),
])
def test_bad_control_sheet_choice_is_reported_and_nothing_is_scored(payload, label, value, message):
    p = _control(payload, label, value)
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(p, book.json()["actions"])
    assert not outcome.ok
    assert {s for s, _, _ in cells} == {excel_door.SHEET_CONTROL}  # results untouched
    first = excel_door.PROBLEMS_HEADER_ROW + 1
    sheet, cell, text = (cells[(excel_door.SHEET_CONTROL, first, c)] for c in (1, 2, 3))
    assert (sheet, cell) == (excel_door.SHEET_CONTROL, f"B{excel_door.SETTING_ROW[label]}") and message in text


def test_email_copy_on_a_remote_book_says_why_not(payload):
    p = _control(payload, excel_door.SETTING_EMAIL, "是")
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(p, book.json()["actions"])
    assert outcome.ok and "工作簿尚未保存到磁盘" in outcome.email
    assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["邮件版"], 2)] == outcome.email


def test_charts_report_and_draft_options_on_a_remote_book(payload):
    """Charts go onto 汇总 through xlwings' own pictures.add; files need a saved workbook."""
    p = copy.deepcopy(payload)
    for label in (excel_door.SETTING_CHARTS, excel_door.SETTING_REPORT, excel_door.SETTING_DRAFT):
        set_cell(p, excel_door.SHEET_CONTROL, excel_door.SETTING_ROW[label], 2, "是")
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    actions = book.json()["actions"]
    assert outcome.ok and outcome.outputs["图表"] == "已在“汇总”表插入3张图表"
    pictures = [a for a in actions if a["func"] == "addPicture"]
    summary = [s["name"] for s in p["sheets"]].index(SHEET_SUMMARY)
    assert len(pictures) == 3 and all(a["sheet_position"] == summary for a in pictures)
    assert "工作簿尚未保存到磁盘" in outcome.outputs["报告"]
    assert "工作簿尚未保存到磁盘" in outcome.outputs["邮件草稿"]
    cells = applied(p, [a for a in actions if a["func"] == "setValues"])
    for label in ("图表", "报告", "邮件草稿"):
        assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW[label], 2)] == outcome.outputs[label]


def test_optional_outputs_are_skipped_when_inputs_have_problems(payload):
    p = _control(payload, excel_door.SETTING_CHARTS, "是")
    set_cell(p, SHEET_INDICATORS, 13, header_col(p, SHEET_INDICATORS, "实际值"), "很多")
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    assert not outcome.ok and outcome.outputs == {"图表": "有问题未计算得分，未生成图表"}
    assert not [a for a in book.json()["actions"] if a["func"] == "addPicture"]


def test_validate_writes_only_the_status(payload):
    book = remote_book(payload)
    outcome = excel_door.validate_from_control_sheet(book, when=WHEN)
    cells = applied(payload, book.json()["actions"])
    assert outcome.ok and {s for s, _, _ in cells} == {excel_door.SHEET_CONTROL}
    assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["运行结果"], 2)] == "校验通过"


def test_sheets_formatted_to_the_last_row_and_column(payload, run):
    """Excel's used range counts formatting: A1:XFD1048576 must not be read cell by cell."""
    big = copy.deepcopy(payload)
    for sheet in big["sheets"]:
        sheet["used_range_address"] = "$A$1:$XFD$1048576"
    book = remote_book(big)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    _, expected, _ = run
    assert outcome.ok and outcome.result.total == 96.65
    assert applied(big, book.json()["actions"]) == expected


def test_data_after_a_gap_of_blank_rows_is_read(payload):
    from dtg_xl.xlsx.xlwings_book import XlwingsBook

    p = copy.deepcopy(payload)
    set_cell(p, SHEET_INDICATORS, 1500, 1, "远处的一行")
    rows = XlwingsBook(remote_book(p)).sheet_values(SHEET_INDICATORS)
    assert len(rows) == 1500 and rows[-1][0] == "远处的一行"
    assert rows[0] == next(s for s in payload["sheets"] if s["name"] == SHEET_INDICATORS)["values"][0]


def test_an_internal_error_becomes_one_status_line(payload, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(excel_door, "evaluate_book", broken)  # inject a bug into the pipeline call
    monkeypatch.delenv("DTG_DEBUG", raising=False)
    book = remote_book(payload)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(payload, book.json()["actions"])
    assert not outcome.ok and {s for s, _, _ in cells} == {excel_door.SHEET_CONTROL}
    first = excel_door.PROBLEMS_HEADER_ROW + 1
    assert cells[(excel_door.SHEET_CONTROL, first, 3)] == \
        "内部错误（请将此信息反馈给开发者）：ZeroDivisionError: division by zero"
    monkeypatch.setenv("DTG_DEBUG", "1")  # developers get the traceback
    with pytest.raises(ZeroDivisionError):
        excel_door.run_from_control_sheet(remote_book(payload), when=WHEN)


def test_a_workbook_without_the_input_sheets(payload):
    p = copy.deepcopy(payload)
    p["sheets"] = [s for s in p["sheets"] if s["name"] in (excel_door.SHEET_CONTROL, SHEET_SUMMARY)]
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(p, book.json()["actions"])
    assert not outcome.ok and [m.message for m in outcome.problems][:1] == ["缺少工作表“参数”"]
    e = layout.ERRORS
    assert cells[(SHEET_SUMMARY, e.first_row, e.col + 2)] == "缺少工作表“参数”"


# ---------------------------------------------------------------- dtg.main() as the button runs it
def test_dtg_main_on_the_caller(payload, run, monkeypatch):
    import xlwings as xw

    book = remote_book(payload)
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: book))  # Excel supplies the caller
    spec = importlib.util.spec_from_file_location("dtg", ROOT / "workbook" / "dtg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    cells = applied(payload, book.json()["actions"])
    _, expected, _ = run
    time_cells = {(SHEET_SUMMARY, layout.FACT_ROW["计算时间"], 2),
                  (excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["最近运行时间"], 2)}
    assert {k: v for k, v in cells.items() if k not in time_cells} == \
        {k: v for k, v in expected.items() if k not in time_cells}


# ---------------------------------------------------------------- xlwings Server / Lite runtime
@pytest.fixture(scope="module")
def server(payload, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    data = copy.deepcopy(payload)
    values = {s["name"]: s["values"] for s in data["sheets"]}
    data["_table"] = {"indicators": values[SHEET_INDICATORS], "baselines": values.get(SHEET_BASELINES)}
    (folder / "payload.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "XLWINGS_ON_SERVER": "true"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "remote_server_check.py"),
                           str(folder / "payload.json"), str(folder / "out.json")],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((folder / "out.json").read_text(encoding="utf-8")), proc.stdout


def test_server_registers_the_custom_functions_with_chinese_help(server):
    out, _ = server
    assert out["decorators_from"] == "xlwings.pro.udfs_officejs"  # xlwings' server decorators, not pass-through
    functions = {f["name"]: f for f in out["functions"]}
    assert set(functions) == {"DTG_SCORE", "DTG_SCORE_TABLE", "DTG_TOTAL", "DTG_GRADE", "DTG_MARGIN",
                              "DTG_EXEC_RATE", "DTG_COMPRESSION"}
    assert all(f["description"] and "Python function" not in f["description"] for f in functions.values())
    assert all(not p["description"].startswith("Positional argument")
               for f in functions.values() for p in f["parameters"])  # every argument has Chinese help
    score = functions["DTG_SCORE"]
    assert score["description"].startswith("计算一个三级指标的得分")
    params = {p["name"]: p for p in score["parameters"]}
    assert list(params) == ["method", "points", "target", "actual", "detail", "given", "reason", "options"]
    assert params["method"]["description"].startswith("评分方法") and "optional" not in params["points"]
    assert params["detail"]["optional"] and "评分标准" in params["detail"]["description"]
    assert params["options"]["optional"] and "得分精度" in params["options"]["description"]  # issue 12


def test_server_custom_function_calls(server, run):
    out, _ = server
    calls = out["calls"]
    assert calls["score_deduction"] == [[2.25]]
    assert calls["score_bad"] == [["错误：实际值应为数字，实际为“九十”"]]
    assert calls["grade"] == [["优"]] and calls["compression"] == [[78.89]]
    table = [row[0] for row in calls["table"] if row[0] != ""]
    outcome, _, _ = run
    # 单位:/预算: references need the whole workbook: DTG_SCORE_TABLE says so in their rows (资金到位率,
    # 预算执行率, 监管出入境船舶艘次); every other row equals the engine
    rows = outcome.result.model.rows.tolist()
    cross = [i for i, v in enumerate(table) if isinstance(v, str)]
    assert [rows[i] for i in cross] == [8, 9, 13] and all("只能解析“基准对比:”引用" in table[i] for i in cross)
    assert [v for i, v in enumerate(table) if i not in cross] == \
        [float(s) for i, s in enumerate(outcome.result.scores) if i not in cross]


def test_server_scripts_run_the_same_pipeline(server, payload, run):
    out, stdout = server
    names = {s["function_name"]: s["name"] for s in out["scripts"]}
    assert names == {"evaluate": "计算评分", "validate": "校验"}
    cells = applied(payload, out["evaluate"])
    _, expected, _ = run
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["综合得分"], 2)] == 96.65
    assert cells[(SHEET_SUMMARY, layout.FACT_ROW["评价等次"], 2)] == "优"
    assert set(cells) == set(expected)
    validated = applied(payload, out["validate"])
    assert {s for s, _, _ in validated} == {excel_door.SHEET_CONTROL}
    assert "综合得分 96.65，等次 优" in stdout and "校验通过" in stdout


def test_portfolio_of_a_chosen_folder_from_the_control_sheet(payload, tmp_path):
    """批量评价文件夹 on 控制台: the same portfolio as `dtg-xl portfolio`, written into that folder
    (a remote Book has no folder of its own), its summary on the status line."""
    import openpyxl

    from dtg_xl.delivery.template import write_template

    folder = tmp_path / "项目"
    folder.mkdir()
    write_template(folder / "a.xlsx", example="dtg-2020")
    write_template(folder / "空白.xlsx")
    p = _control(payload, excel_door.SETTING_PORTFOLIO, str(folder))
    book = remote_book(p)
    outcome = excel_door.run_from_control_sheet(book, when=WHEN)
    cells = applied(p, book.json()["actions"])
    dst = folder / "项目-批量评价汇总.xlsx"
    assert outcome.ok and outcome.outputs["批量评价"] == f"已评价1个项目，未能评价1个，重复0个（沿用上次结果0个）：{dst}"
    assert cells[(excel_door.SHEET_CONTROL, excel_door.STATUS_ROW["批量评价"], 2)] == outcome.outputs["批量评价"]
    ws = openpyxl.load_workbook(dst)["项目一览"]
    assert [ws.cell(2, c).value for c in (2, 6, 7)] == ["口岸大通关补助资金", 96.65, "优"]
    again = excel_door.run_from_control_sheet(remote_book(p), when=WHEN)
    assert "沿用上次结果2个" in again.outputs["批量评价"]  # the blank one too: its problems are in the bytes


def test_portfolio_folder_that_does_not_exist(payload):
    p = _control(payload, excel_door.SETTING_PORTFOLIO, "/no/such/项目")
    outcome = excel_door.run_from_control_sheet(remote_book(p), when=WHEN)
    assert not outcome.ok and "批量评价文件夹不存在" in outcome.problems[0].message
