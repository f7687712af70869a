"""Collect the units' returned forms into the master (`dtg-xl consolidate MASTER FORMS… -o OUT`).

Every form is read with python-calamine through ``FileBook`` (so the hostile-file pre-flight runs
before any parser sees it), checked against the master — form type and template version, unit
identity, fingerprint, header and locked cells, nothing written outside the unit's row, numbers
in the input cells — and then the accepted forms' input cells are written into the master's
单位填报 rows by ``FileBook.write`` + ``save`` (a patched copy; the master and the forms are
never modified).  Every file is checked; problems are listed per file and cell.  A form with a
problem, and every form of a unit that sent more than one, is not merged; the rest are.

Reading runs in worker processes when there are many files (calamine holds the GIL per call,
and the per-file cost is mostly parsing), with a tqdm bar on stderr when it is a terminal.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.core.schema import HEADER_ROW, MONEY_COLUMNS, SHEET_UNITS, TEMPLATE_VERSION
from dtg_xl.units.unitforms import (FORM_KIND, FORM_ROW, LOCKED_COLUMNS, REQUIRED_COLUMNS, SHEET_STAMP, STAMP_ROW,
                        TEXT_COLUMNS, MasterUnits, UnitFormError, canon, expected_fingerprint, fingerprint, read_master)

PARALLEL_FROM = 64  # files; below this, starting workers costs more than it saves
MAX_OUTSIDE_REPORTED = 10  # cells listed per file for content outside the unit's row


class ConsolidateError(DtgError):
    """The master itself cannot be used; the message is for the user."""


@dataclass(frozen=True)
class FormProblem:
    file: str
    sheet: str
    cell: str
    message: str

    def as_dict(self) -> dict:
        return {"file": self.file, "sheet": self.sheet, "cell": self.cell, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell else self.sheet
        return f"{self.file}：{where}：{self.message}" if where else f"{self.file}：{self.message}"


@dataclass
class FormRead:
    """What a worker returns for one file (plain data, so it pickles)."""
    path: str
    sheets: list[str] = field(default_factory=list)
    units: list[list] | None = None
    stamp: list[list] | None = None
    error: str | None = None


@dataclass
class Report:
    master: str
    output: str | None
    files: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # unit -> file
    rejected: dict[str, list[str]] = field(default_factory=dict)  # unit -> files not merged
    missing: list[str] = field(default_factory=list)  # units with no form at all
    problems: list[FormProblem] = field(default_factory=list)
    cells_written: int = 0
    skipped: list[str] = field(default_factory=list)  # Excel/WPS lock files (~$name.xlsx)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing


def read_form(path: str) -> FormRead:
    """Read the two sheets a form needs; never raises for a bad file."""
    from dtg_xl.xlsx.books import BookError, FileBook

    out = FormRead(str(path))
    try:
        book = FileBook(path)
    except BookError as exc:
        out.error = str(exc)
        return out
    except OSError as exc:
        out.error = f"无法读取文件：{exc.strerror or exc}"
        return out
    try:
        out.sheets = book.sheet_names()
        if SHEET_UNITS in out.sheets:
            out.units = book.sheet_values(SHEET_UNITS)
        if SHEET_STAMP in out.sheets:
            out.stamp = book.sheet_values(SHEET_STAMP)
    except BookError as exc:
        out.error = str(exc)
    finally:
        book.close()
    return out


def _read_many(paths: list[str], jobs: int):
    if jobs <= 1:
        for p in paths:
            yield read_form(p)
        return
    chunk = max(1, min(32, len(paths) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(read_form, paths, chunksize=chunk)


def _progress(iterable, total: int, show: bool | None):
    if show is None:
        show = total >= 20 and sys.stderr.isatty()
    if not show:
        return iterable
    import shutil

    from tqdm import tqdm

    # a terminal reporting 0×0 (e.g. under `script`) would hide the bar: tqdm takes 0 rows literally
    size = shutil.get_terminal_size((80, 20))
    return tqdm(iterable, total=total, desc="读取填报表", unit="个", file=sys.stderr, leave=False,
                ncols=size.columns or 80, nrows=size.lines or 20)


def auto_jobs(n_files: int) -> int:
    return 1 if n_files < PARALLEL_FROM else max(1, min(2, os.cpu_count() or 1))


def consolidate(master_path: str | Path, form_paths: list[str | Path], output: str | Path | None,
                jobs: int = 0, progress: bool | None = None) -> Report:
    """Check every form, merge the good ones into a copy of the master at ``output``
    (None: check only).  Raises ConsolidateError only when the master itself is unusable."""
    from dtg_xl.xlsx.books import FileBook

    master_path = Path(master_path)
    if output is not None:
        inputs = {Path(p).resolve() for p in [master_path, *form_paths]}
        if Path(output).resolve() in inputs:
            raise ConsolidateError(f"输出文件“{Path(output).name}”是输入文件之一；主表和填报表不会被改写，请换一个输出文件名")
    book = FileBook(master_path)  # its BookError is a DtgError: the doors report it as it is
    try:
        try:
            master = read_master(book)
        except UnitFormError as exc:
            raise ConsolidateError(str(exc)) from None
        report = Report(master=str(master_path), output=str(output) if output else None, files=len(form_paths))
        # a form open in Excel leaves a ~$ lock file beside it; a DIR/*.xlsx glob picks it up
        report.skipped = [str(p) for p in form_paths if Path(p).name.startswith("~$")]
        paths = [str(p) for p in form_paths if not Path(p).name.startswith("~$")]
        report.files = len(paths)
        jobs = jobs or auto_jobs(len(paths))
        claims: dict[str, list[tuple[str, list, bool]]] = {}  # unit -> [(file, row values, clean)]
        for read in _progress(_read_many(paths, jobs), len(paths), progress):
            unit, values, clean = _check_form(read, master, report.problems)
            if unit is not None:
                claims.setdefault(unit, []).append((read.path, values, clean))
        for unit, forms in claims.items():
            if len(forms) > 1:
                names = [Path(f).name for f, _, _ in forms]
                for f, _, _ in forms:
                    others = "、".join(n for n in names if n != Path(f).name) or Path(f).name
                    report.problems.append(FormProblem(Path(f).name, SHEET_STAMP, f"B{STAMP_ROW['单位名称']}",
                                                       f"单位“{unit}”收到多份填报表（另见：{others}），均未汇集，请确认后只保留一份"))
                report.rejected[unit] = [f for f, _, _ in forms]
                continue
            f, values, clean = forms[0]
            if clean:
                report.accepted[unit] = f
                report.cells_written += _merge(book, master, unit, values)
            else:
                report.rejected[unit] = [f]
        report.missing = [u for u in master.rows if u not in claims]
        report.problems.sort(key=lambda p: p.file)  # stable: each file's problems stay in cell order
        if output is not None and report.accepted:
            book.save(output)
        elif output is not None:
            report.output = None
    finally:
        book.close()
    return report


def _check_form(read: FormRead, master: MasterUnits, problems: list) -> tuple[str | None, list, bool]:
    """Check one form; problems go to ``problems``.  Returns (claimed unit or None, the unit's
    row values, clean)."""
    name = Path(read.path).name
    before = len(problems)

    def add(sheet, cell, message):
        problems.append(FormProblem(name, sheet, cell, message))

    if read.error:
        add("", "", read.error)
        return None, [], False
    if read.stamp is None or read.units is None:
        missing = "、".join(s for s, v in ((SHEET_UNITS, read.units), (SHEET_STAMP, read.stamp)) if v is None)
        add("", "", f"不是 dtg-xl unit-forms 生成的单位填报表（缺少工作表“{missing}”）")
        return None, [], False
    stamp = {canon(row[0]): (row[1] if len(row) > 1 else None) for row in read.stamp if row}
    if canon(stamp.get("表单类型")) != FORM_KIND:
        add(SHEET_STAMP, f"B{STAMP_ROW['表单类型']}", f"表单类型应为“{FORM_KIND}”，实际为“{canon(stamp.get('表单类型'))}”")
        return None, [], False
    version = canon(stamp.get("模板版本"))
    unit = canon(stamp.get("单位名称"))
    if version != TEMPLATE_VERSION:  # another layout: nothing else in it can be trusted
        add(SHEET_STAMP, f"B{STAMP_ROW['模板版本']}",
            f"模板版本为“{version or '（空）'}”，主表为“{TEMPLATE_VERSION}”：请用当前主表重新生成填报表（dtg-xl unit-forms）")
        return (unit if unit in master.rows else None), [], False
    if unit not in master.rows:
        add(SHEET_STAMP, f"B{STAMP_ROW['单位名称']}", f"主表中没有单位“{unit}”")
        return None, [], False

    from dtg_xl.xlsx.cells import cell_ref
    from dtg_xl.core import rules

    rows = read.units
    header = [canon(v) for v in (rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else [])]
    width = len(master.header)
    for c in range(max(width, len(header))):
        want = master.header[c] if c < width else ""
        got = header[c] if c < len(header) else ""
        if want != got:
            add(SHEET_UNITS, cell_ref(HEADER_ROW, c + 1), f"表头被修改：应为“{want}”，实际为“{got}”")
    values = list(rows[FORM_ROW - 1]) if len(rows) >= FORM_ROW else []
    values += [None] * (width - len(values))
    _, master_values = master.rows[unit]
    for c, h in enumerate(master.header):
        if h in LOCKED_COLUMNS:
            want, got = canon(master_values[c]), canon(values[c])
            if want != got:
                what = "单位名称与表单信息不符" if h == "单位名称" else f"锁定单元格（{h}）与主表不符"
                add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), f"{what}：主表为“{want}”，表单为“{got}”")
    outside = [(r, c, v) for r, row in enumerate(rows, start=1) for c, v in enumerate(row, start=1)
               if canon(v) and (r > FORM_ROW or c > width)]
    for r, c, v in outside[:MAX_OUTSIDE_REPORTED]:
        add(SHEET_UNITS, cell_ref(r, c), f"在本单位填报范围（A{FORM_ROW}:{cell_ref(FORM_ROW, width)}）之外填写了内容"
                                         f"“{canon(v)[:30]}”")
    if len(outside) > MAX_OUTSIDE_REPORTED:
        add(SHEET_UNITS, "", f"范围之外另有{len(outside) - MAX_OUTSIDE_REPORTED}个单元格有内容")
    for c, h in enumerate(master.header):
        if not h or h in LOCKED_COLUMNS or h in TEXT_COLUMNS:
            continue
        v = values[c]
        if canon(v) == "":
            if h in REQUIRED_COLUMNS:
                add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), f"缺少{h}")
            continue
        try:
            number = rules.number(v, h, kind=rules.Kind.MONEY if h in MONEY_COLUMNS else rules.Kind.SHOWN)
        except rules.RuleError as exc:
            add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), str(exc))
            continue
        if number < 0:
            add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), f"{h}不能为负数")
        values[c] = number
    clean = len(problems) == before
    if clean:  # cells agree with the master; now the stamp itself
        stored = canon(stamp.get("指纹"))
        locked = {h: canon(values[c]) for c, h in enumerate(header) if h in LOCKED_COLUMNS}
        own = fingerprint(version, unit, header[:width], canon(stamp.get("可填列")).split("|"), locked)
        if stored != own:
            add(SHEET_STAMP, f"B{STAMP_ROW['指纹']}", "指纹与表单内容不符：隐藏的“表单信息”被修改（请用原填报表重填）")
            clean = False
        elif stored != expected_fingerprint(master, unit):
            add(SHEET_STAMP, f"B{STAMP_ROW['指纹']}", "指纹与主表不符：主表在发出填报表后改动了表头或锁定内容"
                                                     "（请重新生成填报表）")
            clean = False
    return unit, values, clean


def _merge(book, master: MasterUnits, unit: str, values: list) -> int:
    row, _ = master.rows[unit]
    n = 0
    for c, h in enumerate(master.header):
        if not h or h in LOCKED_COLUMNS:
            continue
        v = values[c]
        book.write(SHEET_UNITS, row, c + 1, [[None if canon(v) == "" else v]])
        n += 1
    return n


def format_report(report: Report) -> list[str]:
    units = len(report.accepted) + len(report.rejected) + len(report.missing)
    lines = [f"共{report.files}个文件，主表{units}个单位：已汇集{len(report.accepted)}个，"
             f"未汇集{len(report.rejected)}个，未收到{len(report.missing)}个。"]
    if report.problems:
        lines.append(f"发现{len(report.problems)}个问题：")
        lines += [f"  {p}" for p in report.problems]
    if report.missing:
        lines.append("未收到填报表的单位：" + "、".join(report.missing))
    if report.skipped:
        lines.append("已跳过 Excel 临时文件：" + "、".join(Path(p).name for p in report.skipped))
    if report.output:
        lines.append(f"结果已写入：{report.output}（单位填报，{report.cells_written}个单元格）；"
                     f"请运行 dtg-xl evaluate 重新计分")
    else:
        lines.append("没有可汇集的填报表，未写文件")
    return lines


def report_json(report: Report) -> dict:
    return {
        "master": report.master, "output": report.output, "files": report.files, "ok": report.ok,
        "accepted": report.accepted, "rejected": report.rejected, "missing": report.missing,
        "cells_written": report.cells_written, "problems": [p.as_dict() for p in report.problems],
        "skipped": report.skipped,
    }
