"""The one pipeline every door runs: a book in → read, check, score → results written back.

The CLI passes a FileBook, the Excel button an xlwings book; both get the same Result and the
same cells written.
"""
from __future__ import annotations

from datetime import datetime

from dtg_xl.core.engine import Result, evaluate
from dtg_xl.core.schema import SHEET_SUMMARY
from dtg_xl.errors import DtgError
from dtg_xl.results.layout import adjustments, format_reset, losses, result_blocks
from dtg_xl.results.margin import result_margin
from dtg_xl.core.model import read_model, sheet_problems
from dtg_xl.core.survey import LEVEL_NAMES
from dtg_xl.results.whatif import SHEET_SIMULATION, simulation_blocks


class OutputSheetError(DtgError):
    """The sheet results go to is missing or ambiguous; the message is for the user."""


def evaluate_book(book, when: datetime | None = None, profile: str | None = None, write: bool = True) -> Result:
    """Evaluate a book and write its results (or its problem list) into it.  A book whose output
    sheet (汇总) is missing or ambiguous is refused before anything is read or written.

    ``write=False`` (the portfolio, which reads hundreds of books and saves none): the same checks,
    refusals and Result, without laying out the result blocks or simulating 模拟's rows."""
    missing = sheet_problems(book.sheet_names(), (SHEET_SUMMARY,))
    if missing:
        path = getattr(book, "path", None)
        where = f"工作簿“{path.name}”：" if path is not None else ""
        raise OutputSheetError(where + "；".join(p.message for p in missing) + "（结果写在这里），未写入任何内容")
    # an output sheet no reader can parse (BookError) is refused before writing: its results could
    # never be read back or verified (a file book checks it without reading its formats)
    getattr(book, "check_readable", book.sheet_values)(SHEET_SUMMARY)
    model = read_model(book, profile=profile)
    result = Result(model=None, errors=model) if isinstance(model, list) else evaluate(model)
    if not write:
        return result
    present = set(book.sheet_names())
    for sheet, row, col, values in result_blocks(result, when):
        if sheet in present:
            book.write(sheet, row, col, values)
    if SHEET_SIMULATION in present:  # what-if rows typed on 模拟: simulated beside them, inputs untouched
        for sheet, row, col, values in simulation_blocks(book, profile, base=result):
            book.write(sheet, row, col, values)
    if hasattr(book, "number_format"):  # a file: result cells get the template's own formats back on save
        book.reformat = format_reset
    return result


def _num(value):
    return None if value is None or value != value else value  # NaN -> None for JSON


def _actual(model, t, i):
    """The scored 实际值; for a 定性 row (scored on 评定得分) a referenced 实际值 is shown as its supporting figure."""
    value = float(t["actual"][i])
    found = model.resolved.get(int(t["row"][i]), {}).get("actual")
    return found.value if value != value and found is not None else _num(value)


def _sources_json(model, row: int) -> dict:
    """actual_source (and target_source / given_source when those cells hold references): where the value came
    from, or None for a typed value."""
    found = model.resolved.get(row, {})

    def one(name):
        x = found.get(name)
        return None if x is None else {"reference": x.reference, "value": x.value, "source": x.source,
                                       "cells": list(x.cells)}

    out = {"actual_source": one("actual")}
    out.update({f"{name}_source": one(name) for name in ("target", "given") if name in found})
    return out


def result_json(result: Result) -> dict:
    """The machine-readable result (the `dtg-xl evaluate --json` contract)."""
    model = result.model
    out = {
        "total": result.total,
        "grade": result.grade,
        "profile": model.profile.name if model else None,
        "weighting": model.weighting if model else None,
        "categories": [{"name": c.name, "points": c.points, "score": c.score} for c in result.categories],
        "indicators": [],
        "losses": losses(result) if result.ok and model else [],
        "adjustments": adjustments(result) if result.ok and model else [],
        "budget": result.budget.as_dict() if result.budget else None,
        "budget_score": result.budget_score,
        "units": [{k: _num(v) for k, v in u.items()} for u in result.units],
        "errors": [p.as_dict() for p in result.errors],
        "warnings": [p.as_dict() for p in result.warnings],
        "margin": margin.as_dict() if (margin := result_margin(result)) else None,
        "survey": _survey_json(model),
    }
    if model is not None:
        t = model.indicators
        for i in range(len(t["row"])):
            out["indicators"].append({
                "row": int(t["row"][i]), "l1": t["l1"][i], "l2": t["l2"][i], "l3": t["l3"][i],
                "method": t["method"][i], "points": _num(float(t["points"][i])),
                "target": _num(float(t["target"][i])), "actual": _actual(model, t, i),
                "formula_score": float(result.formula_scores[i]) if result.formula_scores is not None else None,
                "score": float(result.scores[i]) if result.scores is not None else None,
                "adjustment_reason": t["adjust_reason"][i] if "adjust_reason" in t else "",
                "deduction": _num(float(t["deduction"][i])), "reason": t["reason"][i],
                "deviation_reason": t["deviation_reason"][i], "improvement": t["improvement"][i],
                **_sources_json(model, int(t["row"][i])),
            })
    return out


def _survey_json(model) -> dict | None:
    survey = model.sources.survey if model is not None and model.sources is not None else None
    if survey is None:
        return None
    return {"basis": survey.basis, "n": survey.n, "valid": survey.valid, "invalid": survey.invalid,
            "overall": _num(survey.overall), "skipped": survey.skipped,
            "questions": [{"title": q.title, "valid": q.valid, "blank": q.blank, "invalid": q.invalid,
                           "counts": {name: q.counts[k] for k, name in LEVEL_NAMES.items()}, "rate": _num(q.rate)}
                          for q in survey.questions]}
