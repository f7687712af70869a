"""What a clerk sees when a produced workbook opens (issue 11, item 5): wrapped text in 指标体系 (评分标准, 扣分原因 …),
参数 and 报告文字 fits its row instead of running over the next one, and the 汇总 facts (96.65, 2020 …) read left to
right in their merged B:G cells.  Checked on the committed files and on an evaluated copy; the screenshots of the
real LibreOffice window are docs/img/window-*.png (docs/screenshot.py).

The fit is checked against an independent pixel model of Excel at 96 dpi (a column of width w is 7w+5 px; a CJK
glyph of 10-pt 宋体 is 13⅓ px, any other about 7 px; a line needs at least 12 pt), not against the template's own
estimate, so a row that is too short fails here whatever the template believes.
"""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
import unicodedata

import pytest
from openpyxl import load_workbook

from dtg_xl.results import layout

from helpers import ROOT

BOOKS = [ROOT / "templates" / "dtg-2020-example.xlsx", ROOT / "templates" / "dtg-template.xlsx",
         ROOT / "workbook" / "dtg.xlsm"]
WRAPPED_SHEETS = ("指标体系", "参数", "报告文字")


def lines_needed(text: str, width: float) -> int:
    room = math.floor(width * 7 + 5) - 6  # px inside the cell's padding
    lines = 0
    for paragraph in str(text).split("\n"):
        px = sum(40 / 3 if unicodedata.east_asian_width(ch) in "WF" else 7 for ch in paragraph)
        lines += max(1, math.ceil(px / room))
    return lines


def column_width(ws, letter: str) -> float:
    dim = ws.column_dimensions.get(letter)
    if dim is not None and dim.width:
        return dim.width
    for group in ws.column_dimensions.values():  # a <col min max> run is keyed by its first letter
        if group.min and group.max and group.min <= ws[f"{letter}1"].column <= group.max and group.width:
            return group.width
    return 8.43


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("view")
    book = folder / "demo.xlsx"
    shutil.copy(ROOT / "templates" / "dtg-2020-example.xlsx", book)
    done = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(book)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "demo-评价结果.xlsx"


@pytest.mark.parametrize("path", [*BOOKS, "evaluated"], ids=lambda p: getattr(p, "name", p))
def test_wrapped_text_fits_its_row(path, request):
    path = request.getfixturevalue("evaluated") if path == "evaluated" else path
    wb = load_workbook(path)
    too_short, checked = [], 0
    for name in WRAPPED_SHEETS:
        ws = wb[name]
        for row in ws.iter_rows(min_row=2):
            height = ws.row_dimensions[row[0].row].height or 15
            for cell in row:
                if not isinstance(cell.value, str) or not cell.value.strip() or not cell.alignment.wrap_text:
                    continue
                need = lines_needed(cell.value, column_width(ws, cell.column_letter))
                checked += 1
                if height < need * 12:
                    too_short.append(f"{name}!{cell.coordinate}: {need} lines in a row of {height} pt")
    assert not too_short, "\n".join(too_short)
    if "2020" in path.name or path.suffix == ".xlsm" or "评价结果" in path.name:
        assert checked > 40  # the example's 评分标准, 扣分原因, report text … were really looked at


def test_empty_input_rows_keep_the_default_height():
    """Rows the clerk has not filled keep no fixed height, so Excel fits them as text is typed."""
    ws = load_workbook(ROOT / "templates" / "dtg-template.xlsx")["指标体系"]
    assert all(ws.row_dimensions[r].height in (None, 15) for r in range(2, 60))


@pytest.mark.parametrize("path", [*BOOKS, "evaluated"], ids=lambda p: getattr(p, "name", p))
def test_summary_facts_read_left_to_right(path, request):
    path = request.getfixturevalue("evaluated") if path == "evaluated" else path
    ws = load_workbook(path)["汇总"]
    for label, row in layout.FACT_ROW.items():
        cell = ws.cell(row, 2)
        assert ws.cell(row, 1).value == label
        assert cell.alignment.horizontal == "left", f"汇总!B{row} ({label}) is not left-aligned"
        assert not cell.alignment.wrap_text, f"汇总!B{row} ({label}) wraps in a row of fixed height"
        assert f"B{row}:G{row}" in {str(r) for r in ws.merged_cells.ranges}
    if "评价结果" in path.name:
        assert ws["B7"].value == 96.65 and ws["B4"].value in (2020, "2020")
