"""`dtg-xl verify`: re-run the pipeline on a file's inputs (nothing is saved) and compare every cell the pipeline
would write with what the file shows, naming each differing cell; the stored fingerprint is checked beside it."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.core.schema import SHEET_PARAMS, SHEET_SUMMARY
from dtg_xl.results.fingerprint import ENGINE, PREFIX, VOLATILE_FACTS, fingerprint
from dtg_xl.results.layout import FACT_ROW, display_problem
from dtg_xl.results.pipeline import evaluate_book
from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import col_letter
from dtg_xl.xlsx.cells import is_blank as _blank
from dtg_xl.xlsx.patch import _ILLEGAL_XML, MAX_TEXT


@dataclass
class Difference:
    sheet: str
    cell: str
    shown: object
    expected: object
    kind: str = "value"  # "value": another value; "form": a formula or a number format in a result cell

    def __str__(self) -> str:
        if self.kind == "form":
            if self.expected:
                return f"{self.sheet}!{self.cell}：结果单元格含{self.shown}，应为{self.expected}（缓存的结果可能已过时或被伪造）"
            return f"{self.sheet}!{self.cell}：{self.shown}"
        return f"{self.sheet}!{self.cell}：显示为 {_show(self.shown)}，按输入重新计算应为 {_show(self.expected)}"


@dataclass
class Verdict:
    ok: bool
    lines: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    stored: str | None = None
    recomputed: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "fingerprint": self.stored, "recomputed": self.recomputed, "messages": self.lines,
                "differences": [{"sheet": d.sheet, "cell": d.cell, "shown": _json(d.shown),
                                 "expected": _json(d.expected), "kind": d.kind} for d in self.differences]}


def _json(v):
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def _show(v) -> str:
    if v is None or v == "":
        return "（空）"
    if isinstance(v, float):
        return f"{v:.10g}"
    return f"“{v}”" if isinstance(v, str) else str(v)


def _same(shown, expected) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)) or expected == "":
        return shown is None or shown == ""
    if isinstance(expected, bool) or isinstance(shown, bool):
        return shown == expected
    if isinstance(expected, numbers.Real):
        if not isinstance(shown, numbers.Real):
            return False
        return abs(float(shown) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    text = _ILLEGAL_XML.sub("", str(expected))
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if isinstance(shown, numbers.Real) and not isinstance(shown, bool):
        return False
    return str(shown) == text


def _profile_line(result) -> str:
    model = result.model
    if model is None:
        return "未能按输入重新计算（输入有问题，见下）"
    r, c = model.param_cells.get("profile", (0, 0))
    where = f"{SHEET_PARAMS}!{col_letter(c)}{r}" if r else f"{SHEET_PARAMS}表"
    raw = _text(model.params.get("profile"))
    if raw:
        return f"按评价方案“{model.profile.name}”重新计算（取自{where}“{raw}”；不采用汇总表中记录的方案）"
    return f"按评价方案“{model.profile.name}”重新计算（{where}未填写评价方案，使用默认方案）"


def verify_book(book) -> Verdict:
    """Re-run the pipeline on the book's inputs (nothing is saved) and compare."""
    names = set(book.sheet_names())
    if SHEET_SUMMARY not in names:
        return Verdict(False, [f"缺少工作表“{SHEET_SUMMARY}”，不是本工具计算过的工作簿"])
    summary = book.sheet_values(SHEET_SUMMARY)

    def shown_at(sheet, r, c):
        rows = book.sheet_values(sheet) if sheet != SHEET_SUMMARY else summary
        return rows[r - 1][c - 1] if r <= len(rows) and c <= len(rows[r - 1]) else ""

    stored = shown_at(SHEET_SUMMARY, FACT_ROW["数据指纹"], 2)
    stored = stored if isinstance(stored, str) and stored.startswith(PREFIX) else None
    engine = shown_at(SHEET_SUMMARY, FACT_ROW["引擎版本"], 2) or ENGINE
    recorded = _text(shown_at(SHEET_SUMMARY, FACT_ROW["评价方案"], 2))
    # recomputed from the inputs alone: the profile is 参数!评价方案's, never the result area's
    result = evaluate_book(book)
    volatile = {(SHEET_SUMMARY, FACT_ROW[label], 2) for label in VOLATILE_FACTS}
    diffs, shape = [], []
    cells_of = getattr(book, "sheet_cells", None)
    for sheet, cells in book.writes.items():
        formulas = cells_of(sheet).formulas if cells_of else {}
        for (r, c), expected in sorted(cells.items()):
            ref = f"{col_letter(c)}{r}"
            if (r, c) in formulas:
                shape.append(Difference(sheet, ref, f"公式 ={formulas[(r, c)][:60]}", "由程序写入的数值", "form"))
            if hasattr(book, "number_format") and not _blank(shown_at(sheet, r, c)):
                code = book.number_format(sheet, r, c)
                problem = display_problem(sheet, r, c, code)
                if problem:
                    shape.append(Difference(sheet, ref, problem, "", "form"))
            if (sheet, r, c) in volatile:
                continue
            shown = shown_at(sheet, r, c)
            if not _same(shown, expected):
                diffs.append(Difference(sheet, ref, shown, expected))
    never_evaluated = stored is None and bool(diffs) and all(d.shown in (None, "") for d in diffs)
    verdict = Verdict(ok=True, differences=[] if never_evaluated else diffs + shape, stored=stored)
    verdict.recomputed = fingerprint(result.model, str(engine))
    lines = verdict.lines
    lines.append(_profile_line(result))
    used = result.model.profile.name if result.model else None
    if recorded and used and recorded != used:
        verdict.ok = False
        lines.append(f"汇总表记录的评价方案为“{recorded}”，但按“参数”表应为“{used}”：结果不是按参数表的评价方案计算的"
                     f"（若要使用“{recorded}”，请在参数表中选择它后重新计算）")
    if never_evaluated:
        verdict.ok = False
        lines.append("该文件尚未计算（结果区为空、没有数据指纹）：请先运行 dtg-xl evaluate，或在 Excel 中点击计算")
        return verdict
    if stored is None:
        verdict.ok = False
        lines.append(f"未找到数据指纹（{SHEET_SUMMARY}!B{FACT_ROW['数据指纹']}）：该文件未经 dtg-xl 计算，或指纹被删改")
    elif verdict.recomputed != stored:
        verdict.ok = False
        lines.append(f"数据指纹不符：文件记录 {stored}，按当前输入应为 {verdict.recomputed}。"
                     "输入数据（参数、指标、单位填报或评价方案）在计算之后被改动过，请重新计算")
    else:
        lines.append(f"数据指纹相符（{stored}）：输入数据自计算以来未被改动")
    if str(engine) != ENGINE:
        lines.append(f"提示：结果由 {engine} 计算，当前为 {ENGINE}")
    if diffs:
        verdict.ok = False
        lines.append(f"有 {len(diffs)} 个结果单元格与按输入重新计算的值不符（可能被手工修改）：")
    if shape:
        verdict.ok = False
        lines.append(f"有 {len(shape)} 处结果单元格的显示方式不可信（公式或数字格式，显示的可能不是它的值）：")
    elif not shape:
        lines.append(f"全部 {sum(len(c) for c in book.writes.values()) - len(volatile)} 个结果单元格与重新计算一致"
                     f"（综合得分 {_show(result.total)}，等次 {result.grade or '（无）'}）")
    return verdict


def verify_file(path: str | Path) -> Verdict:
    from dtg_xl.xlsx.books import FileBook

    book = FileBook(path)
    try:
        return verify_book(book)
    finally:
        book.close()
