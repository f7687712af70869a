"""The 模拟 sheet through the Excel button's code on xlwings' own remote Book: the cells it
would write equal `dtg-xl whatif` on the same changes.  Same licence tier as test_remote_book."""
from __future__ import annotations

import os
from datetime import datetime

import pytest

from dtg_xl.doors import excel_door
from dtg_xl.xlsx.books import FileBook
from dtg_xl.results.whatif import (SHEET_SIMULATION, SIM_FACTS, SIM_FACTS_COL, SIM_FIRST_ROW, SIM_MOVED_HEADER_ROW,
                           run_whatif, whatif_json)

from test_remote_book import WORKBOOK, applied, header_col, payload_from_file, remote_book, set_cell

pytestmark = [
    pytest.mark.remote_book,
    pytest.mark.skipif(not os.environ.get("XLWINGS_LICENSE_KEY"),
                       reason="xlwings' remote Book needs XLWINGS_LICENSE_KEY (e.g. noncommercial); .ci/run sets it"),
]


def test_button_fills_the_simulation_block_like_the_cli():
    payload = payload_from_file(WORKBOOK)
    actual = header_col(payload, "指标体系", "实际值")
    rows = next(s for s in payload["sheets"] if s["name"] == "指标体系")["values"]
    ship = next(r for r, row in enumerate(rows, start=1) if "监管出入境船舶艘次" in row)
    ref = f"{chr(64 + actual)}{ship}"
    set_cell(payload, SHEET_SIMULATION, SIM_FIRST_ROW, 1, "指标体系")
    set_cell(payload, SHEET_SIMULATION, SIM_FIRST_ROW, 2, ref)
    set_cell(payload, SHEET_SIMULATION, SIM_FIRST_ROW, 3, 8000.0)

    book = remote_book(payload)
    outcome = excel_door.run_from_control_sheet(book, when=datetime(2021, 3, 1))
    assert outcome.ok and outcome.result.total == 96.65  # the workbook itself is not simulated
    cells = applied(payload, book.json()["actions"])

    file_book = FileBook(WORKBOOK)
    try:
        w = whatif_json(run_whatif(file_book, [f"指标体系!{ref}=8000"]))
    finally:
        file_book.close()
    facts = {label: cells[(SHEET_SIMULATION, SIM_FIRST_ROW + i, SIM_FACTS_COL + 1)] for i, label in enumerate(SIM_FACTS)}
    assert facts == {"当前综合得分": 96.65, "模拟综合得分": w["after"]["total"], "变化": w["change"],
                     "当前等次": "优", "模拟等次": w["after"]["grade"], "模拟状态": "已模拟1处修改"}
    assert w["after"]["total"] == 96.21
    first = SIM_MOVED_HEADER_ROW + 1
    moved = [cells[(SHEET_SIMULATION, first, SIM_FACTS_COL + c)] for c in range(7)]
    m = w["moved"][0]
    assert moved == [m["row"], m["l1"], m["l2"], m["l3"], m["before"], m["after"], m["change"]]
    assert cells[(SHEET_SIMULATION, SIM_FIRST_ROW, 4)] == "单位:监管船舶艘次:合计"  # 原值: the cell's content
    # nothing is written to the simulated input cell itself
    assert ("指标体系", ship, actual) not in cells
