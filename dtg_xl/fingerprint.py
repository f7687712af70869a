"""Fingerprint of what a result was computed from, and `dtg-xl verify`.

The fingerprint is a SHA-256 over the checked inputs (the whole ``Model``: parameters,
indicators, units, baselines, the effective profile with its grade bands) and the engine
version, shown as the 汇总 fact “数据指纹” (``layout.FACTS``).  A fact cell, rather than a
custom document property or a defined name, because both doors write it the same way (the
file patch and xlwings' ``range.value`` write the same result blocks), it needs no extra
package part, it survives Excel/WPS/LibreOffice saving the file, it is visible to a reader and
an export keeps it as a value.

It detects inconsistency, not forgery: anyone with the tool can recompute it.  ``verify``
therefore does not trust it alone — it re-runs the pipeline on the file's inputs and compares
every cell the pipeline would write with what the file shows, naming each differing cell.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from . import __version__

PREFIX = "sha256:"
DIGITS = 24  # hex digits shown (96 bits: ample to tell two input sets apart)
ENGINE = f"dtg_xl {__version__}"
_SKIP_FIELDS = {"errors", "warnings"}  # derived from the inputs, not inputs
# facts that are expected to differ between a run and its re-computation
VOLATILE_FACTS = ("计算时间", "引擎版本", "数据指纹")


def _plain(x):
    """A JSON-able, door-independent form (calamine gives 2020, xlwings 2020.0)."""
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        f = float(x)
        if math.isnan(f):
            return None
        return int(f) if f.is_integer() and abs(f) < 2 ** 53 else repr(f)
    if isinstance(x, (datetime, date)):
        return x.isoformat()
    if hasattr(x, "tolist"):  # numpy arrays and scalars
        return _plain(x.tolist())
    if isinstance(x, dict):
        return [[str(k), _plain(v)] for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))]
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((_plain(v) for v in x), key=repr)
    if dataclasses.is_dataclass(x):
        return [[f.name, _plain(getattr(x, f.name))] for f in dataclasses.fields(x) if f.name not in _SKIP_FIELDS]
    if hasattr(x, "__dict__"):
        return _plain({k: v for k, v in vars(x).items() if not k.startswith("_") and k not in _SKIP_FIELDS})
    return str(x)


def fingerprint(model, engine: str = ENGINE) -> str | None:
    """``sha256:…`` of the model's inputs, its profile and the engine version (None: no model)."""
    if model is None or isinstance(model, list):
        return None
    payload = json.dumps([engine, _plain(model)], ensure_ascii=False, separators=(",", ":"))
    return PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:DIGITS]


# ---------------------------------------------------------------- verify
@dataclass
class Difference:
    sheet: str
    cell: str
    shown: object
    expected: object

    def __str__(self) -> str:
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
                                 "expected": _json(d.expected)} for d in self.differences]}


def _json(v):
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def _show(v) -> str:
    if v is None or v == "":
        return "（空）"
    if isinstance(v, float):
        return f"{v:.10g}"
    return f"“{v}”" if isinstance(v, str) else str(v)


def _same(shown, expected) -> bool:
    from .xlsx_patch import _ILLEGAL_XML, MAX_TEXT

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


def verify_book(book) -> Verdict:
    """Re-run the pipeline on the book's inputs (nothing is saved) and compare."""
    from .layout import FACT_ROW
    from .cells import col_letter
    from .pipeline import evaluate_book
    from .schema import SHEET_SUMMARY

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
    profile = shown_at(SHEET_SUMMARY, FACT_ROW["评价方案"], 2)
    result = evaluate_book(book, profile=profile if isinstance(profile, str) and profile else None)
    volatile = {(SHEET_SUMMARY, FACT_ROW[label], 2) for label in VOLATILE_FACTS}
    diffs = []
    for sheet, cells in book.writes.items():
        for (r, c), expected in sorted(cells.items()):
            if (sheet, r, c) in volatile:
                continue
            shown = shown_at(sheet, r, c)
            if not _same(shown, expected):
                diffs.append(Difference(sheet, f"{col_letter(c)}{r}", shown, expected))
    never_evaluated = stored is None and bool(diffs) and all(d.shown in (None, "") for d in diffs)
    verdict = Verdict(ok=True, differences=[] if never_evaluated else diffs, stored=stored)
    verdict.recomputed = fingerprint(result.model, str(engine))
    lines = verdict.lines
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
    else:
        lines.append(f"全部 {sum(len(c) for c in book.writes.values()) - len(volatile)} 个结果单元格与重新计算一致"
                     f"（综合得分 {_show(result.total)}，等次 {result.grade or '（无）'}）")
    return verdict


def verify_file(path: str | Path) -> Verdict:
    from .books import FileBook

    book = FileBook(path)
    try:
        return verify_book(book)
    finally:
        book.close()
