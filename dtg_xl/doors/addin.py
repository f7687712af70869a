"""The 绩效评价 add-in's button: the Excel door on the *active* workbook.

``workbook/dtg_xl.xlam``'s ribbon button runs xlwings' ``RibbonMyAddin.RunMain``, i.e.
``RunPython "import dtg_xl; dtg_xl.main()"`` (the module is named after the add-in file), and
``dtg_xl.main`` calls :func:`main` here.  ``xw.Book.caller()`` is the workbook that was active
when the button was clicked (xlwings passes ``ActiveWorkbook.Name``), so the evaluation
workbook may be a plain ``.xlsx``: the same ``run_from_control_sheet`` as ``dtg.xlsm``'s button
reads its 控制台 choices and writes results and status.  A workbook without a 控制台 sheet (a
``dtg-xl new`` template) is scored with the default choices and the outcome is shown in a
message box, since there is no status block to write it to.
"""
from __future__ import annotations

from dtg_xl.core.schema import SHEET_SUMMARY
from dtg_xl.doors.excel_door import SHEET_CONTROL, Outcome, run_from_control_sheet
from dtg_xl.doors.lean_xlwings import import_xlwings

TITLE = "绩效评价"
SHOWN_PROBLEMS = 5


def summary(outcome: Outcome, has_summary_sheet: bool = True) -> str:
    """The message box text for a workbook without 控制台."""
    if outcome.ok and outcome.result is not None:
        r = outcome.result
        return f"综合得分 {r.total:g}，等次：{r.grade}。\n结果已写入“指标体系”得分列和“汇总”表。"
    lines = [f"发现{len(outcome.problems)}个问题，未计算得分："]
    lines += [f"· {p}" for p in outcome.problems[:SHOWN_PROBLEMS]]
    if len(outcome.problems) > SHOWN_PROBLEMS:
        lines.append(f"……另有{len(outcome.problems) - SHOWN_PROBLEMS}条")
    if has_summary_sheet:
        lines.append("完整清单见“汇总”表右侧“校验问题”。")
    return "\n".join(lines)


def main(book=None) -> Outcome:
    """Run the door on book (default: the caller, i.e. the active workbook)."""
    if book is None:
        book = import_xlwings().Book.caller()
    outcome = run_from_control_sheet(book)
    names = [sheet.name for sheet in book.sheets]
    if SHEET_CONTROL not in names:
        text = summary(outcome, SHEET_SUMMARY in names)
        book.app.alert(text, title=TITLE, mode="info" if outcome.ok else "critical")
    return outcome
