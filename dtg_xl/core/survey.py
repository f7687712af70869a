"""问卷: 满意度 counted from the returned questionnaires (domain.md §3.4).

The 问卷 sheet holds one returned questionnaire per row and one question per column (header in row 1), answers as
text (非常满意 / 满意 / 基本满意 / 不太满意 / 不满意 and the usual variants) or 1–5 (5 = 非常满意).  A 问卷星
"按选项文本" Excel export can be pasted as is, or copied in by ``dtg-xl survey-import`` (``import_export``): its
leading columns (序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP, 总分 …) are recognised and ignored, and so is any
question whose answers are mostly not satisfaction answers (单位类型, 意见建议 …; listed in the summary).

Counting rule (参数 ``满意度口径`` or the profile's ``satisfaction_basis``):

- ``非常满意+满意``           满意率 = (非常满意 + 满意) ÷ 有效答案 × 100
- ``非常满意+满意+基本满意``  满意率 = (非常满意 + 满意 + 基本满意) ÷ 有效答案 × 100
- ``加权平均``                 mean of 100 / 80 / 60 / 30 / 0

per question (有效答案 = that question's recognised answers) and overall (all recognised answers of the sheet
pooled), Excel-rounded to 2 dp.  A blank answer (also 问卷星's ``(跳过)``/``-3``) and an unrecognised one (不了解,
无法评价 …) are counted and reported, never read as dissatisfied; a questionnaire whose every answer is blank or
unrecognised is an invalid questionnaire (无效问卷).  “不满意” is level 1 unless the sheet also uses 非常不满意
(then 不满意 is level 2 of 非常满意 / 满意 / 一般 / 不满意 / 非常不满意).

Written by hand: the counting is a dozen lines over the cell values and no package on the index reads 问卷星
layouts; the export itself is read with python-calamine like every workbook (``FileBook``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.references import KIND_SURVEY, ReferenceProblem, Resolved
from dtg_xl.core.schema import HEADER_ROW, SATISFACTION_BASES, SHEET_SURVEY
from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import cell_ref, col_letter
from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import is_blank as _blank

BASES = SATISFACTION_BASES
BASIS_ALIASES = {"满意率": BASES[0], "满意率（含基本满意）": BASES[1], "满意率(含基本满意)": BASES[1],
                 "含基本满意": BASES[1], "加权": BASES[2], "加权平均（100/80/60/30/0）": BASES[2]}
DEFAULT_BASIS = BASES[0]
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不太满意", 1: "不满意"}
WEIGHTS = {5: 100, 4: 80, 3: 60, 2: 30, 1: 0}
_WORDS = {
    5: ("非常满意", "很满意", "十分满意", "特别满意", "极满意", "非常满意。"),
    4: ("满意", "比较满意", "较满意"),
    3: ("基本满意", "一般", "尚可", "基本满意。"),
    2: ("不太满意", "较不满意", "比较不满意", "不大满意"),
    1: ("非常不满意", "很不满意", "十分不满意", "极不满意", "特别不满意"),
}
_LEVEL_OF_WORD = {w: level for level, words in _WORDS.items() for w in words}
_STRONG_NEGATIVE = set(_WORDS[1])
SKIPPED = ("(跳过)", "（跳过）", "(空)", "（空）", "-3", "-", "—", "/")
# leading columns of a 问卷星 export (and of other platforms' exports): not questions
META_COLUMNS = ("序号", "编号", "答卷编号", "提交答卷时间", "提交时间", "所用时间", "答题时长", "来源", "来源详情",
                "来自IP", "IP", "IP地址", "总分", "用户ID", "昵称", "姓名", "手机", "联系电话", "开始时间", "结束时间",
                "备注", "填写设备", "操作系统", "浏览器")
_NUMBERING = re.compile(r"^\s*(?:第\s*)?(?:Q|q)?(\d+)\s*(?:题)?\s*[、.．:：)）]\s*")
_MOSTLY = 0.5  # share of recognised answers that makes a column a satisfaction question
SUMMARY_HEADERS = ("题目", "答卷数", "有效", "空白", "无效", "非常满意", "满意", "基本满意", "不太满意", "不满意",
                   "满意度（%）")


class SurveyError(DtgError):
    """A 问卷 export or workbook that cannot be imported."""


@dataclass
class Question:
    col: int
    title: str
    number: int | None
    counts: dict[int, int] = field(default_factory=lambda: {k: 0 for k in LEVEL_NAMES})
    blank: int = 0
    invalid: int = 0
    invalid_cells: list[str] = field(default_factory=list)
    rate: float = math.nan

    @property
    def valid(self) -> int:
        return sum(self.counts.values())


@dataclass
class Survey:
    basis: str
    header_row: int
    rows: tuple[int, int]  # first and last row holding a questionnaire
    n: int  # returned questionnaires (non-empty rows)
    valid: int  # questionnaires with at least one recognised answer
    questions: list[Question]
    skipped: list[str]  # columns read as not a satisfaction question
    overall: float  # percent, 2 dp; nan without any recognised answer
    strong_negative: bool

    @property
    def invalid(self) -> int:
        return self.n - self.valid

    def rate_text(self, rate: float) -> str:
        return f"{rate:.10g}{'分' if self.basis == '加权平均' else '%'}"

    def describe(self) -> str:
        """'问卷218份，有效210份（无效8份），满意率（非常满意+满意）95.24%'."""
        what = "加权平均满意度" if self.basis == "加权平均" else f"满意率（{self.basis}）"
        rate = "无法计算" if math.isnan(self.overall) else self.rate_text(self.overall)
        return f"问卷{self.n}份，有效{self.valid}份（无效{self.invalid}份），{what}{rate}"

    def resolve(self, ref) -> Resolved:
        """问卷:合计 or 问卷:<题目|题号> -> the rate (references.Sources.survey)."""
        key = ":".join(ref.parts).strip()
        span = f"{SHEET_SURVEY}!A{self.rows[0]}:{col_letter(max((q.col for q in self.questions), default=1))}" \
               f"{self.rows[1]}"
        if key in ("合计", "总体", "全部", "总计"):
            if math.isnan(self.overall):
                raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_SURVEY}表没有有效答案，无法计算满意度")
            return Resolved(ref.text, float(self.overall), f"{span} {self.describe()}", (span,))
        q = self.question(key)
        if q is None:
            known = "、".join(q.title for q in self.questions) or "（无）"
            raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_SURVEY}表中没有题目“{key}”（满意度题目：{known}；"
                                   f"全部题目用“{KIND_SURVEY}:合计”）")
        if math.isnan(q.rate):
            raise ReferenceProblem(f"引用“{ref.text}”：题目“{q.title}”没有有效答案，无法计算满意度")
        letter = col_letter(q.col)
        where = f"{SHEET_SURVEY}!{letter}{self.rows[0]}:{letter}{self.rows[1]}"
        return Resolved(ref.text, float(q.rate),
                        f"{where} 题目“{q.title}”：答卷{self.n}份，有效答案{q.valid}个（空白{q.blank}、无效{q.invalid}），"
                        f"{self._what()}{self.rate_text(q.rate)}", (where,))

    def _what(self) -> str:
        return "加权平均满意度" if self.basis == "加权平均" else f"满意率（{self.basis}）"

    def question(self, key: str) -> Question | None:
        for q in self.questions:
            if key == q.title or key == _strip_number(q.title):
                return q
        m = re.fullmatch(r"(?:第)?(?:Q|q)?(\d+)(?:题)?", key)
        if m:
            n = int(m.group(1))
            return next((q for q in self.questions if q.number == n), None)
        return None

    def summary_rows(self) -> list[list]:
        """Rows of the 问卷汇总 block (results/layout.SURVEY)."""
        rows = [[q.title, self.n, q.valid, q.blank, q.invalid, *(q.counts[k] for k in (5, 4, 3, 2, 1)), q.rate]
                for q in self.questions]
        pooled = {k: sum(q.counts[k] for q in self.questions) for k in LEVEL_NAMES}
        rows.append([f"合计（问卷{self.n}份，有效{self.valid}份，无效{self.invalid}份）", self.n * len(self.questions),
                     sum(pooled.values()), sum(q.blank for q in self.questions),
                     sum(q.invalid for q in self.questions), *(pooled[k] for k in (5, 4, 3, 2, 1)), self.overall])
        notes = f"口径：{self.basis}" + ("（非常满意100、满意80、基本满意60、不太满意30、不满意0）"
                                        if self.basis == "加权平均" else "÷ 有效答案")
        if self.skipped:
            notes += f"；未计入的非满意度题目：{'、'.join(self.skipped)}"
        rows.append([notes])
        return rows


def _strip_number(title: str) -> str:
    return _NUMBERING.sub("", title, count=1).strip()


def normalise_basis(text: str) -> str | None:
    text = (text or "").strip().replace(" ", "")
    if text in BASES:
        return text
    return BASIS_ALIASES.get(text)


def answer_level(value, strong_negative: bool) -> int | str | None:
    """5..1 for a recognised answer, None for blank, 'invalid' for anything else."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return "invalid"
    if isinstance(value, (int, float)):
        if value == -3:
            return None  # 问卷星: 跳过
        return int(value) if float(value).is_integer() and 1 <= value <= 5 else "invalid"
    text = re.sub(r"\s+", "", str(value)).rstrip("。.")
    if text in SKIPPED:
        return None
    if text in ("1", "2", "3", "4", "5"):
        return int(text)
    if text == "不满意":
        return 2 if strong_negative else 1
    return _LEVEL_OF_WORD.get(text, "invalid")


def is_meta(title: str) -> bool:
    t = title.replace(" ", "")
    return t in META_COLUMNS or "IP" in t.upper() or t.endswith("时间") or t.endswith("时长")


def count_rows(rows: list[list], basis: str, first_row: int = HEADER_ROW + 1) -> Survey | None:
    """Count a 问卷 table (header row first).  None when it holds no questionnaire."""
    header = rows[0] if rows else []
    body = rows[1:]
    columns = [(c, _text(v).replace("\n", "")) for c, v in enumerate(header, start=1) if _text(v)]
    filled = [(first_row + i, row) for i, row in enumerate(body) if any(not _blank(v) for v in row)]
    if not columns or not filled:
        return None

    def at(row, c):
        return row[c - 1] if c - 1 < len(row) else None

    strong = any(re.sub(r"\s+", "", str(at(row, c))) in _STRONG_NEGATIVE
                 for _, row in filled for c, _ in columns if isinstance(at(row, c), str))
    questions, skipped = [], []
    for c, title in columns:
        if is_meta(title):
            continue
        levels = [answer_level(at(row, c), strong) for _, row in filled]
        answered = [x for x in levels if x is not None]
        recognised = [x for x in answered if x != "invalid"]
        if not answered or len(recognised) < _MOSTLY * len(answered) or not recognised:
            skipped.append(title)
            continue
        m = _NUMBERING.match(title)
        q = Question(c, title, int(m.group(1)) if m else None)
        for (r, _), level in zip(filled, levels):
            if level is None:
                q.blank += 1
            elif level == "invalid":
                q.invalid += 1
                q.invalid_cells.append(cell_ref(r, c))
            else:
                q.counts[level] += 1
        q.rate = _rate(q.counts, basis)
        questions.append(q)
    if not questions:
        return Survey(basis, first_row - 1, (filled[0][0], filled[-1][0]), len(filled), 0, [], skipped, math.nan,
                      strong)
    valid = sum(1 for _, row in filled
                if any(isinstance(answer_level(at(row, q.col), strong), int) for q in questions))
    pooled = {k: sum(q.counts[k] for q in questions) for k in LEVEL_NAMES}
    return Survey(basis, first_row - 1, (filled[0][0], filled[-1][0]), len(filled), valid, questions, skipped,
                  _rate(pooled, basis), strong)


def _rate(counts: dict[int, int], basis: str) -> float:
    total = sum(counts.values())
    if not total:
        return math.nan
    if basis == "加权平均":
        return float(excel_round(sum(WEIGHTS[k] * n for k, n in counts.items()) / total, 2))
    good = (5, 4, 3) if basis == BASES[1] else (5, 4)
    return float(excel_round(sum(counts[k] for k in good) / total * 100, 2))


def read_survey(book, basis: str, add, warn) -> Survey | None:
    """The 问卷 sheet counted by ``basis``; None without the sheet or without answers.  ``add``/``warn`` take
    (sheet, cell, message): problems with the sheet are errors, unrecognised answers warnings."""
    if SHEET_SURVEY not in book.sheet_names():
        return None
    rows = book.sheet_values(SHEET_SURVEY)
    survey = count_rows(rows[HEADER_ROW - 1:], basis, HEADER_ROW + 1)
    if survey is None:
        return None
    if not survey.questions:
        add(SHEET_SURVEY, f"{HEADER_ROW}:{HEADER_ROW}", "问卷表中没有可识别的满意度题目（答案应为非常满意、满意、基本满意、"
            "不太满意、不满意或1–5）")
    for q in survey.questions:
        if q.invalid:
            shown = "、".join(q.invalid_cells[:5]) + ("等" if len(q.invalid_cells) > 5 else "")
            warn(SHEET_SURVEY, q.invalid_cells[0],
                 f"题目“{q.title}”有{q.invalid}个答案无法识别为满意度（{shown}），按无效答案计，不计入满意度")
    if survey.invalid:
        warn(SHEET_SURVEY, "", f"有{survey.invalid}份问卷没有任何有效答案（全部空白或无法识别），按无效问卷计")
    return survey


# ---------------------------------------------------------------- survey-import
@dataclass
class ImportReport:
    export: Path
    output: Path
    rows: int  # questionnaires copied
    columns: int
    survey: Survey

    def lines(self) -> list[str]:
        s = self.survey
        out = [f"已导入：{self.export.name} → {self.output}（{SHEET_SURVEY}表，{self.rows}行 × {self.columns}列）",
               f"满意度题目{len(s.questions)}个：{'、'.join(q.title for q in s.questions)}"]
        if s.skipped:
            out.append(f"未计入的非满意度题目：{'、'.join(s.skipped)}")
        out.append(s.describe())
        return out


def import_export(export: str | Path, into: str | Path, output: str | Path | None = None,
                  basis: str | None = None) -> ImportReport:
    """Copy a 问卷星-style export (its first sheet, header in row 1) into the 问卷 sheet of ``into`` (written to
    ``output``, default ``into`` itself, atomically); earlier answers on the sheet are cleared."""
    from dtg_xl.xlsx.books import FileBook

    export, into = Path(export), Path(into)
    output = Path(output) if output else into
    src = FileBook(export)
    try:
        names = src.sheet_names()
        rows = src.sheet_values(names[0]) if names else []
    finally:
        src.close()
    rows = [list(r) for r in rows]
    while rows and all(_blank(v) for v in rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, v in enumerate(r) if not _blank(v)), default=0) for r in rows), default=0)
    if len(rows) < 2 or not width:
        raise SurveyError(f"{export.name}：没有答卷（第1行应为题目，其下每行一份问卷）")
    rows = [(r + [None] * width)[:width] for r in rows]
    dest = FileBook(into)
    try:
        if SHEET_SURVEY not in dest.sheet_names():
            raise SurveyError(f"{into.name}中没有“{SHEET_SURVEY}”工作表（用 dtg-xl new 生成的新版模板含此表）")
        survey = count_rows(rows, normalise_basis(basis or "") or _workbook_basis(dest), HEADER_ROW + 1)
        if survey is None or not survey.questions:
            raise SurveyError(f"{export.name}：没有可识别的满意度题目（答案应为非常满意、满意、基本满意、不太满意、不满意或1–5）")
        old = dest.sheet_values(SHEET_SURVEY)
        old_height = len(old)
        old_width = max((len(r) for r in old), default=0)
        height, full = max(len(rows), old_height), max(width, old_width)
        block = [[(rows[i][j] if i < len(rows) and j < width else None) for j in range(full)] for i in range(height)]
        dest.write(SHEET_SURVEY, 1, 1, block)
        dest.save(output)
    finally:
        dest.close()
    return ImportReport(export, output, len(rows) - 1, width, survey)


def _workbook_basis(book) -> str:
    """满意度口径 of a workbook's 参数 (or its profile), for the import's own summary line."""
    from dtg_xl.core.profiles import ProfileError, load_profile
    from dtg_xl.core.schema import PARAMS, SHEET_PARAMS

    labels = {v: k for k, v in PARAMS.items()}
    values = {}
    if SHEET_PARAMS in book.sheet_names():
        for row in book.sheet_values(SHEET_PARAMS):
            if row and _text(row[0]) in (labels["satisfaction_basis"], labels["profile"]):
                values[_text(row[0])] = _text(row[1]) if len(row) > 1 else ""
    chosen = normalise_basis(values.get(labels["satisfaction_basis"], ""))
    if chosen:
        return chosen
    try:
        return load_profile(values.get(labels["profile"]) or None).satisfaction_basis
    except ProfileError:
        return DEFAULT_BASIS


SURVEY_ROWS = 200  # formatted answer rows in the template


def write_sheet(ws, f: dict, rows: list[list] | None = None) -> None:
    """Template sheet 问卷 (XlsxWriter worksheet, formats of template._formats): a 问卷星-style header and room for
    answers; ``rows`` (header first) fills it."""
    rows = rows or [["序号", "提交答卷时间", "1、总体满意度", "2、服务态度", "3、办事效率"]]
    header, body = rows[0], rows[1:]
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 18)
    ws.set_column(2, max(len(header), 8), 14)
    ws.write_row(0, 0, header, f["header"])
    for r in range(1, max(SURVEY_ROWS, len(body)) + 1):
        line = body[r - 1] if r <= len(body) else []
        for c in range(len(header)):
            value = line[c] if c < len(line) else None
            ws.write(r, c, value, f["text"]) if value is not None else ws.write_blank(r, c, None, f["text"])
    note = ("每行一份问卷，每列一题（第1行为题目）；答案填非常满意、满意、基本满意、不太满意、不满意（或5–1）。"
            "可直接粘贴问卷星“按选项文本”导出的表格，或运行 dtg-xl survey-import 导出文件.xlsx 本工作簿.xlsx。"
            "序号、提交答卷时间、所用时间、来源、IP等列自动忽略。口径见参数“满意度口径”；结果写入汇总表“问卷汇总”。"
            "指标体系中实际值填“问卷:合计”或“问卷:题目”即取满意度。")
    ws.set_column(max(len(header), 8) + 1, max(len(header), 8) + 1, 60)
    ws.write(0, max(len(header), 8) + 1, note, f["note"])
    ws.freeze_panes(1, 0)
