"""Issue 14 items 9–12: unit forms bound to their master by an HMAC under a key kept only in the
master; forged and foreign forms refused with their reason and never blocking the genuine one;
a form that kills its reader costs only that form; --jobs bounded; workers die with the parent."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from dtg_xl.units.consolidate import bounded_jobs, consolidate, cpu_count
from dtg_xl.units.formkey import KEY_PROPERTY, read_key
from dtg_xl.units.unitforms import SHEET_STAMP, STAMP_ROW, write_unit_forms
from dtg_xl.xlsx.docprops import read_property

from helpers import edit_cells, run_cli

CLI = [sys.executable, "-m", "dtg_xl"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp_of(path: Path) -> dict:
    ws = openpyxl.load_workbook(path)[SHEET_STAMP]
    return {label: ws[f"B{row}"].value for label, row in STAMP_ROW.items()}


def set_stamp(path: Path, **values) -> None:
    edit_cells(path, {SHEET_STAMP: {f"B{STAMP_ROW[k]}": v for k, v in values.items()}})


def unit_row(path: Path) -> dict:
    ws = openpyxl.load_workbook(path)["单位填报"]
    return {ws.cell(1, c).value: ws.cell(2, c).value for c in range(1, ws.max_column + 1)}


def fill(path: Path, value: float) -> None:
    edit_cells(path, {"单位填报": {"D2": value, "E2": 10, "F2": value + 10, "G2": value + 10}})


@pytest.fixture
def issued(example_copy, tmp_path):
    paths = write_unit_forms(example_copy, tmp_path / "forms")
    for i, p in enumerate(paths):
        fill(p, 100 + i)
    return example_copy, paths


def problems(report) -> list[tuple[str, str, str, str]]:
    return [(p.file, p.sheet, p.cell, p.message) for p in report.problems]


def test_key_lives_only_in_the_master(issued, tmp_path):
    master, paths = issued
    key = read_key(master)
    assert key is not None and len(key.secret) == 32
    secret = key.secret.hex().encode()
    for p in paths:  # no part of any form holds the secret
        with zipfile.ZipFile(p) as zf:
            assert not any(secret in zf.read(n) for n in zf.namelist())
        assert stamp_of(p)["密钥编号"] == key.key_id
    # a second run reuses the key: forms already sent out stay valid
    again = write_unit_forms(master, tmp_path / "again")
    assert stamp_of(again[0])["密钥编号"] == key.key_id
    assert read_key(master) == key


def test_forged_unit_is_refused_and_the_genuine_form_still_merges(issued, tmp_path):
    """Item 11: form of unit 1 rewritten to claim unit 2 (stamp and locked row), the old unkeyed
    fingerprint recomputed as an attacker could; it comes first and does not block unit 2."""
    master, paths = issued
    victim = unit_row(paths[1])
    forged = tmp_path / "00-伪造.xlsx"
    shutil.copyfile(paths[0], forged)
    edit_cells(forged, {"单位填报": {"A2": victim["序号"], "B2": victim["单位名称"], "C2": victim["单位类别"],
                                    "L2": victim["上年评价得分"], "D2": 99999}})
    genuine_stamp = stamp_of(paths[1])
    set_stamp(forged, **{k: genuine_stamp[k] for k in ("单位名称", "主表行号")},
              签名=hashlib.sha256(b"recomputed by the forger").hexdigest())
    before = {p: sha(p) for p in [master, forged, *paths]}
    report = consolidate(master, [forged, *paths], tmp_path / "out.xlsx")
    assert report.accepted[victim["单位名称"]] == str(paths[1])  # the genuine one is merged
    assert str(forged) in report.refused
    msgs = [m for f, s, c, m in problems(report) if f == forged.name]
    assert any("签名不符" in m for m in msgs), msgs
    assert not any("多份" in m for *_, m in problems(report)), "no duplicate rejection of the genuine form"
    assert (forged.name, SHEET_STAMP, f"B{STAMP_ROW['签名']}") in [(f, s, c) for f, s, c, _ in problems(report)]
    assert {p: sha(p) for p in before} == before


@pytest.mark.parametrize("label,value", [("主表行号", "3"), ("主表文件", "另一主表.xlsx"), ("评价年度", "2019"),
                                         ("项目名称", "别的项目"), ("可填列", "年初预算"), ("单位名称", "青岛海事局")])
def test_editing_the_stamp_breaks_the_signature(issued, tmp_path, label, value):
    master, paths = issued
    set_stamp(paths[0], **{label: value})
    report = consolidate(master, paths, tmp_path / "out.xlsx")
    mine = [(s, c, m) for f, s, c, m in problems(report) if f == paths[0].name]
    assert any(c == f"B{STAMP_ROW['签名']}" and "签名不符" in m for s, c, m in mine), mine
    assert "青岛海关" not in report.accepted
    if label == "单位名称":  # claimed 青岛海事局 falsely: the real 青岛海事局 form is still merged
        assert report.accepted["青岛海事局"] == str(paths[2])


def test_forms_of_another_master_are_foreign(issued, example_path, tmp_path):
    master, paths = issued
    other = tmp_path / "other.xlsx"
    shutil.copyfile(example_path, other)
    theirs = write_unit_forms(other, tmp_path / "theirs")
    report = consolidate(master, [theirs[0], *paths[1:]], tmp_path / "out.xlsx")
    msg = next(m for f, s, c, m in problems(report) if f == theirs[0].name)
    assert "不是由本主表生成" in msg and read_key(other).key_id in msg
    assert "青岛海关" not in report.accepted and len(report.accepted) == len(paths) - 1


def test_last_years_forms_are_refused_by_year(issued, tmp_path):
    """The master saved as next year's (same key) and 评价年度 changed: last year's forms are refused."""
    master, paths = issued
    wb = openpyxl.load_workbook(master)
    ws = wb["参数"]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "评价年度")
    new_master = tmp_path / "2021.xlsx"
    from dtg_xl.xlsx.patch import patch_workbook

    patch_workbook(master, new_master, {"参数": {(row, 2): 2021}})
    assert read_key(new_master) == read_key(master)
    report = consolidate(new_master, paths, tmp_path / "out.xlsx")
    assert not report.accepted
    msg = next(m for f, s, c, m in problems(report) if f == paths[0].name)
    assert "2020年度" in msg and "2021年度" in msg, msg
    cells = {c for f, s, c, m in problems(report) if s == SHEET_STAMP}
    assert cells == {f"B{STAMP_ROW['评价年度']}"}


def test_master_without_key_is_refused(issued, example_path, tmp_path, capsys):
    _, paths = issued
    code, out, err = run_cli(["consolidate", example_path, *paths, "-o", tmp_path / "o.xlsx"], capsys)
    assert code == 2 and "没有填报表密钥" in err and "Traceback" not in err


def test_export_copy_does_not_carry_the_key(issued, tmp_path, capsys):
    master, _ = issued
    out = tmp_path / "mailed.xlsx"
    assert run_cli(["export", master, "-o", out], capsys)[0] == 0
    assert read_property(out, KEY_PROPERTY) is None
    assert read_property(master, KEY_PROPERTY) is not None


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_resaved_form_and_master_still_verify(issued, tmp_path):
    """A unit re-saves its form in LibreOffice (values and layout rewritten); the evaluator's
    master also went through LibreOffice.  Both keep working: canonical values, custom property."""
    master, paths = issued
    profile = tmp_path / "lo-profile"
    outdir = tmp_path / "lo"
    outdir.mkdir()
    for src in (paths[0], master):
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                        "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(src)],
                       check=True, capture_output=True, timeout=240)
    resaved_form, resaved_master = outdir / paths[0].name, outdir / master.name
    assert sha(resaved_form) != sha(paths[0])
    assert read_key(resaved_master) == read_key(master)
    report = consolidate(resaved_master, [resaved_form, *paths[1:]], tmp_path / "out.xlsx")
    assert report.ok, problems(report)
    assert report.accepted["青岛海关"] == str(resaved_form)


# ---------------------------------------------------------------- workers (items 9, 10)
def _abort_form(path: Path) -> None:
    """A far cell spelt `<c\\nr=…>`: on the pre-flight of today it aborts calamine (SIGABRT)."""
    tmp = path.with_suffix(".new")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="3"><c\nr="XFD1048576"><v>1</v></c></row></sheetData>')
            zout.writestr(info, data)
    tmp.replace(path)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_form_that_kills_its_reader_costs_only_that_form(issued, tmp_path, jobs):
    master, paths = issued
    _abort_form(paths[1])
    out = tmp_path / "out.xlsx"
    proc = subprocess.run([*CLI, "consolidate", str(master), *map(str, paths), "-o", str(out), "--jobs", jobs, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "内部错误" not in proc.stderr and "BrokenProcessPool" not in proc.stderr + proc.stdout
    assert "memory allocation" not in proc.stderr  # a worker's dying words stay in the worker
    data = json.loads(proc.stdout)
    assert len(data["accepted"]) == len(paths) - 1 and out.exists()
    bad = [p for p in data["problems"] if p["file"] == paths[1].name]
    assert len(bad) == 1 and ("读取" in bad[0]["message"] or "无法读取" in bad[0]["message"])


def test_jobs_are_bounded():
    assert bounded_jobs(100000, 9) == min(cpu_count(), 9)
    assert bounded_jobs(100000, 1) == 1
    assert bounded_jobs(-5, 200) >= 1 and bounded_jobs(0, 3) == 1


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_workers_die_with_the_parent(issued, tmp_path):
    master, paths = issued
    many = []
    for i in range(120):  # enough files for the readers to be busy when the parent is killed
        p = tmp_path / "many" / f"{i:03d}.xlsx"
        p.parent.mkdir(exist_ok=True)
        shutil.copyfile(paths[i % len(paths)], p)
        many.append(str(p))
    proc = subprocess.Popen([*CLI, "consolidate", str(master), *many, "-o", str(tmp_path / "o.xlsx"),
                             "--jobs", "100000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not workers:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert workers, "no reader process started"
    assert len(workers) <= cpu_count() + 1  # bounded (+1: multiprocessing's resource tracker at most)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "a reader outlived the killed parent"
