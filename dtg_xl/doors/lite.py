"""xlwings Lite / xlwings Server door: scripts 计算评分 and 校验, and the DTG_* custom functions.

Imports only ``xlwings`` (never ``xlwings.server``: it raises at import without a licence
key), so this module also imports cleanly on a plain install.  Each script is one call into
``dtg_xl.doors.excel_door`` — the very code behind the classic workbook's button — and the custom
functions are ``dtg_xl.doors.udfs``' functions, re-exported so the runtime registers them from here.

In xlwings Lite: put ``from dtg_xl.doors.lite import *`` in main.py (with ``dtg_xl`` in
requirements.txt).  In xlwings Server: point the app's custom-functions and custom-scripts
module at ``dtg_xl.doors.lite``.
"""
import xlwings as xw

from dtg_xl.doors.excel_door import run_from_control_sheet, validate_from_control_sheet
from dtg_xl.doors.udfs import (  # noqa: F401 - re-exported: the runtime registers them from this module
    DTG_COMPRESSION,
    DTG_EXEC_RATE,
    DTG_GRADE,
    DTG_MARGIN,
    DTG_SCORE,
    DTG_SCORE_TABLE,
    DTG_TOTAL,
)

__all__ = ["evaluate", "validate", "DTG_SCORE", "DTG_SCORE_TABLE", "DTG_TOTAL", "DTG_GRADE",
           "DTG_MARGIN", "DTG_EXEC_RATE", "DTG_COMPRESSION"]


def _report(outcome) -> None:
    """One line for the task pane's output (the full status is on 控制台)."""
    if outcome.ok:
        result = outcome.result
        print(f"综合得分 {result.total:g}，等次 {result.grade}" if result is not None else "校验通过")
    else:
        print(f"发现{len(outcome.problems)}个问题：")
        for problem in outcome.problems[:10]:
            print(f"  {problem}")


@xw.script(name="计算评分")
def evaluate(book: xw.Book):
    """校验、计分，并把结果写入“指标体系”得分列、“汇总”表和“控制台”状态。"""
    _report(run_from_control_sheet(book))


@xw.script(name="校验")
def validate(book: xw.Book):
    """只校验输入，把问题清单（工作表、单元格、原因）写入“控制台”，不写得分。"""
    _report(validate_from_control_sheet(book))
