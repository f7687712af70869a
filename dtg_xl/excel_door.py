"""What the Excel button does, on any xlwings Book: read the 控制台 choices, run the one
pipeline, write the status (time, number of problems, the first problems with their cells)
and, when chosen, the email-safe copy.

``workbook/dtg.py``'s ``main()`` calls ``run_from_control_sheet(xw.Book.caller())``; the
xlwings Lite/Server scripts (``dtg_xl.lite``) and the tests call the same function with the
remote ``xw.Book(json=...)``.  The control sheet's layout lives here so the workbook build
(``dtg_xl.workbook_build``) formats the very cells this module reads and writes.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .model import Problem, read_model
from .pipeline import evaluate_book
from .profiles import ProfileError, available_profiles, load_profile
from .rules import RuleError, yes_no_value
from .xlwings_book import XlwingsBook, XlwingsBookError

SHEET_CONTROL = "控制台"

# settings: label in column A, the user's value in column B, a note in column C
SETTING_PROFILE = "评价方案"
SETTING_EMAIL = "是否生成邮件版"
SETTING_FOLDER = "输出文件夹"
SETTINGS = (SETTING_PROFILE, SETTING_EMAIL, SETTING_FOLDER)
SETTINGS_HEADER_ROW = 4
SETTING_ROW = {label: SETTINGS_HEADER_ROW + 1 + i for i, label in enumerate(SETTINGS)}
SETTING_DEFAULTS = {SETTING_PROFILE: "", SETTING_EMAIL: "否", SETTING_FOLDER: ""}
SETTING_NOTES = {
    SETTING_PROFILE: "留空＝按“参数”表的评价方案；也可选：" + "、".join(available_profiles()),
    SETTING_EMAIL: "选“是”时，计算通过后在输出文件夹生成邮件版（.xlsx，无宏、公式转为数值）",
    SETTING_FOLDER: "留空＝与本工作簿相同的文件夹",
}

# status written by every run: label in column A, value in column B
STATUS_TITLE_ROW = 10
STATUS = ("最近运行时间", "运行结果", "综合得分", "评价等次", "邮件版")
STATUS_ROW = {label: STATUS_TITLE_ROW + 1 + i for i, label in enumerate(STATUS)}
PROBLEMS_TITLE_ROW = 17
PROBLEMS_HEADER_ROW = 18
PROBLEM_HEADERS = ("工作表", "单元格", "问题")
PROBLEM_ROWS = 10  # the first problems; the full list is on 汇总
FUNCTIONS_TITLE_ROW = PROBLEMS_HEADER_ROW + PROBLEM_ROWS + 2

BUTTON_CELL = (SETTING_ROW[SETTINGS[-1]] + 1, 2)  # (row, col) 1-based: the button sits below the settings
BUTTON_CAPTION = "计算评分"


@dataclass
class Settings:
    profile: str | None = None
    email: bool = False
    folder: Path | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Outcome:
    """What one click did (returned for tests and the Lite scripts)."""
    ok: bool
    result: object | None = None  # engine.Result when the pipeline ran
    problems: list[Problem] = field(default_factory=list)
    email: str = ""


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_settings(book: XlwingsBook) -> Settings:
    """The user's choices on 控制台 (defaults when the sheet or a row is missing)."""
    settings = Settings()
    if SHEET_CONTROL not in book.sheet_names():
        return settings
    found = {}
    for r, row in enumerate(book.sheet_values(SHEET_CONTROL), start=1):
        label = _text(row[0]) if row else ""
        if label in SETTINGS and label not in found:
            found[label] = (r, _text(row[1]) if len(row) > 1 else "")

    def where(label):
        return f"B{found[label][0]}"

    profile = found.get(SETTING_PROFILE, (0, ""))[1]
    if profile:
        try:
            load_profile(profile)
            settings.profile = profile
        except ProfileError as exc:
            settings.problems.append(Problem(SHEET_CONTROL, where(SETTING_PROFILE), str(exc)))
    email = found.get(SETTING_EMAIL, (0, ""))[1]
    if email:
        try:
            settings.email = bool(yes_no_value(email))
        except RuleError as exc:
            settings.problems.append(Problem(SHEET_CONTROL, where(SETTING_EMAIL), str(exc)))
    folder = found.get(SETTING_FOLDER, (0, ""))[1]
    if folder:
        path = Path(os.path.expandvars(os.path.expanduser(folder)))
        if not path.is_dir():
            settings.problems.append(Problem(SHEET_CONTROL, where(SETTING_FOLDER), f"输出文件夹不存在：{folder}"))
        settings.folder = path
    return settings


@contextmanager
def _screen_paused(book):
    """Classic Excel: no repaint per written block.  Engines that cannot report the setting
    (the remote Book) are left alone, so their actions stay exactly the pipeline's writes."""
    try:
        app = book.app
        before = app.screen_updating
    except Exception:  # noqa: BLE001 - NotImplementedError on the remote engine, and the like
        yield
        return
    app.screen_updating = False
    try:
        yield
    finally:
        app.screen_updating = before


def run_from_control_sheet(book, when: datetime | None = None) -> Outcome:
    """The button: validate → score → write results and status (→ email copy when chosen)."""
    with _screen_paused(book):
        return _run(book, when)


def _run(book, when: datetime | None) -> Outcome:
    xb = XlwingsBook(book)
    when = when or datetime.now()
    try:
        settings = read_settings(xb)
        if settings.problems:
            outcome = Outcome(ok=False, problems=settings.problems)
        else:
            result = evaluate_book(xb, when=when, profile=settings.profile)
            outcome = Outcome(ok=result.ok, result=result, problems=list(result.errors))
            if settings.email:
                outcome.email = email_copy(xb, settings) if result.ok else "有问题未计算得分，未生成邮件版"
    except Exception as exc:  # noqa: BLE001 - the user sees one Chinese line, not a traceback
        outcome = _internal_error(exc)
    write_status(xb, when, outcome)
    return outcome


def _internal_error(exc: Exception) -> Outcome:
    if os.environ.get("DTG_DEBUG"):
        raise exc
    return Outcome(ok=False, problems=[Problem("", "", f"内部错误（请将此信息反馈给开发者）：{type(exc).__name__}: {exc}")])


def validate_from_control_sheet(book, when: datetime | None = None) -> Outcome:
    """校验 only: read and check every input, write the status; no scores are written."""
    xb = XlwingsBook(book)
    when = when or datetime.now()
    try:
        settings = read_settings(xb)
        problems = list(settings.problems)
        if not problems:
            model = read_model(xb, profile=settings.profile)
            problems = model if isinstance(model, list) else list(model.errors)
        outcome = Outcome(ok=not problems, problems=problems)
    except Exception as exc:  # noqa: BLE001
        outcome = _internal_error(exc)
    write_status(xb, when, outcome, validate_only=True)
    return outcome


def email_copy(book: XlwingsBook, settings: Settings) -> str:
    """Write ``<name>-邮件版.xlsx`` into the output folder; returns the status text."""
    try:
        from .export import export_email_safe
    except ImportError:
        return "邮件版导出功能尚未安装（dtg_xl.export），未生成邮件版"
    try:
        from .export import ExportError
    except ImportError:  # an export module without its error class
        ExportError = ValueError  # noqa: N806
    src = book.path
    if src is None:
        return "工作簿尚未保存到磁盘（或为网页版/远程工作簿），无法生成邮件版；请先保存"
    folder = settings.folder or src.parent
    dst = folder / f"{src.stem}-邮件版.xlsx"
    try:
        with tempfile.TemporaryDirectory(prefix="dtg-") as tmp:
            # a copy of the open workbook holds the values just written; the user's file is untouched
            copy = book.save_copy(Path(tmp) / f"{src.stem}{src.suffix}")
            export_email_safe(copy, dst)
    except (ExportError, XlwingsBookError) as exc:
        return f"未生成邮件版：{exc}"
    except OSError as exc:
        return f"未生成邮件版：无法写入 {exc.filename or dst}（{exc.strerror or exc}）"
    return f"已生成：{dst}"


def _problem_rows(problems: list[Problem]) -> list[list]:
    rows = [[p.sheet, p.cell, p.message] for p in problems]
    if len(rows) > PROBLEM_ROWS:
        rest = len(rows) - PROBLEM_ROWS + 1
        rows = rows[: PROBLEM_ROWS - 1] + [["", "", f"……另有{rest}条，完整清单见“汇总”表右侧“校验问题”"]]
    return rows + [[None, None, None] for _ in range(PROBLEM_ROWS - len(rows))]


def write_status(book: XlwingsBook, when: datetime, outcome: Outcome, validate_only: bool = False) -> None:
    """Fill the status block and the first problems on 控制台 (every cell, so no stale text)."""
    if SHEET_CONTROL not in book.sheet_names():
        return
    result = outcome.result
    n = len(outcome.problems)
    if n:
        verdict = f"发现{n}个问题，{'请修改后重新校验' if validate_only else '未计算得分'}（见下方及“汇总”表）"
    else:
        verdict = "校验通过" if validate_only else "计算完成，结果已写入“指标体系”得分列和“汇总”表"
    warnings = len(getattr(result, "warnings", None) or [])
    if warnings:
        verdict += f"；另有{warnings}条提示，见“汇总”表"
    ok = result is not None and result.ok
    values = {
        "最近运行时间": when.strftime("%Y-%m-%d %H:%M:%S"),
        "运行结果": verdict,
        "综合得分": result.total if ok else None,
        "评价等次": result.grade if ok else None,
        "邮件版": outcome.email or None,
    }
    book.write(SHEET_CONTROL, STATUS_ROW[STATUS[0]], 2, [[values[label]] for label in STATUS])
    book.write(SHEET_CONTROL, PROBLEMS_HEADER_ROW + 1, 1, _problem_rows(outcome.problems))
