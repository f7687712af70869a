"""What the Excel button does, on any xlwings Book: read the 控制台 choices, run the one
pipeline, write the status (time, number of problems, the first problems with their cells)
and, when chosen, the email-safe copy.

``workbook/dtg.py``'s ``main()`` calls ``run_from_control_sheet(xw.Book.caller())``; the
xlwings Lite/Server scripts (``dtg_xl.doors.lite``) and the tests call the same function with the
remote ``xw.Book(json=...)``.  The control sheet's layout lives here so the workbook build
(``dtg_xl.doors.workbook_build``) formats the very cells this module reads and writes.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.errors import DtgError
from dtg_xl.core.model import Problem, read_model
from dtg_xl.results.pipeline import evaluate_book
from dtg_xl.core.profiles import ProfileError, available_profiles, load_profile
from dtg_xl.core.rules import RuleError, yes_no_value
from dtg_xl.xlsx.xlwings_book import XlwingsBook, XlwingsBookError

SHEET_CONTROL = "控制台"

# settings: label in column A, the user's value in column B, a note in column C
SETTING_PROFILE = "评价方案"
SETTING_EMAIL = "是否生成邮件版"
SETTING_CHARTS = "是否插入图表"
SETTING_REPORT = "是否生成报告"
SETTING_DRAFT = "是否生成邮件草稿"
SETTING_FOLDER = "输出文件夹"
SETTING_PORTFOLIO = "批量评价文件夹"
SETTINGS = (SETTING_PROFILE, SETTING_EMAIL, SETTING_CHARTS, SETTING_REPORT, SETTING_DRAFT, SETTING_FOLDER,
            SETTING_PORTFOLIO)
YES_NO_SETTINGS = {SETTING_EMAIL: "email", SETTING_CHARTS: "charts", SETTING_REPORT: "report", SETTING_DRAFT: "draft"}
SETTINGS_HEADER_ROW = 4
SETTING_ROW = {label: SETTINGS_HEADER_ROW + 1 + i for i, label in enumerate(SETTINGS)}
SETTING_DEFAULTS = {SETTING_PROFILE: "", SETTING_EMAIL: "否", SETTING_CHARTS: "否", SETTING_REPORT: "否",
                    SETTING_DRAFT: "否", SETTING_FOLDER: "", SETTING_PORTFOLIO: ""}
SETTING_NOTES = {
    SETTING_PROFILE: "留空＝按“参数”表的评价方案；也可选：" + "、".join(available_profiles()),
    SETTING_EMAIL: "选“是”时，计算通过后在输出文件夹生成邮件版（.xlsx，无宏、公式转为数值）",
    SETTING_CHARTS: "选“是”时，计算通过后在“汇总”表右侧插入一级指标得分、单位预算执行和得分率雷达图",
    SETTING_REPORT: "选“是”时，计算通过后在输出文件夹生成评价报告（.docx，文字取自“报告文字”表）",
    SETTING_DRAFT: "选“是”时，生成未发送的邮件草稿（.eml，附邮件版；收件人取自“参数”表），用Outlook打开后发送",
    SETTING_FOLDER: "留空＝与本工作簿相同的文件夹",
    SETTING_PORTFOLIO: "填写文件夹时，同时批量评价其中（含子文件夹）全部项目工作簿，汇总表写入输出文件夹（留空则写入该文件夹）",
}

BUTTON_CELL = (SETTING_ROW[SETTINGS[-1]] + 1, 2)  # (row, col) 1-based: the button sits below the settings
BUTTON_CAPTION = "计算评分"

# status written by every run: label in column A, value in column B
STATUS_TITLE_ROW = BUTTON_CELL[0] + 3
OUTPUTS = ("邮件版", "图表", "报告", "邮件草稿", "批量评价")  # one status line per optional output
STATUS = ("最近运行时间", "运行结果", "综合得分", "评价等次", *OUTPUTS)
STATUS_ROW = {label: STATUS_TITLE_ROW + 1 + i for i, label in enumerate(STATUS)}
PROBLEMS_TITLE_ROW = STATUS_ROW[STATUS[-1]] + 2
PROBLEMS_HEADER_ROW = PROBLEMS_TITLE_ROW + 1
PROBLEM_HEADERS = ("工作表", "单元格", "问题")
PROBLEM_ROWS = 10  # the first problems; the full list is on 汇总
FUNCTIONS_TITLE_ROW = PROBLEMS_HEADER_ROW + PROBLEM_ROWS + 2


@dataclass
class Settings:
    profile: str | None = None
    email: bool = False
    charts: bool = False
    report: bool = False
    draft: bool = False
    folder: Path | None = None
    portfolio: Path | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Outcome:
    """What one click did (returned for tests and the Lite scripts)."""
    ok: bool
    result: object | None = None  # engine.Result when the pipeline ran
    problems: list[Problem] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # OUTPUTS label -> status text

    @property
    def email(self) -> str:
        return self.outputs.get("邮件版", "")


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
    for label, attr in YES_NO_SETTINGS.items():
        answer = found.get(label, (0, ""))[1]
        if answer:
            try:
                setattr(settings, attr, bool(yes_no_value(answer)))
            except RuleError as exc:
                settings.problems.append(Problem(SHEET_CONTROL, where(label), str(exc)))
    def folder_setting(label: str, what: str) -> Path | None:
        """A folder typed beside ``label`` (~ and %VAR% expanded); one that does not exist is a problem at its cell."""
        folder = found.get(label, (0, ""))[1]
        if not folder:
            return None
        path = Path(os.path.expandvars(os.path.expanduser(folder)))
        if not path.is_dir():
            settings.problems.append(Problem(SHEET_CONTROL, where(label), f"{what}不存在：{folder}"))
        return path

    settings.folder = folder_setting(SETTING_FOLDER, "输出文件夹")
    settings.portfolio = folder_setting(SETTING_PORTFOLIO, "批量评价文件夹")
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
            outcome.outputs = optional_outputs(xb, settings, result)
            if settings.portfolio:  # independent of this workbook's own result
                outcome.outputs["批量评价"] = _portfolio(settings)
    except DtgError as exc:  # a user-fixable problem (e.g. the workbook has no 汇总 sheet): say it plainly
        outcome = Outcome(ok=False, problems=[Problem("", "", str(exc))])
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


def optional_outputs(book: XlwingsBook, settings: Settings, result) -> dict[str, str]:
    """The outputs chosen on 控制台, each with a one-line status (never an exception)."""
    chosen = {"邮件版": settings.email, "图表": settings.charts, "报告": settings.report, "邮件草稿": settings.draft}
    if not result.ok:
        return {label: f"有问题未计算得分，未生成{label}" for label, on in chosen.items() if on}
    makers = {"邮件版": _email_copy, "图表": _charts, "报告": _report, "邮件草稿": _draft}
    outputs = {}
    for label, on in chosen.items():
        if on:
            try:
                outputs[label] = makers[label](book, settings, result)
            except DtgError as exc:  # the modules' user-facing errors
                outputs[label] = f"未生成{label}：{exc}"
            except OSError as exc:
                outputs[label] = f"未生成{label}：无法写入 {exc.filename or ''}（{exc.strerror or exc}）"
    return outputs


def _source_name(book: XlwingsBook) -> Path:
    """The workbook's file name (stem and suffix name the outputs and the temporary copy)."""
    src = book.path
    if src is not None:
        return Path(src.name)
    name = Path(book.name or "")
    if name.suffix.lower() not in (".xlsx", ".xlsm", ".xlsb", ".xls"):  # Book1: never saved
        raise XlwingsBookError(book.where_problem())
    return name


def _target(book: XlwingsBook, settings: Settings, suffix: str) -> Path:
    src = book.path
    if src is None and settings.folder is None:
        raise XlwingsBookError(book.where_problem())
    folder = settings.folder or src.parent
    return folder / f"{_source_name(book).stem}-{suffix}"


@contextmanager
def _saved_copy(book: XlwingsBook):
    """A copy of the open workbook with the values just written; the user's file is untouched."""
    name = _source_name(book)
    with tempfile.TemporaryDirectory(prefix="dtg-") as tmp:
        yield book.save_copy(Path(tmp) / name.name)


def _email_copy(book, settings, result) -> str:
    from dtg_xl.delivery.export import export_email_safe

    dst = _target(book, settings, "邮件版.xlsx")
    with _saved_copy(book) as copy:
        export_email_safe(copy, dst)
    return f"已生成：{dst}"


def _charts(book, settings, result) -> str:
    from dtg_xl.delivery.charts import add_to_xlwings_sheet
    from dtg_xl.core.schema import SHEET_SUMMARY

    names = add_to_xlwings_sheet(book.book.sheets[SHEET_SUMMARY], result)
    return f"已在“汇总”表插入{len(names)}张图表"


def _report(book, settings, result) -> str:
    from dtg_xl.delivery.report import write_report

    dst = _target(book, settings, "评价报告.docx")
    write_report(book, dst)
    return f"已生成：{dst}"


def _draft(book, settings, result) -> str:
    from dtg_xl.delivery.mail import write_draft

    dst = _target(book, settings, "邮件草稿.eml")
    with _saved_copy(book) as copy:
        write_draft(copy, dst, report=settings.report)
    return f"已生成：{dst}（未发送，用Outlook打开后发送）"


def _portfolio(settings: Settings) -> str:
    """`dtg-xl portfolio` of the chosen folder, in this process (Excel's Python is no place to
    start worker processes), resumable as on the command line."""
    from dtg_xl.delivery.portfolio_book import write_portfolio_book
    from dtg_xl.results.portfolio import cache_path, run_portfolio

    folder = settings.portfolio
    dst = (settings.folder or folder) / f"{folder.resolve().name or '项目'}-批量评价汇总.xlsx"
    try:
        pf = run_portfolio([folder], cache_path(dst), jobs=1, profile=settings.profile, progress=False, exclude=(dst,))
        write_portfolio_book(pf, dst)
    except DtgError as exc:
        return f"未完成批量评价：{exc}"
    except OSError as exc:
        return f"未完成批量评价：无法写入 {exc.filename or ''}（{exc.strerror or exc}）"
    return (f"已评价{len(pf.projects)}个项目，未能评价{len(pf.failures)}个，重复{len(pf.duplicates)}个"
            f"（沿用上次结果{pf.reused}个）：{dst}")


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
        **{label: outcome.outputs.get(label) for label in OUTPUTS},
    }
    book.write(SHEET_CONTROL, STATUS_ROW[STATUS[0]], 2, [[values[label]] for label in STATUS])
    book.write(SHEET_CONTROL, PROBLEMS_HEADER_ROW + 1, 1, _problem_rows(outcome.problems))
