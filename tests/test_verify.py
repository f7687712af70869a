"""`dtg-xl verify`: passes an untouched evaluated file, catches hand-edited results (naming the
cells), inputs edited after evaluation, and files never evaluated; the fingerprint itself."""
from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtg_xl.results import layout
from dtg_xl.xlsx.books import FileBook
from dtg_xl.doors.cli import main
from dtg_xl.results.fingerprint import ENGINE, PREFIX, fingerprint
from dtg_xl.results.verify import verify_file
from dtg_xl.core.model import read_model
from dtg_xl.xlsx.patch import patch_workbook

TOTAL = layout.FACT_ROW["综合得分"]
PRINT = layout.FACT_ROW["数据指纹"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, example_path):
    path = tmp_path_factory.mktemp("verify") / "done.xlsx"
    assert main(["evaluate", str(example_path), "-o", str(path)]) == 0
    return path


def _score_cell(path):
    book = FileBook(path)
    model = read_model(book)
    book.close()
    return int(model.rows[0]), model.indicator_columns["score"]


def test_untouched_file_passes(evaluated, capsys):
    before = evaluated.read_bytes()
    assert main(["verify", str(evaluated)]) == 0
    out = capsys.readouterr().out
    assert "核验通过" in out and "数据指纹相符" in out and "96.65" in out
    assert evaluated.read_bytes() == before


def test_hand_edited_total_is_caught_and_named(evaluated, tmp_path, capsys):
    edited = tmp_path / "edited.xlsx"
    patch_workbook(evaluated, edited, {"汇总": {(TOTAL, 2): 99.5}})
    assert main(["verify", str(edited)]) == 2
    out = capsys.readouterr().out
    assert "核验未通过" in out
    assert f"汇总!B{TOTAL}：显示为 99.5，按输入重新计算应为 96.65" in out
    assert "数据指纹相符" in out  # the inputs did not change: only the result was edited


def test_hand_edit_in_another_program_is_caught(evaluated, tmp_path):
    """Edited and saved by openpyxl (another writer entirely): a score and the grade."""
    import openpyxl

    row, col = _score_cell(evaluated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(evaluated)
    cell = wb["指标体系"].cell(row, col)
    cell.value = cell.value - 1
    wb["汇总"][f"B{layout.FACT_ROW['评价等次']}"] = "良"
    edited = tmp_path / "openpyxl-edited.xlsx"
    wb.save(edited)
    verdict = verify_file(edited)
    assert not verdict.ok
    cells = {f"{d.sheet}!{d.cell}" for d in verdict.differences}
    from dtg_xl.core.model import col_letter
    assert f"指标体系!{col_letter(col)}{row}" in cells and f"汇总!B{layout.FACT_ROW['评价等次']}" in cells


def test_input_edited_after_evaluation(evaluated, tmp_path, capsys):
    book = FileBook(evaluated)
    model = read_model(book)
    book.close()
    row = int(model.rows[0])
    actual_col = model.indicator_columns["actual"]
    edited = tmp_path / "input-edited.xlsx"
    patch_workbook(evaluated, edited, {"指标体系": {(row, actual_col): 1}})
    assert main(["verify", str(edited), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert not data["ok"] and data["fingerprint"] != data["recomputed"]
    assert any("数据指纹不符" in m for m in data["messages"])


def test_file_never_evaluated(example_path, capsys):
    assert main(["verify", str(example_path)]) == 2
    out = capsys.readouterr().out
    assert "尚未计算" in out and "显示为" not in out


def test_deleted_fingerprint_is_reported(evaluated, tmp_path, capsys):
    edited = tmp_path / "nofp.xlsx"
    patch_workbook(evaluated, edited, {"汇总": {(PRINT, 2): None}})
    assert main(["verify", str(edited)]) == 2
    assert "未找到数据指纹" in capsys.readouterr().out


def test_export_carries_fingerprint_and_verifies(evaluated, tmp_path, capsys):
    out = tmp_path / "mail.xlsx"
    assert main(["export", str(evaluated), "-o", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert "核验通过" in capsys.readouterr().out


def test_fingerprint_depends_on_inputs_profile_and_engine(example_path):
    book = FileBook(example_path)
    model = read_model(book)
    again = read_model(book)
    book.close()
    fp = fingerprint(model)
    assert fp.startswith(PREFIX) and fp == fingerprint(again)
    assert fingerprint(model, engine="dtg_xl 9.9") != fp
    other = read_model(FileBook(example_path), profile="mof-2020")
    assert fingerprint(other) != fp
    model.indicators["actual"][0] += 1
    assert fingerprint(model) != fp
    assert fingerprint(None) is None and ENGINE.startswith("dtg_xl ")


def test_fingerprint_is_the_same_in_every_process(example_path):
    """No memory addresses or hash order in the payload: two interpreters with different hash
    seeds agree (the Excel door and the CLI compute it in different processes)."""
    import os
    import subprocess
    import sys

    code = ("import sys; from dtg_xl.xlsx.books import FileBook; from dtg_xl.core.model import read_model; "
            "from dtg_xl.results.fingerprint import fingerprint; print(fingerprint(read_model(FileBook(sys.argv[1]))))")
    seen = {subprocess.run([sys.executable, "-c", code, str(example_path)], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONHASHSEED=seed), check=True).stdout.strip()
            for seed in ("1", "2", "3")}
    assert len(seen) == 1 and seen.pop().startswith(PREFIX)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(), st.text(max_size=3), st.none(), st.booleans(), st.integers(),
                          st.lists(st.floats(), max_size=2), st.dates())))
def test_fingerprint_items_inline_the_rule_of_each_value(items):
    # _items (a list's values, text and floats inlined for speed) gives what _plain gives each value
    from dtg_xl.results.fingerprint import _items, _plain

    assert _items(items) == [_plain(v) for v in items]
    assert _plain(tuple(items)) == [_plain(v) for v in items]
