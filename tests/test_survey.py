"""问卷 (core/survey.py) on real files: a generated 问卷星 "按选项文本" export of 240 answers through
`dtg-xl survey-import`, both counting rules against a hand count, blank/invalid answers and questionnaires, the
问卷汇总 block, the 问卷: reference scoring 满意度, and the report quoting n and the rate."""
from __future__ import annotations

from collections import Counter

import openpyxl
import pytest

from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.survey import answer_level, count_rows
from dtg_xl.delivery.template import load_example, write_template
from dtg_xl.results import layout

from helpers import edit_cells, run_cli, run_json
from survey_export import LEVELS, META, OTHER, QUESTIONS, answers, write_export

N = 240
ALL_SKIPPED = (17, 99, 203)


def _hand_count(rows: list[list]) -> dict:
    """Counted here by string equality on the generated rows, independent of the module."""
    header, body = rows[0], rows[1:]
    out = {}
    for title in QUESTIONS:
        c = header.index(title)
        counts = Counter(row[c] for row in body)
        valid = sum(counts[x] for x in LEVELS)
        out[title] = {"counts": counts, "valid": valid, "blank": counts["(跳过)"], "invalid": counts["不了解"]}
    return out


@pytest.fixture
def imported(tmp_path, capsys):
    rows = answers(N, all_skipped=ALL_SKIPPED)
    export = tmp_path / "问卷星导出.xlsx"
    write_export(export, rows)
    data = load_example("dtg-2020")
    ind = next(r for r in data["indicators"] if r["三级指标"] == "进出口企业满意度")
    ind["实际值"] = "问卷:合计"
    book = write_template(tmp_path / "demo.xlsx", data=data)
    code, out, err = run_cli(["survey-import", export, book], capsys)
    assert code == 0, err
    return book, rows, out


def test_import_copies_the_export_and_reports_what_it_read(imported):
    book, rows, out = imported
    assert f"{N}行 × {len(META + QUESTIONS + OTHER)}列" in out
    assert "满意度题目3个" in out and "未计入的非满意度题目：4、您所在企业的类型、5、您对口岸工作的意见和建议" in out
    ws = openpyxl.load_workbook(book)["问卷"]
    assert [c.value for c in ws[1]][:11] == META + QUESTIONS + OTHER
    assert ws.cell(N + 1, 1).value == N and ws.cell(2, 7).value == rows[1][6]


@pytest.mark.parametrize("basis", ["非常满意+满意", "非常满意+满意+基本满意", "加权平均"])
def test_both_counting_rules_match_a_hand_count(imported, capsys, basis):
    book, rows, _ = imported
    edit_cells(book, {"参数": {"B17": basis}})  # 满意度口径
    assert openpyxl.load_workbook(book)["参数"]["A17"].value == "满意度口径"
    code, out = run_json(["evaluate", book], capsys)
    assert code == 0, out["errors"]
    hand = _hand_count(rows)
    s = out["survey"]
    assert (s["basis"], s["n"], s["invalid"], s["valid"]) == (basis, N, len(ALL_SKIPPED), N - len(ALL_SKIPPED))
    weights = dict(zip(LEVELS, (100, 80, 60, 30, 0)))
    good = LEVELS[:3] if basis == "非常满意+满意+基本满意" else LEVELS[:2]
    pooled = Counter()
    for q, title in zip(s["questions"], QUESTIONS):
        h = hand[title]
        pooled.update({x: h["counts"][x] for x in LEVELS})
        assert (q["title"], q["valid"], q["blank"], q["invalid"]) == (title, h["valid"], h["blank"], h["invalid"])
        assert q["counts"] == {x: h["counts"][x] for x in LEVELS}
        if basis == "加权平均":
            expected = excel_round(sum(weights[x] * h["counts"][x] for x in LEVELS) / h["valid"], 2)
        else:
            expected = excel_round(sum(h["counts"][x] for x in good) / h["valid"] * 100, 2)
        assert q["rate"] == expected
    total = sum(pooled.values())
    if basis == "加权平均":
        overall = excel_round(sum(weights[x] * n for x, n in pooled.items()) / total, 2)
    else:
        overall = excel_round(sum(pooled[x] for x in good) / total * 100, 2)
    assert s["overall"] == overall
    # the 满意度 indicator (分档 ≥95:100%；≥90:80%；≥80:60%) scores the overall rate
    ind = next(i for i in out["indicators"] if i["l3"] == "进出口企业满意度")
    assert ind["actual"] == overall and ind["actual_source"]["reference"] == "问卷:合计"
    share = 1 if overall >= 95 else 0.8 if overall >= 90 else 0.6 if overall >= 80 else 0
    assert ind["score"] == 5 * share
    # the invalid answers and questionnaires are reported with their cells
    assert any(w["sheet"] == "问卷" and "有3份问卷没有任何有效答案" in w["message"] for w in out["warnings"])
    (bad,) = [w for w in out["warnings"] if w["sheet"] == "问卷" and "个答案无法识别" in w["message"]]
    assert bad["cell"] == "H38" and f"有{hand[QUESTIONS[1]]['invalid']}个答案" in bad["message"]


def test_survey_summary_block_and_the_report(imported, capsys, tmp_path):
    book, rows, _ = imported
    out_path = tmp_path / "out.xlsx"
    code, out = run_json(["evaluate", book, "-o", out_path], capsys)
    assert code == 0
    ws = openpyxl.load_workbook(out_path)["汇总"]
    first = layout.SURVEY.first_row
    shown = [[ws.cell(r, c).value for c in range(1, 12)] for r in range(first, first + 5)]
    s = out["survey"]
    for line, q in zip(shown, s["questions"]):
        assert line[0] == q["title"] and line[1:5] == [N, q["valid"], q["blank"], q["invalid"]]
        assert line[10] == q["rate"]
    assert shown[3][0] == f"合计（问卷{N}份，有效{N - 3}份，无效3份）" and shown[3][10] == s["overall"]
    assert shown[4][0].startswith("口径：非常满意+满意")
    report = tmp_path / "report.docx"
    assert run_cli(["report", book, "-o", report], capsys)[0] == 0
    import docx

    text = "\n".join(p.text for p in docx.Document(str(report)).paragraphs)
    assert f"本次共回收问卷{N}份，其中有效问卷{N - 3}份、无效问卷3份" in text
    assert f"满意率（非常满意+满意，按有效答案计）为{s['overall']:.2f}%" in text


def test_question_references_and_a_missing_question(imported, capsys):
    book, rows, _ = imported
    edit_cells(book, {"指标体系": {"J25": "问卷:2"}})
    code, out = run_json(["evaluate", book], capsys)
    assert code == 0
    ind = next(i for i in out["indicators"] if i["l3"] == "进出口企业满意度")
    assert ind["actual"] == out["survey"]["questions"][1]["rate"]
    assert ind["actual_source"]["cells"] == [f"问卷!H2:H{N + 1}"]
    edit_cells(book, {"指标体系": {"J25": "问卷:您对查验服务态度的满意程度"}})  # title without its number
    assert run_json(["evaluate", book], capsys)[1]["indicators"][23]["actual"] == ind["actual"]
    edit_cells(book, {"指标体系": {"J25": "问卷:您所在企业的类型"}})
    code, out = run_json(["evaluate", book], capsys)
    assert code == 2 and "问卷表中没有题目“您所在企业的类型”" in out["errors"][0]["message"]


def test_answer_variants_numbers_and_the_meaning_of_bu_manyi():
    assert [answer_level(x, False) for x in ("很满意", "比较满意", "一般", "不太满意", "不满意", 5, 1.0, "3")] == \
        [5, 4, 3, 2, 1, 5, 1, 3]
    assert answer_level("不满意", True) == 2 and answer_level("非常不满意", True) == 1
    assert [answer_level(x, False) for x in ("(跳过)", "", None, -3)] == [None] * 4
    assert [answer_level(x, False) for x in ("不了解", 6, 2.5, 0, True)] == ["invalid"] * 5
    # a 5-level scale with 非常不满意: 不满意 is level 2, so it counts 30 in the weighted mean
    s = count_rows([["序号", "1、总体"], [1, "非常不满意"], [2, "不满意"], [3, "满意"]], "加权平均")
    assert s.questions[0].counts == {5: 0, 4: 1, 3: 0, 2: 1, 1: 1} and s.overall == excel_round(110 / 3, 2)
    # every answer blank: an invalid questionnaire, not a dissatisfied one
    s = count_rows([["1、总体", "2、效率"], ["满意", "非常满意"], ["(跳过)", ""], ["不了解", "(跳过)"]],
                   "非常满意+满意")
    assert (s.n, s.valid, s.invalid, s.overall) == (3, 1, 2, 100)


def test_bad_basis_and_import_errors(tmp_path, capsys, imported):
    book, rows, _ = imported
    edit_cells(book, {"参数": {"B17": "随便"}})
    code, out = run_json(["evaluate", book], capsys)
    assert code == 2 and any(p["cell"] == "B17" and "满意度口径应为" in p["message"] for p in out["errors"])
    empty = tmp_path / "empty.xlsx"
    write_export(empty, [["序号", "1、总体"]])
    code, _, err = run_cli(["survey-import", empty, book], capsys)
    assert code == 2 and "没有答卷" in err and "Traceback" not in err
    words = tmp_path / "words.xlsx"
    write_export(words, [["序号", "1、意见"], [1, "很好"], [2, "无"]])
    before = book.read_bytes()
    code, _, err = run_cli(["survey-import", words, book], capsys)
    assert code == 2 and "没有可识别的满意度题目" in err and book.read_bytes() == before
    import xlsxwriter

    old = tmp_path / "old.xlsx"
    wb = xlsxwriter.Workbook(str(old))
    wb.add_worksheet("参数")
    wb.close()
    export = tmp_path / "e.xlsx"
    write_export(export, answers(5, all_skipped=()))
    code, _, err = run_cli(["survey-import", export, old], capsys)
    assert code == 2 and "old.xlsx中没有“问卷”工作表" in err
