"""Unit forms and consolidation on real workbooks: master → 9 forms → filled with openpyxl →
consolidate → evaluate equals the master filled directly; every kind of bad form is reported
with its file and cell, and no input file changes."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from dtg_xl.xlsx.books import FileBook
from dtg_xl.units.consolidate import consolidate, read_form
from dtg_xl.results.pipeline import evaluate_book, result_json
from dtg_xl.units.unitforms import SHEET_STAMP, STAMP_ROW, write_unit_forms

from helpers import edit_cells, run_cli, run_json

UNITS = ["青岛海关", "山东海事局", "青岛海事局", "董家口海事局", "山东出入境边防检查总站", "黄岛出入境边防检查站",
         "青岛出入境边防检查站", "青岛机场出入境边防检查站", "董家口出入境边防检查站"]
# 单位填报 columns: A 序号 B 单位名称 C 单位类别 D 年初预算 E 追加预算 F 实际到位 G 实际支出
# H 监管船舶艘次 I 出入境人员 J 货运量 K 报关单量 L 上年评价得分 M 备注
INPUT_COLS = "DEFGHIJK"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def filled_values(i: int) -> dict[str, object]:
    """What unit i reports (differs from the example, so a merge that did nothing would show)."""
    initial, added = 300 + 37.5 * i, 120 + 11.25 * i
    in_place = initial + added
    spent = in_place - (25 if i == 3 else 0)  # one unit under-spends: execution below 100%
    return {"D": initial, "E": added, "F": in_place, "G": spent, "H": 1000 + 17 * i, "I": 2.5 * i,
            "J": 100 * i, "K": 3 * i, "M": f"单位{i}已核对"}


def fill_form(path: Path, i: int, row: int = 2) -> None:
    edit_cells(path, {"单位填报": {f"{c}{row}": v for c, v in filled_values(i).items()}})


@pytest.fixture
def forms(example_copy, tmp_path):
    paths = write_unit_forms(example_copy, tmp_path / "forms")
    return example_copy, paths


@pytest.fixture
def filled(forms):
    master, paths = forms
    for i, p in enumerate(paths):
        fill_form(p, i)
    return master, paths


def evaluate_file(path: Path) -> dict:
    book = FileBook(path)
    try:
        data = result_json(evaluate_book(book))
    finally:
        book.close()
    return data


# ---------------------------------------------------------------- unit forms
def test_one_form_per_unit_with_only_its_row_editable(forms):
    master, paths = forms
    assert [p.name for p in paths] == [f"{i:02d}-{u}.xlsx" for i, u in enumerate(UNITS, start=1)]
    wb = openpyxl.load_workbook(paths[4])
    ws = wb["单位填报"]
    assert ws.max_row == 2  # header + this unit only: other units' figures are absent
    assert ws["B2"].value == "山东出入境边防检查总站" and ws["D2"].value == 500
    assert ws.protection.sheet  # protected
    assert all(not ws[f"{c}2"].protection.locked for c in INPUT_COLS + "M")
    assert all(ws[f"{c}2"].protection.locked for c in "ABCL")  # 序号 名称 类别 上年评价得分
    assert all(ws.cell(1, c).protection.locked for c in range(1, 14))
    stamp = wb[SHEET_STAMP]
    assert stamp.sheet_state == "hidden" and stamp.protection.sheet
    assert stamp[f"B{STAMP_ROW['单位名称']}"].value == "山东出入境边防检查总站"
    assert stamp[f"B{STAMP_ROW['模板版本']}"].value == "dtg-1"
    assert len(stamp[f"B{STAMP_ROW['签名']}"].value) == 64  # HMAC-SHA256, hex


def test_unit_forms_cli_refuses_to_overwrite_without_force(forms, capsys):
    master, paths = forms
    code, _, err = run_cli(["unit-forms", master, "-o", paths[0].parent], capsys)
    assert code == 2 and "--force" in err
    code, out, _ = run_cli(["unit-forms", master, "-o", paths[0].parent, "--force"], capsys)
    assert code == 0 and "共9个单位填报表" in out


# ---------------------------------------------------------------- round trip
def test_round_trip_equals_master_filled_directly(filled, tmp_path, capsys):
    master, paths = filled
    direct = tmp_path / "direct.xlsx"
    shutil.copyfile(master, direct)
    edit_cells(direct, {"单位填报": {f"{c}{i + 2}": v for i in range(9) for c, v in filled_values(i).items()}})
    hashes = {p: sha(p) for p in [master, *paths]}

    out = tmp_path / "merged.xlsx"
    code, report = run_json(["consolidate", master, *paths, "-o", out], capsys)
    assert code == 0 and report["ok"], report["problems"]
    assert sorted(report["accepted"]) == sorted(UNITS) and report["missing"] == [] and report["problems"] == []
    assert {p: sha(p) for p in [master, *paths]} == hashes  # inputs untouched

    merged, expected, original = evaluate_file(out), evaluate_file(direct), evaluate_file(master)
    assert merged["errors"] == [] and merged == expected
    assert merged["units"] != original["units"]  # the merge really changed the figures
    assert merged["budget"]["spent"] == expected["budget"]["spent"] != original["budget"]["spent"]
    # cell by cell, the merged 单位填报 equals the directly filled one
    rows = lambda p: CalamineWorkbook.from_path(str(p)).get_sheet_by_name("单位填报").to_python()[:10]  # noqa: E731
    assert rows(out) == rows(direct)


def test_parallel_reading_gives_the_same_report(filled, tmp_path):
    master, paths = filled
    one = consolidate(master, paths, tmp_path / "a.xlsx", jobs=1)
    two = consolidate(master, paths, tmp_path / "b.xlsx", jobs=2)
    assert one.ok and two.ok and one.accepted == two.accepted and one.cells_written == two.cells_written == 81
    rows = lambda p: CalamineWorkbook.from_path(str(p)).get_sheet_by_name("单位填报").to_python()  # noqa: E731
    assert rows(tmp_path / "a.xlsx") == rows(tmp_path / "b.xlsx")


# ---------------------------------------------------------------- bad forms, each with file and cell
def problems_of(report) -> set[tuple[str, str, str]]:
    return {(p.file, p.sheet, p.cell) for p in report.problems}


def test_every_bad_form_is_reported_with_file_and_cell(filled, tmp_path):
    master, paths = filled
    edit_cells(paths[1], {"单位填报": {"D1": "年初"}})  # header changed
    edit_cells(paths[2], {"单位填报": {"B7": "备用", "P2": 5}})  # outside the unit's row
    edit_cells(paths[3], {"单位填报": {"C2": "海关"}})  # a locked cell
    edit_cells(paths[4], {SHEET_STAMP: {f"B{STAMP_ROW['模板版本']}": "dtg-0"}})  # another template version
    edit_cells(paths[5], {"单位填报": {"G2": -1, "F2": "很多"}})  # negative, not a number
    edit_cells(paths[6], {SHEET_STAMP: {f"B{STAMP_ROW['可填列']}": "年初预算"}})  # stamp edited: fingerprint
    dup = tmp_path / "青岛海关-重发.xlsx"
    shutil.copyfile(paths[0], dup)  # a duplicate
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    hashes = {p: sha(p) for p in [master, *paths, dup, junk]}

    report = consolidate(master, [*paths[:8], dup, junk], tmp_path / "out.xlsx")  # 09 is missing
    got = problems_of(report)
    n = {i: p.name for i, p in enumerate(paths)}
    assert (n[1], "单位填报", "D1") in got
    assert (n[2], "单位填报", "B7") in got and (n[2], "单位填报", "P2") in got
    assert (n[3], "单位填报", "C2") in got
    assert (n[4], SHEET_STAMP, f"B{STAMP_ROW['模板版本']}") in got
    assert (n[5], "单位填报", "G2") in got and (n[5], "单位填报", "F2") in got
    assert (n[6], SHEET_STAMP, f"B{STAMP_ROW['签名']}") in got
    assert (n[0], SHEET_STAMP, "B4") in got and (dup.name, SHEET_STAMP, "B4") in got
    assert any(p.file == "junk.xlsx" and "无法读取" in p.message for p in report.problems)
    assert report.missing == ["董家口出入境边防检查站"]
    assert report.accepted == {"青岛机场出入境边防检查站": str(paths[7])}  # the one good form still merged
    assert set(report.rejected) == set(UNITS[:7])
    assert {p: sha(p) for p in hashes} == hashes
    version = next(p for p in report.problems if p.file == n[4])
    assert "dtg-0" in version.message and "dtg-1" in version.message
    # the merged copy holds the good unit's figures and the master's for the others
    rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("单位填报").to_python()
    assert rows[8][3] == filled_values(7)["D"] and rows[1][3] == 1500


def test_cli_lists_problems_and_exits_2(filled, tmp_path, capsys):
    master, paths = filled
    edit_cells(paths[0], {"单位填报": {"A5": "x"}})
    code, out, err = run_cli(["consolidate", master, *paths[:8], "-o", tmp_path / "o.xlsx"], capsys)
    assert code == 2
    assert f"{paths[0].name}：单位填报!A5" in err
    assert "未收到填报表的单位：董家口出入境边防检查站" in err
    assert "已汇集7个" in err


def test_master_passed_as_a_form_is_not_a_form(forms, tmp_path):
    master, paths = forms
    report = consolidate(master, [master], None)
    assert report.problems[0].file == master.name and "不是 dtg-xl unit-forms" in report.problems[0].message
    assert report.output is None


def test_form_read_is_plain_data_for_workers(forms):
    _, paths = forms
    import pickle

    read = read_form(str(paths[0]))
    assert read.error is None and read.units[1][1] == "青岛海关"
    assert pickle.loads(pickle.dumps(read)) == read


def test_bad_master_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "m.xlsx"
    bad.write_bytes(b"PK\x03\x04 broken")
    code, _, err = run_cli(["consolidate", bad, bad, "-o", tmp_path / "o.xlsx"], capsys)
    assert code == 2 and "错误" in err and "Traceback" not in err


def test_progress_bar_goes_to_stderr_only_when_asked(filled, tmp_path, capsys):
    master, paths = filled
    consolidate(master, paths, tmp_path / "a.xlsx", progress=False)
    assert capsys.readouterr().err == ""
    consolidate(master, paths, tmp_path / "b.xlsx", progress=True)
    captured = capsys.readouterr()
    assert "读取填报表" in captured.err and "/9" in captured.err and captured.out == ""
    code, out, err = run_cli(["consolidate", master, *paths, "-o", tmp_path / "c.xlsx"], capsys)
    assert code == 0 and "读取填报表" not in err  # not a terminal under pytest: no bar


def test_output_must_not_be_an_input(filled, capsys):
    master, paths = filled
    before = sha(paths[0])
    code, _, err = run_cli(["consolidate", master, *paths, "-o", paths[0]], capsys)
    assert code == 2 and "是输入文件之一" in err and sha(paths[0]) == before


def test_master_without_units_gives_no_forms(tmp_path, capsys):
    from dtg_xl.delivery.template import write_template

    blank = tmp_path / "blank.xlsx"
    write_template(blank)
    code, _, err = run_cli(["unit-forms", blank, "-o", tmp_path / "f"], capsys)
    assert code == 2 and "没有单位" in err and not list((tmp_path / "f").glob("*.xlsx"))


def test_unit_renamed_in_master_after_forms_went_out(filled, tmp_path):
    master, paths = filled
    edit_cells(master, {"单位填报": {"B3": "山东海事局（更名）"}})
    report = consolidate(master, paths, tmp_path / "o.xlsx")
    assert (paths[1].name, SHEET_STAMP, f"B{STAMP_ROW['单位名称']}") in problems_of(report)
    assert report.missing == ["山东海事局（更名）"] and len(report.accepted) == 8


def test_excel_lock_files_are_skipped_not_reported(filled, tmp_path, capsys):
    master, paths = filled
    lock = paths[0].with_name("~$01-青岛海关.xlsx")
    lock.write_bytes(b"\x06user  ")  # what Excel leaves beside an open workbook
    code, out, _ = run_cli(["consolidate", master, *paths, lock, "-o", tmp_path / "o.xlsx"], capsys)
    assert code == 0 and "已跳过 Excel 临时文件：~$01-青岛海关.xlsx" in out and "共9个文件" in out and "已汇集9个" in out


def test_formula_like_text_stays_text_in_unit_forms(example_copy, tmp_path):
    """Formula injection: a unit name typed as =HYPERLINK(...) must not become a live formula."""
    import openpyxl

    hostile = '=HYPERLINK("http://evil.example","点我")'
    wb = openpyxl.load_workbook(example_copy)
    for ref, text in (("B2", hostile), ("C2", "+1+1")):
        wb["单位填报"][ref].value = text
        wb["单位填报"][ref].data_type = "s"  # typed as text, as a user's cell would hold it
    wb.save(example_copy)
    paths = write_unit_forms(example_copy, tmp_path / "forms")
    cells = [(ws["B2"].value, ws["B2"].data_type, ws["C2"].value, ws["C2"].data_type)
             for ws in (openpyxl.load_workbook(p)["单位填报"] for p in paths)]
    assert (hostile, "s", "+1+1", "s") in cells


def test_a_worker_dying_costs_only_its_file_when_files_go_in_batches(filled, tmp_path, monkeypatch):
    """Workers take several files per task: when one dies, every file of its batch (and of any
    batch still pending) is read again alone, and only the file that kills its reader is lost."""
    import os

    import dtg_xl.units.consolidate as C

    master, paths = filled
    killer, parent, real = paths[4].name, os.getpid(), C.read_form

    def read_or_die(path):
        if os.getpid() != parent and Path(path).name == killer:
            os._exit(1)  # what an abort inside a parser does to the worker
        return real(path)

    monkeypatch.setattr(C, "read_form", read_or_die)  # workers are forked: they see it
    monkeypatch.setattr(C, "_batches", lambda ps, jobs: [ps[i:i + 3] for i in range(0, len(ps), 3)])
    report = consolidate(master, paths, tmp_path / "o.xlsx", jobs=2)
    assert [(p.file, p.message[:14]) for p in report.problems] == [(killer, "读取该文件时读取进程异常终止")]
    assert len(report.accepted) == 8 and report.missing == [UNITS[4]] and report.cells_written == 72
    assert report.rejected == {} and killer not in report.accepted.values()


def test_batches_cover_every_file_once():
    from dtg_xl.units.consolidate import BATCH, _batches

    for n, jobs in ((1, 2), (9, 2), (63, 1), (1000, 2), (5000, 2)):
        paths = [f"f{i}.xlsx" for i in range(n)]
        batches = _batches(paths, jobs)
        assert [p for b in batches for p in b] == paths
        assert max(map(len, batches)) <= BATCH and (n < 16 * jobs or len(batches) >= 8 * jobs)


def test_consolidation_does_not_import_numpy(filled, tmp_path):
    """Numbers in a form are read by core.values, not through core.rules (which imports numpy
    for the scoring rules): a consolidation of 1,000 forms paid ~0.15 s for an import it never used."""
    import subprocess
    import sys

    master, paths = filled
    code = ("import sys; from dtg_xl.units.consolidate import consolidate; "
            f"r = consolidate({str(master)!r}, {[str(p) for p in paths]!r}, {str(tmp_path / 'm.xlsx')!r}, jobs=1); "
            "print(r.ok, len(r.accepted), 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "9", "False"]


def test_a_bad_master_found_while_the_workers_read_stops_them(filled, tmp_path):
    """The workers start on the forms while the master is opened; a master that turns out unusable
    (here: a form given as the master, which has no key) ends the run with its error, the batches
    not begun are cancelled and no reader process is left behind."""
    import multiprocessing

    from dtg_xl.units.consolidate import ConsolidateError

    _, paths = filled
    many = [p for p in paths for _ in range(40)]  # 360 files: 2 workers, many batches
    with pytest.raises(ConsolidateError, match="没有填报表密钥|缺少工作表"):
        consolidate(paths[0], many, tmp_path / "o.xlsx", jobs=2)
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "o.xlsx").exists()
