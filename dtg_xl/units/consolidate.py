"""Collect the units' returned forms into the master (`dtg-xl consolidate MASTER FORMS… -o OUT`).

Every form is read with python-calamine through ``FileBook`` (so the hostile-file pre-flight runs
before any parser sees it), checked against the master — form type and template version, unit
identity, signature (HMAC with the master's key), header and locked cells, nothing written outside the unit's row, numbers
in the input cells — and then the accepted forms' input cells are written into the master's
单位填报 rows by ``FileBook.write`` + ``save`` (a patched copy; the master and the forms are
never modified).  Every file is checked; problems are listed per file and cell.  A form with a
problem, and every form of a unit that sent more than one, is not merged; the rest are.

Forms are read in worker processes (``--jobs``, bounded by the CPU count and the number of
files; several when there are many files, since calamine holds the GIL per call and the per-file
cost is mostly parsing), a few files per task (a task's round trip costs about as much as reading
a small form), with a tqdm bar on stderr when it is a terminal; the workers start on the forms
while the master is opened.  A worker is a
firewall: a file that kills its reader (an abort inside a parser) costs only that file — when a
worker dies, every file it may have held (its batch, and every batch not yet finished) is read
again alone in a fresh process, and the one that dies again gets its own error line.  Workers die with the parent (Linux ``PR_SET_PDEATHSIG``, and a
watchdog thread elsewhere), so killing ``dtg-xl consolidate`` leaves no reader behind.

Authenticity: a form counts for a unit only when its 签名 verifies with the master's key
(``dtg_xl.units.formkey``) and its 项目名称/评价年度 are the master's.  A forged or foreign form is
refused with its reason and never claims a unit, so it can neither be merged nor make the
genuine form look like a duplicate.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.core.schema import HEADER_ROW, MONEY_COLUMNS, SHEET_UNITS, TEMPLATE_VERSION
from dtg_xl.units.formkey import FormKey, FormKeyError, read_key
from dtg_xl.units.unitforms import (FORM_KIND, FORM_ROW, LOCKED_COLUMNS, REQUIRED_COLUMNS, SHEET_STAMP, STAMP_ROW,
                                    TEXT_COLUMNS, MasterUnits, UnitFormError, canon, read_master, signed_fields)

PARALLEL_FROM = 64  # files; below this, starting workers costs more than it saves
BATCH = 16  # files per worker task at most (see _batches)
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
    refused: list = field(default_factory=list)  # files of forged or foreign forms (they claim no unit)
    jobs: int = 1  # reader processes used

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


def _read_batch(paths: list[str]) -> list[FormRead]:
    return [read_form(p) for p in paths]


def _batches(paths: list[str], jobs: int) -> list[list[str]]:
    """Files in batches, one task each: a task costs a round trip to a worker (about half a
    millisecond, as much as reading a small form), so a few files go per task, yet enough
    tasks (8 per worker) that the workers finish together and the progress bar moves."""
    size = max(1, min(BATCH, len(paths) // (8 * jobs)))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def _positions(paths: list[str]) -> dict[str, int]:
    """Each path's first index (what list.index gives, without a scan per look-up)."""
    order: dict[str, int] = {}
    for i, p in enumerate(paths):
        order.setdefault(p, i)
    return order


class _Reading:
    """Every file's FormRead, as they finish; each file is read in a worker process.  The workers
    start on entering, so the caller opens the master meanwhile (on two cores the master's read
    otherwise left one idle); leaving early (a bad master, Ctrl+C) cancels the batches not begun."""

    def __init__(self, paths: list[str], jobs: int):
        self.paths, self.jobs, self.pool, self.futures = paths, jobs, None, {}
        self.ctx = _context()

    def __enter__(self) -> _Reading:
        if self.paths:
            self.pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=self.ctx, initializer=_worker_init,
                                            initargs=(os.getpid(),))
            self.futures = {self.pool.submit(_read_batch, batch): batch for batch in _batches(self.paths, self.jobs)}
        return self

    def __exit__(self, kind, *_) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=kind is not None)

    def __iter__(self):
        suspects: list[str] = []
        for fut in as_completed(self.futures):
            try:
                yield from fut.result()
            except BrokenProcessPool:  # a worker died: a file of this batch, or of another one it held
                suspects.extend(self.futures[fut])
        for path in sorted(suspects, key=_positions(self.paths).__getitem__):
            yield _read_alone(path, self.ctx)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _read_alone(path: str, ctx) -> FormRead:
    """One file in a fresh process of its own: its death names it."""
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_worker_init,
                             initargs=(os.getpid(),)) as pool:
        try:
            return pool.submit(_read_batch, [path]).result()[0]
        except BrokenProcessPool:
            return FormRead(path, error="读取该文件时读取进程异常终止（文件可能已损坏或是恶意构造的），已跳过；"
                                        "其他文件不受影响。请让该单位用原填报表重新填写")


def _worker_init(parent: int) -> None:
    """A reader dies with its parent: a killed consolidate leaves no worker running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C goes to the parent, which stops the pool
    try:  # a parser dying in a worker must not print its (English, Rust) backtrace to the user
        import faulthandler

        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch():
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


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


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_jobs(n_files: int) -> int:
    return 1 if n_files < PARALLEL_FROM else max(1, min(2, cpu_count()))


def bounded_jobs(requested: int, n_files: int) -> int:
    """--jobs as used: 0 → automatic; never more than the CPUs or the files, never below 1."""
    jobs = requested if requested and requested > 0 else auto_jobs(n_files)
    return max(1, min(jobs, cpu_count(), max(1, n_files)))


def consolidate(master_path: str | Path, form_paths: list[str | Path], output: str | Path | None,
                jobs: int = 0, progress: bool | None = None) -> Report:
    """Check every form, merge the good ones into a copy of the master at ``output``
    (None: check only).  Raises ConsolidateError only when the master itself is unusable."""
    from dtg_xl.xlsx.atomic import refuse_input_as_output
    from dtg_xl.xlsx.books import FileBook  # with python-calamine and the pre-flight: before the workers fork

    master_path = Path(master_path)
    if output is not None:
        refuse_input_as_output(output, [master_path, *form_paths], hint="主表和填报表不会被改写，请换一个输出文件名")
    # a form open in Excel leaves a ~$ lock file beside it; a DIR/*.xlsx glob picks it up
    skipped = [str(p) for p in form_paths if Path(p).name.startswith("~$")]
    paths = [str(p) for p in form_paths if not Path(p).name.startswith("~$")]
    jobs = bounded_jobs(jobs, len(paths))
    with _Reading(paths, jobs) as reads:  # the workers read the forms while the master is opened
        book = FileBook(master_path)  # its BookError is a DtgError: the doors report it as it is
        try:
            return _consolidate(book, master_path, reads, output, jobs, skipped, progress)
        finally:
            book.close()


def _consolidate(book, master_path: Path, reads: _Reading, output, jobs: int, skipped: list[str],
                 progress) -> Report:
    try:
        master = read_master(book)
    except UnitFormError as exc:
        raise ConsolidateError(str(exc)) from None
    try:
        key = read_key(master_path)
    except FormKeyError as exc:
        raise ConsolidateError(str(exc)) from None
    if key is None:
        raise ConsolidateError(f"主表“{master_path.name}”中没有填报表密钥：填报表须由这份主表用 dtg-xl unit-forms 生成"
                               "（生成时密钥保存在主表的文档属性中），无法核对交回的填报表")
    paths = reads.paths
    report = Report(master=str(master_path), output=str(output) if output else None, files=len(paths),
                    skipped=skipped, jobs=jobs)
    claims: dict[str, list[tuple[str, list, bool]]] = {}  # unit -> [(file, row values, clean)]
    for read in _progress(reads, len(paths), progress):
        unit, values, clean, genuine = _check_form(read, master, key, report.problems)
        if unit is not None and genuine:
            claims.setdefault(unit, []).append((read.path, values, clean))
        elif unit is not None:
            report.refused.append((unit, read.path))
    order = _positions(paths)
    claims = {u: sorted(c, key=lambda f: order[f[0]]) for u, c in claims.items()}
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
    for unit, f in report.refused:  # named a unit but not signed for this master: that unit is not merged
        if unit not in report.accepted:
            report.rejected.setdefault(unit, []).append(f)
    report.refused = [f for _, f in report.refused]
    report.missing = [u for u in master.rows if u not in report.accepted and u not in report.rejected]
    report.problems.sort(key=lambda p: p.file)  # stable: each file's problems stay in cell order
    if output is not None and report.accepted:
        book.save(output)
    elif output is not None:
        report.output = None
    return report


def _check_form(read: FormRead, master: MasterUnits, key: FormKey,
                problems: list) -> tuple[str | None, list, bool, bool]:
    """Check one form; problems go to ``problems``.  Returns (claimed unit or None, the unit's
    row values, clean, genuine: signed with the master's key for this master)."""
    name = Path(read.path).name
    before = len(problems)

    def add(sheet, cell, message):
        problems.append(FormProblem(name, sheet, cell, message))

    if read.error:
        add("", "", read.error)
        return None, [], False, False
    if read.stamp is None or read.units is None:
        missing = "、".join(s for s, v in ((SHEET_UNITS, read.units), (SHEET_STAMP, read.stamp)) if v is None)
        add("", "", f"不是 dtg-xl unit-forms 生成的单位填报表（缺少工作表“{missing}”）")
        return None, [], False, False
    stamp = {canon(row[0]): (row[1] if len(row) > 1 else None) for row in read.stamp if row}
    if canon(stamp.get("表单类型")) != FORM_KIND:
        add(SHEET_STAMP, f"B{STAMP_ROW['表单类型']}", f"表单类型应为“{FORM_KIND}”，实际为“{canon(stamp.get('表单类型'))}”")
        return None, [], False, False
    version = canon(stamp.get("模板版本"))
    unit = canon(stamp.get("单位名称"))
    if version != TEMPLATE_VERSION:  # another layout: nothing else in it can be trusted
        add(SHEET_STAMP, f"B{STAMP_ROW['模板版本']}",
            f"模板版本为“{version or '（空）'}”，主表为“{TEMPLATE_VERSION}”：请用当前主表重新生成填报表（dtg-xl unit-forms）")
        return (unit if unit in master.rows else None), [], False, False
    if unit not in master.rows:
        add(SHEET_STAMP, f"B{STAMP_ROW['单位名称']}", f"主表中没有单位“{unit}”")
        return None, [], False, False

    from dtg_xl.xlsx.cells import cell_ref
    from dtg_xl.core.values import Kind, RuleError, number as read_number  # not rules: no numpy for a number

    rows = read.units
    header = [canon(v) for v in (rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else [])]
    while header and not header[-1]:
        header.pop()
    width = len(master.header)
    own_values = list(rows[FORM_ROW - 1]) if len(rows) >= FORM_ROW else []
    own_locked = {h: canon(own_values[c] if c < len(own_values) else None)
                  for c, h in enumerate(header) if h in LOCKED_COLUMNS}
    genuine = _authentic(stamp, header, own_locked, master, key, add)
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
               if (r > FORM_ROW or c > width) and canon(v)]  # canon only where it decides
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
            number = read_number(v, h, kind=Kind.MONEY if h in MONEY_COLUMNS else Kind.SHOWN)
        except RuleError as exc:
            add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), str(exc))
            continue
        if number < 0:
            add(SHEET_UNITS, cell_ref(FORM_ROW, c + 1), f"{h}不能为负数")
        values[c] = number
    clean = len(problems) == before
    return unit, values, clean, genuine


def _authentic(stamp: dict, header: list[str], locked: dict[str, str], master: MasterUnits, key: FormKey, add) -> bool:
    """Is this form the master's own?  Each refusal says why, at the 表单信息 cell concerned."""
    def at(label):
        return f"B{STAMP_ROW[label]}"

    signature, key_id = canon(stamp.get("签名")), canon(stamp.get("密钥编号"))
    project, year = canon(stamp.get("项目名称")), canon(stamp.get("评价年度"))
    if not signature:
        add(SHEET_STAMP, at("签名"), "缺少签名：不是本程序当前版本的 dtg-xl unit-forms 生成的填报表（或“表单信息”被改动），"
                                  "未汇集；请用主表重新生成填报表（dtg-xl unit-forms）")
        return False
    if key_id != key.key_id:
        whose = f"（表单的项目为“{project}”、评价年度为“{year}”）" if (project, year) != (master.project, master.year) else ""
        add(SHEET_STAMP, at("密钥编号"), f"这份填报表不是由本主表生成的（“密钥编号”与本主表不同）{whose}，"
                                      "可能来自另一份主表或上一年度，未汇集")
        return False
    if not key.verifies(signed_fields(stamp, header, locked), signature):
        add(SHEET_STAMP, at("签名"), "签名不符：隐藏的“表单信息”或锁定单元格（表头、序号、单位名称、单位类别、上年评价得分）"
                                  "在发出后被改动，或这是伪造的填报表，未汇集；请用原填报表重新填写")
        return False
    if (project, year) != (master.project, master.year):  # genuine, but cut when the master said otherwise
        label = "评价年度" if year != master.year else "项目名称"
        add(SHEET_STAMP, at(label), f"这份填报表属于“{year}年度 {project}”，主表为“{master.year}年度 {master.project}”："
                                    "可能是上一年度或另一项目的填报表，未汇集")
        return False
    return True


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
    if report.refused:
        lines.append(f"拒收{len(report.refused)}个未通过签名核对的填报表（伪造、被改动、旧版本或来自其他主表，不计入任何单位）：" +
                     "、".join(Path(p).name for p in report.refused))
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
        "skipped": report.skipped, "refused": report.refused, "jobs": report.jobs,
    }
