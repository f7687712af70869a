"""The DTG_* Excel functions as plain Python (xlwings' decorators pass through off Windows):
each equals the engine on the 2020 example and at the rule boundaries, and bad arguments give
a Chinese message in the cell, never an exception."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from dtg_xl.doors import udfs
from dtg_xl.xlsx.books import FileBook
from dtg_xl.core import references
from dtg_xl.core.engine import evaluate
from dtg_xl.core.model import read_model
from dtg_xl.core.schema import INDICATOR_COLUMNS, SHEET_BASELINES, SHEET_INDICATORS


@pytest.fixture(scope="module")
def example(example_path):
    """(indicator rows as Excel passes them, 基准对比 rows, model, engine result)."""
    book = FileBook(example_path)
    try:
        model = read_model(book)
        result = evaluate(model)
        rows = [[None if v == "" else v for v in row] for row in book.sheet_values(SHEET_INDICATORS)]
        names = book.sheet_names()
        baseline_rows = book.sheet_values(SHEET_BASELINES) if SHEET_BASELINES in names else None
    finally:
        book.close()
    assert result.ok and result.total == 96.65
    return rows, baseline_rows, model, result


def _row_args(header, row):
    col = {INDICATOR_COLUMNS[h]: i for i, h in enumerate(header) if h in INDICATOR_COLUMNS}

    def get(name):
        return row[col[name]] if col.get(name) is not None and col[name] < len(row) else None

    method = get("method")
    option = {"定性": get("level"), "扣分": get("deduction"), "分档": get("criteria")}.get(method)
    return method, get("points"), get("target"), get("actual"), option, get("given")


def test_score_equals_engine_on_every_example_row(example):
    rows, _, model, result = example
    t = model.indicators
    checked = 0
    for i, excel_row in enumerate(t["row"].tolist()):
        method, points, target, actual, option, given = _row_args(rows[0], rows[excel_row - 1])
        if references.parse(actual) is not None and method != "定性":  # a 定性 row does not read its 实际值
            # a reference needs the workbook (DTG_SCORE sees one row): it says so; in Excel the user points 实际值
            # at the computed cell instead, here the value the model resolved
            assert udfs.DTG_SCORE(method, points, target, actual, option, given).startswith("错误：实际值")
            actual = None if method == "定性" else float(t["actual"][i])
        got = udfs.DTG_SCORE(method, points, target, actual, option, given)
        assert got == float(result.scores[i]), (excel_row, method, got, result.scores[i])
        checked += 1
    assert checked == len(t["row"]) >= 20


def t_method(model, row: int) -> str:
    return model.indicators["method"][model.indicators["row"].tolist().index(row)]


def test_score_table_equals_engine_on_the_whole_table(example):
    rows, baseline_rows, model, result = example
    out = udfs.DTG_SCORE_TABLE(rows, baseline_rows)
    assert len(out) == len(rows) - 1 and all(len(r) == 1 for r in out)
    by_row = {r: float(s) for r, s in zip(model.indicators["row"].tolist(), result.scores.tolist())}
    # rows whose 实际值 is a 单位:/预算: reference say they need the whole workbook (the 计算 button); the rest,
    # 基准对比: references included, equal the engine
    cross = {r for r, found in model.resolved.items() if "actual" in found
             and not found["actual"].reference.startswith("基准对比") and t_method(model, r) != "定性"}
    assert cross == {8, 9, 13}
    for excel_row, (value,) in enumerate(out, start=2):
        if excel_row in cross:
            assert value.startswith("错误：实际值“") and f"（区域第{excel_row}行）要用单位填报表的数据" in value
            assert "只能解析“基准对比:”引用" in value and "“计算评分”按钮" in value
        else:
            assert value == by_row.get(excel_row, ""), excel_row
    assert udfs.DTG_TOTAL([[v] if isinstance(v, float) else [by_row[r]] for r, (v,) in enumerate(out, start=2)
                           if r in by_row]) == 96.65 == result.total


def test_score_table_bad_rows_give_their_message_in_that_row(example):
    rows, baseline_rows, model, result = example
    rows = [list(r) for r in rows]
    header = rows[0]
    actual, method = header.index("实际值"), header.index("评分方法")
    first = next(i for i, r in enumerate(rows[1:], start=1) if r[method] == "正向")
    rows[first][actual] = "九十五"
    rows[first + 1][method] = "随便"
    out = udfs.DTG_SCORE_TABLE(rows, baseline_rows)
    assert out[first - 1][0] == "错误：实际值应为数字，实际为“九十五”"
    assert "未知的评分方法“随便”" in out[first][0]  # (with that row's reference problem, both at once)
    others = [v for k, (v,) in enumerate(out) if k not in (first - 1, first) and v != ""]
    assert len(others) == len(model.indicators["row"]) - 2
    assert all(isinstance(v, float) or "只能解析“基准对比:”引用" in v for v in others)


def test_score_table_reports_every_bad_reference_and_input_of_a_row(example):
    """DTG_SCORE_TABLE checks a row as evaluate does: each bad reference (目标值 and 实际值) and each bad input is
    in the row's message at once, naming the input and the row; 基准对比: in 目标值 resolves like 实际值."""
    rows, baseline_rows, model, result = example
    rows = [list(r) for r in rows]
    header = rows[0]
    col = {h: header.index(h) for h in ("目标值", "实际值", "分值", "评分方法")}
    first = next(i for i, r in enumerate(rows[1:], start=1) if r[col["评分方法"]] == "正向")
    rows[first][col["目标值"]], rows[first][col["实际值"]] = "预算:执行率", "单位:监管船舶艘次:合计"
    second = first + 1
    rows[second][col["评分方法"]], rows[second][col["分值"]] = "正向", "五"
    rows[second][col["实际值"]] = "基准对比:不存在"
    third = second + 1
    rows[third][col["评分方法"]], rows[third][col["分值"]] = "正向", 5
    rows[third][col["目标值"]], rows[third][col["实际值"]] = "基准对比:进口整体通关时间", 60.15
    out = udfs.DTG_SCORE_TABLE(rows, baseline_rows)
    one = out[first - 1][0]
    assert one.startswith(f"错误：目标值“预算:执行率”（区域第{first + 1}行）要用单位填报表的数据")
    assert "汇总!G101" in one  # the 预算执行率 cell of the evaluated workbook
    assert f"；实际值“单位:监管船舶艘次:合计”（区域第{first + 1}行）要用单位填报表的数据" in one
    two = out[second - 1][0]
    assert "分值应为数字" in two and f"实际值（区域第{second + 1}行）引用的“不存在”不在基准对比表中" in two
    assert out[third - 1][0] == 5.0  # 60.15 of a 60.15 target


def test_score_table_without_baselines_names_the_missing_range(example):
    rows, _, _, _ = example
    messages = [v for (v,) in udfs.DTG_SCORE_TABLE(rows) if isinstance(v, str) and v]
    assert messages and all("基准对比区域" in m or "只能解析“基准对比:”引用" in m for m in messages)
    assert sum("基准对比区域" in m for m in messages) == 2


@pytest.mark.parametrize("table, message", [
    ([[1, 2], [3, 4]], "缺少：分值、评分方法"),
    (5, "请选择包含表头行"),
    ([], "请选择包含表头行"),
])
def test_score_table_wrong_range(table, message):
    out = udfs.DTG_SCORE_TABLE(table)
    assert len(out) == 1 and message in out[0][0]


# ---------------------------------------------------------------- rule boundaries through the UDF
@pytest.mark.parametrize("args, expected", [
    (("正向", 5, 100, 100), 5.0),
    (("正向", 5, 100, 99.99), 5.0),  # 4.9995 → Excel ROUND half away from zero
    (("正向", 5, 100, 99.9), 5.0),  # 4.995 → 5.0 (half away from zero)
    (("正向", 5, 100, 99.8), 4.99),
    (("positive", 5, "95%", "90%"), 4.74),
    (("正向", 5, 100, -3), 0.0),  # negative actuals count as 0
    (("反向", 4, 10, 10), 4.0),
    (("反向", 4, 10, 15), 2.0),
    (("反向", 4, 10, 20), 0.0),
    (("反向比值", 4, 10, 40), 1.0),
    (("等于", 3, 0, 0), 3.0),
    (("等于", 3, 0, 1), 0.0),
    (("排名", 2, 3, 3), 2.0),
    (("排名", 2, 3, 4), 0.0),
    (("要素", 3, 5, 4), 2.4),
    (("是否", 2, "是", "是"), 2.0),
    (("是否", 2, None, "否"), 0.0),
    (("扣分", 3, None, None, 0.75), 2.25),
    (("扣分", 3, None, None, None), 3.0),
    (("分档", 5, None, 95, "≥95:100%；≥90:80%；≥80:60%"), 5.0),
    (("分档", 5, None, 94.99, "≥95:100%；≥90:80%；≥80:60%"), 4.0),
    (("分档", 5, None, 79, "≥95:100%；≥90:80%；≥80:60%"), 0.0),
    (("定性", 5, None, None, "达成年度指标", 4), 4.0),  # 80% inclusive
    (("定性", 5, None, None, "部分达成年度指标并具有一定效果", 3), 3.0),
    (("定性", 5, None, None, "未达成年度指标且效果较差", 2.99), 2.99),
    (("正向", 3, 3, 1.005), 1.01),  # Excel ROUND(1.005, 2) = 1.01, Python's round gives 1.0
])
def test_score_boundaries(args, expected):
    from dtg_xl.core.rules import score_one

    got = udfs.DTG_SCORE(*args)
    assert got == expected
    method, points, target, actual, *rest = args + (None,) * (6 - len(args))
    option, given = rest
    assert got == score_one(method, points, target, actual,
                            level=option if method == "定性" else None, given=given,
                            deducted=option if method == "扣分" else None,
                            bands=option if method == "分档" else None)


@pytest.mark.parametrize("args, message", [
    (("随便", 5, 100, 90), "未知的评分方法“随便”"),
    ((None, 5, 100, 90), "未知的评分方法"),
    (("正向", None, 100, 90), "缺少分值"),
    (("正向", 5, 100, None), "缺少实际值"),
    (("正向", 5, 100, "abc"), "实际值应为数字，实际为“abc”"),
    (("正向", -1, 100, 90), "分值不能为负数"),
    (("正向", 5, float("inf"), 90), "目标值应为有限数字"),
    (("定性", 5, None, None, "达成年度指标", 3.99), "应在[4, 5]之间"),
    (("定性", 5, None, None, "部分达成年度指标并具有一定效果", 4), "应在[3, 4)之间"),
    (("定性", 5, None, None, "很好", 4), "定性等级应为"),
    (("扣分", 3, None, None, -1), "扣分不能为负数"),
    (("分档", 5, None, 90, "大于90给满分"), "格式不对"),
    (("是否", 2, "是", "也许"), "实际值应填“是”或“否”"),
    (("要素", 3, 5, 6), "要素法"),
    (("排名", 2, 3, 0), "排名和目标名次应不小于1"),
    (("正向", 5, [[1, 2]], 90), "错误："),
    (("正向", 5, dt.datetime(2020, 1, 1), 90), "错误："),
])
def test_score_bad_arguments_give_messages(args, message):
    got = udfs.DTG_SCORE(*args)
    assert isinstance(got, str) and got.startswith("错误：") and message in got, got
    assert "Traceback" not in got


# ---------------------------------------------------------------- grade, rates, total
@pytest.mark.parametrize("total, profile, grade", [
    (96.65, "qingdao-2020", "优"), (90, None, "优"), (89.99, None, "良"), (80, "mof-2020", "良"),
    (79.99, "mof-2020", "中"), (60, "mof-2020", "中"), (59.99, "mof-2020", "差"),
    (70, "qingdao-2020", "中"), (69.99, "qingdao-2020", "差"), ("96.65", "", "优"),
])
def test_grade(total, profile, grade):
    assert udfs.DTG_GRADE(total, profile) == grade


def test_grade_bad_arguments():
    assert udfs.DTG_GRADE(90, "shanghai").startswith("错误：未知的评价方案“shanghai”")
    assert udfs.DTG_GRADE("优秀").startswith("错误：综合得分应为数字")
    assert udfs.DTG_GRADE(None).startswith("错误：缺少综合得分")


def test_exec_rate_matches_the_engine_budget(example):
    _, _, _, result = example
    b = result.budget
    assert udfs.DTG_EXEC_RATE(b.spent, b.in_place) == b.execution_rate == 100.0
    assert udfs.DTG_EXEC_RATE(6548.5, 6548.5) == 100.0
    assert udfs.DTG_EXEC_RATE(1, 3) == 33.33
    assert udfs.DTG_EXEC_RATE(2, 3) == 66.67
    assert udfs.DTG_EXEC_RATE(1, 0).startswith("错误：预算应大于0")
    assert udfs.DTG_EXEC_RATE("x", 1).startswith("错误：实际支出应为数字")


def test_compression_rate():
    # Guangdong, April 2021 (domain.md §3.3): import 9.07 h = 78.89% below 2017's 42.97 h
    assert udfs.DTG_COMPRESSION(42.97, 9.07) == 78.89
    assert udfs.DTG_COMPRESSION(11.83, 0.92) == 92.22
    assert udfs.DTG_COMPRESSION(100, 100) == 0.0
    assert udfs.DTG_COMPRESSION(100, 120) == -20.0  # slower than the baseline
    assert udfs.DTG_COMPRESSION(0, 1).startswith("错误：基准值应大于0")
    assert udfs.DTG_COMPRESSION(10, -1).startswith("错误：当期值不能为负数")
    assert udfs.DTG_COMPRESSION(None, 1).startswith("错误：缺少基准值")


def test_total():
    assert udfs.DTG_TOTAL([[1.005], [None], [2], [""]]) == 3.01
    assert udfs.DTG_TOTAL(5) == 5.0
    assert udfs.DTG_TOTAL([[1, 2], [3, 4]]) == 10.0
    got = udfs.DTG_TOTAL([[1], ["错误：缺少实际值"]])
    assert got.startswith("错误：得分区域第2个单元格应为数字")


def test_every_function_is_an_excel_function_in_category_dtg():
    """The module's public functions are the DTG_* UDFs; each has Chinese help."""
    names = sorted(n for n in dir(udfs) if n.startswith("DTG_"))
    assert names == ["DTG_COMPRESSION", "DTG_EXEC_RATE", "DTG_GRADE", "DTG_MARGIN", "DTG_SCORE",
                     "DTG_SCORE_TABLE", "DTG_TOTAL"]
    from dtg_xl.doors import lite

    assert [n for n in lite.__all__ if n.startswith("DTG_")] and \
        sorted(n for n in lite.__all__ if n.startswith("DTG_")) == names  # Lite/Server register every one
    for name in names:
        doc = getattr(udfs, name).__doc__
        assert doc and any("\u4e00" <= ch <= "\u9fff" for ch in doc) and len(doc) <= 255, name
    assert udfs.CATEGORY == "DTG"


def test_nan_and_numpy_inputs():
    assert udfs.DTG_SCORE("正向", np.float64(5), 100, np.int64(90)) == 4.5
    assert udfs.DTG_SCORE("正向", 5, 100, math.nan).startswith("错误：")


# words VBA will not take as a parameter name (classic xlwings writes the names into VBA)
VBA_RESERVED = {"and", "as", "boolean", "byref", "byte", "byval", "call", "case", "const", "currency", "date",
                "debug", "dim", "do", "double", "each", "else", "end", "enum", "erase", "error", "event", "exit",
                "false", "for", "function", "get", "global", "gosub", "goto", "if", "implements", "in", "integer",
                "is", "let", "like", "long", "loop", "me", "mod", "new", "next", "not", "nothing", "object", "on",
                "option", "optional", "or", "private", "property", "public", "resume", "return", "select", "set",
                "single", "static", "step", "stop", "string", "sub", "then", "to", "true", "type", "until",
                "variant", "wend", "while", "with", "xor", "caller"}


def test_argument_names_are_safe_vba_identifiers():
    """ASCII, not reserved: on a non-Chinese Windows a Chinese VBA identifier would not compile
    (the Chinese names users see are each argument's doc)."""
    import inspect

    for name in (n for n in dir(udfs) if n.startswith("DTG_")):
        for param in inspect.signature(getattr(udfs, name)).parameters.values():
            assert param.name.isascii() and param.name.isidentifier(), (name, param.name)
            assert param.name.lower() not in VBA_RESERVED, (name, param.name)
            assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_classic_import_functions_generates_vba_for_every_udf(tmp_path):
    """xlwings' own VBA generator (what ImportPythonUDFs runs on Windows) on our module."""
    import json
    import re
    import subprocess
    import sys

    from helpers import ROOT

    out = tmp_path / "vba.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "classic_udf_vba.py"), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    vba, functions = data["vba"], data["functions"]
    names = sorted(n for n in dir(udfs) if n.startswith("DTG_"))
    assert sorted(functions) == names
    assert "Function DTG_SCORE(method, points, Optional target, Optional actual, Optional detail, Optional given, Optional reason, Optional options)" in vba
    assert "Function DTG_SCORE_TABLE(table, Optional baselines)" in vba
    for name in names:
        assert re.search(rf'^Function {name}\(', vba, re.M), name
        assert f'XLPy.CallUDF("dtg_xl.udfs", "{name}", ' in vba
        meta = functions[name]
        assert meta["category"] == "DTG"
        assert 0 < len(meta["description"]) <= 255 and any("\u4e00" <= c <= "\u9fff" for c in meta["description"])
        for arg, doc, _ in meta["args"]:
            assert doc and not doc.startswith("Positional argument") and len(doc) <= 255, (name, arg)
    # Chinese help goes through MacroOptions (COM, Unicode); the imported .bas itself must be ASCII,
    # since VBA reads it in the system code page
    assert vba.isascii(), "the generated .bas must be ASCII"
