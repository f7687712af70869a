"""Where results go: the 汇总 sheet's blocks and the 得分 column, as blocks of values.

``result_blocks`` turns a Result into ``(sheet, row, col, rows2d)`` blocks; a book writes them
(a file patch headless, ``range.value`` in Excel).  The template formats the same blocks, so
both read their positions from here.  Every block is written in full, blanks included, so a
shorter result never leaves stale numbers from an earlier run.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime

from dtg_xl import __version__
import numpy as np

from dtg_xl.core.deviation import WARNING_PREFIX
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.engine import Result
from dtg_xl.results.fingerprint import fingerprint
from dtg_xl.results.margin import result_margin
from dtg_xl.xlsx.cells import col_letter, normalize_format
from dtg_xl.core.schema import SHEET_INDICATORS, SHEET_SUMMARY
from dtg_xl.core.survey import SUMMARY_HEADERS as SURVEY_HEADERS


@dataclass(frozen=True)
class Block:
    title: str
    header_row: int
    first_row: int
    capacity: int  # data rows
    headers: tuple[str, ...]
    col: int = 1

    @property
    def last_row(self) -> int:
        return self.first_row + self.capacity - 1

    @property
    def width(self) -> int:
        return len(self.headers)


# 汇总: key facts in column A with their values in B (merged B:G), then the tables below
FACTS_ROW = 3
FACTS = ("项目名称", "评价年度", "评价方案", "计分方式", "综合得分", "评价等次",
         "距本等次下限", "距上一等次", "决定等次的失分",  # dtg_xl.results.margin
         "计算时间", "校验结果", "引擎版本", "数据指纹")  # 数据指纹: dtg_xl.results.fingerprint
FACT_ROW = {label: FACTS_ROW + i for i, label in enumerate(FACTS)}
# room for up to 14 facts (rows 3..16); each block's title sits on the row above its header
CATEGORIES = Block("一级指标得分", 20, 21, 12, ("一级指标", "分值/权重", "得分", "得分率", "指标内得分", "指标内分值"))
LOSSES = Block("失分明细（扣分及未达目标）", 36, 37, 60, ("一级指标", "二级指标", "三级指标", "分值", "得分", "失分", "原因"))
BUDGET = Block("预算执行情况（万元）", 100, 101, 1, ("年初预算", "追加预算", "调整后预算", "实际到位", "实际支出", "资金到位率", "预算执行率", "预算执行得分"))
UNITS = Block("各单位预算执行（万元）", 105, 106, 60, ("单位名称", "单位类别", "年初预算", "追加预算", "调整后预算", "实际到位", "实际支出", "资金到位率", "预算执行率"))
# errors first, then warnings prefixed 提示 (same where-to-fix list; a warning does not stop scoring)
ERRORS = Block("校验问题与提示", 20, 21, 100, ("工作表", "单元格", "问题"), col=11)
# evaluator adjustments (评定得分 on a row that is not 定性), below the units
ADJUSTMENTS = Block("评价调整", 169, 170, 60, ("一级指标", "二级指标", "三级指标", "公式得分", "评定得分", "差额", "调整原因"))
# where each referenced 实际值/目标值/评定得分 came from (core/references.py), and the 问卷 counts (core/survey.py)
SOURCES = Block("实际值来源（引用）", 233, 234, 40, ("三级指标", "单元格", "引用", "取值", "来源"))
SURVEY = Block("问卷汇总", 277, 278, 32, SURVEY_HEADERS)
SUMMARY_BLOCKS = (CATEGORIES, LOSSES, BUDGET, UNITS, ERRORS, ADJUSTMENTS, SOURCES, SURVEY)
PERCENT_COLUMNS = {CATEGORIES: (3,), BUDGET: (5, 6), UNITS: (7, 8)}  # 0-based within the block


def _nan_to_none(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def _fill(block: Block, rows: list[list]) -> list[list]:
    """Pad to the block's full size with blanks; an overflow row says how many were left out."""
    if len(rows) > block.capacity:
        left_out = len(rows) - block.capacity + 1
        rows = rows[: block.capacity - 1] + [[f"……另有{left_out}行未列出"] + [None] * (block.width - 1)]
    padded = [[_nan_to_none(v) for v in row] + [None] * (block.width - len(row)) for row in rows]
    return padded + [[None] * block.width for _ in range(block.capacity - len(padded))]


def loss_reason(result: Result, i: int) -> str:
    """Why indicator i lost points: the evaluator's reason, or what the numbers say, followed
    by the 偏差原因 and 改进措施 the evaluator wrote."""
    t = result.model.indicators
    formula = result.formula_scores if result.formula_scores is not None else result.scores
    adjusted = _adjustment_note(t, i, formula) if formula is not None else ""
    base = _numbers_reason(t, i)
    if adjusted:  # the evaluator's judgement first; what the numbers say stays beside it
        base = "；".join(x for x in (adjusted, base) if x)
    notes = [f"{label}：{t[name][i]}" for label, name in (("偏差原因", "deviation_reason"), ("改进措施", "improvement"))
             if name in t and t[name][i]]
    return "；".join(x for x in (base, *notes) if x)


def adjustments(result: Result) -> list[dict]:
    """Rows whose 评定得分 replaced the rule's result, in table order."""
    t = result.model.indicators
    if result.scores is None or "adjusted" not in t:
        return []
    formula = result.formula_scores if result.formula_scores is not None else result.scores
    out = []
    for i in np.flatnonzero(~np.isnan(t["adjusted"])):
        out.append({"row": int(t["row"][i]), "l1": t["l1"][i], "l2": t["l2"][i], "l3": t["l3"][i],
                    "formula_score": float(formula[i]), "score": float(result.scores[i]),
                    "difference": float(excel_round(float(result.scores[i] - formula[i]), 2)),
                    "reason": t["adjust_reason"][i]})
    return out


def _adjustment_note(t: dict, i: int, formula) -> str:
    if "adjusted" not in t or np.isnan(t["adjusted"][i]):
        return ""
    base = f"评价调整：公式得分{float(formula[i]):g}，评定得分{float(t['adjusted'][i]):g}"
    return f"{base}（{t['adjust_reason'][i]}）" if t["adjust_reason"][i] else base


def _numbers_reason(t: dict, i: int) -> str:
    if t["reason"][i]:
        return t["reason"][i]
    method = t["method"][i]
    if method == "定性":
        return f"定性评价：{t['level'][i]}"
    if method in ("是否",):
        return "未达到目标（是/否）"
    actual, target = t["actual"][i], t["target"][i]
    unit = t["unit"][i]
    if not math.isnan(actual) and not math.isnan(target):
        return f"实际值{actual:g}{unit}，目标值{target:g}{unit}"
    if not math.isnan(actual):
        return f"实际值{actual:g}{unit}"
    return ""


def losses(result: Result) -> list[dict]:
    """Indicators scored below their points, in table order."""
    return [_loss(result, i, lost) for i, lost in _lost(result)]


def _lost(result: Result) -> list[tuple[int, float]]:
    """(index, points lost) of each indicator scored below its points, in table order."""
    points = result.model.indicators["points"]
    below = np.flatnonzero(points - result.scores > 0)  # the same subtraction, element by element
    return [(i, lost) for i, lost in zip(below.tolist(), (points[below] - result.scores[below]).tolist())
            if round(lost, 10) > 0]


def _loss(result: Result, i: int, lost: float) -> dict:
    t = result.model.indicators
    return {"row": int(t["row"][i]), "l1": t["l1"][i], "l2": t["l2"][i], "l3": t["l3"][i],
            "points": float(t["points"][i]), "score": float(result.scores[i]), "lost": round(lost, 10),
            "reason": loss_reason(result, i)}


def result_blocks(result: Result, when: datetime | None = None) -> list[tuple[str, int, int, list[list]]]:
    """Everything the pipeline writes, as (sheet, top row, left col, 2-D values)."""
    model = result.model
    when = (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    status = "通过" if result.ok else f"发现{len(result.errors)}个问题，未计算得分，见右侧“{ERRORS.title}”"
    if result.ok and result.warnings:
        status += f"（另有{len(result.warnings)}条提示，见右侧“{ERRORS.title}”）"
    margin = result_margin(result)
    facts = {
        "项目名称": model.params.get("project") if model else None,
        "评价年度": model.params.get("year") if model else None,
        "评价方案": model.profile.name if model else None,
        "计分方式": model.weighting if model else None,
        "综合得分": result.total, "评价等次": result.grade,
        "距本等次下限": margin.down_text if margin else None,
        "距上一等次": margin.up_text if margin else None,
        "决定等次的失分": margin.decisive_text if margin else None,
        "计算时间": when, "校验结果": status, "引擎版本": f"dtg_xl {__version__}",
        "数据指纹": fingerprint(model),
    }
    blocks = [(SHEET_SUMMARY, FACTS_ROW, 2, [[facts[label]] for label in FACTS])]
    error_rows = [[p.sheet, p.cell, p.message] for p in result.errors]
    error_rows += [[p.sheet, p.cell, f"{WARNING_PREFIX}：{p.message}"] for p in result.warnings]
    blocks.append(_block(ERRORS, error_rows))
    category_rows, loss_rows, budget_rows, unit_rows, adjustment_rows = [], [], [], [], []
    if result.ok:
        for c in result.categories:
            rate = c.raw_score / c.raw_points if c.raw_points else None
            category_rows.append([c.name, c.points, c.score, rate, c.raw_score, c.raw_points])
        category_rows.append(["合计", sum(c.points for c in result.categories), result.total])
        if result.budget_score is not None:
            category_rows.insert(-1, ["预算执行", model.profile.budget_score_points, result.budget_score])
        below = _lost(result)
        # rows past the block's capacity are only counted (_fill says how many): no reasons worked out
        shown = below if len(below) <= LOSSES.capacity else below[:LOSSES.capacity - 1]
        loss_rows = [[x["l1"], x["l2"], x["l3"], x["points"], x["score"], x["lost"], x["reason"]]
                     for x in (_loss(result, i, lost) for i, lost in shown)]
        loss_rows += [[None]] * (len(below) - len(shown))
        if result.budget:
            b = result.budget
            budget_rows = [[b.initial, b.added, b.adjusted, b.in_place, b.spent, b.in_place_rate / 100,
                            b.execution_rate / 100, result.budget_score]]
        unit_rows = [[u["name"], u["kind"], u["initial"], u["added"], u["adjusted"], u["in_place"],
                      u["spent"], u["in_place_rate"] / 100, u["execution_rate"] / 100] for u in result.units]
        adjustment_rows = [[x["l1"], x["l2"], x["l3"], x["formula_score"], x["score"], x["difference"], x["reason"]]
                           for x in adjustments(result)]
    blocks += [_block(CATEGORIES, category_rows), _block(LOSSES, loss_rows),
               _block(BUDGET, budget_rows), _block(UNITS, unit_rows)]
    if _has_adjustment_block(model):
        blocks.append(_block(ADJUSTMENTS, adjustment_rows))
    if model is not None and len(model.rows):
        blocks += score_column_blocks(result)
    if model is not None:
        from dtg_xl.core.baselines import rate_blocks

        blocks += rate_blocks(model.baselines)  # 基准对比.压缩率, computed from its inputs
        blocks += reference_blocks(model)
    return blocks


def source_rows(model) -> list[list]:
    """One row per resolved reference: 三级指标, cell, reference, value, where it came from."""
    t, cols = model.indicators, model.indicator_columns
    index = {int(r): i for i, r in enumerate(t["row"].tolist())}
    rows = []
    for r in sorted(model.resolved):
        for name in ("target", "actual", "given"):
            found = model.resolved[r].get(name)
            if found is not None:
                l3 = t["l3"][index[r]] if r in index else ""
                rows.append([l3, f"{SHEET_INDICATORS}!{col_letter(cols[name])}{r}", found.reference, found.value,
                             found.source])
    return rows


def reference_blocks(model) -> list[tuple[str, int, int, list[list]]]:
    """汇总's 实际值来源 and 问卷汇总 blocks, and the 专家评分 sheet's computed columns."""
    sources = model.sources
    survey = sources.survey if sources is not None else None
    blocks = [_block(SOURCES, source_rows(model)), _block(SURVEY, survey.summary_rows() if survey else [])]
    if sources is not None and sources.experts is not None:
        blocks += sources.experts.result_blocks()
    return blocks


def _block(block: Block, rows: list[list]):
    return (SHEET_SUMMARY, block.first_row, block.col, _fill(block, rows))


def _has_adjustment_block(model) -> bool:
    """Write the 评价调整 block (blank when nothing is adjusted) only into workbooks whose
    template has the 调整原因 column, so an older workbook's 汇总 stays as it was."""
    return model is not None and "adjust_reason" in model.indicator_columns


def score_column_blocks(result: Result):
    """指标体系.得分 (and 公式得分 when the header exists), one contiguous run of rows per block
    (blank when not scored)."""
    runs = _column_runs(result, "score", result.scores)
    if "formula_score" in result.model.indicator_columns:
        runs += _column_runs(result, "formula_score", result.formula_scores)
    return runs


def _column_runs(result: Result, name: str, scores):
    model = result.model
    col = model.indicator_columns[name]
    values = scores if result.ok and scores is not None else [None] * len(model.rows)
    runs, start, current = [], None, []
    for row, value in zip(model.rows.tolist(), values):
        if start is not None and row != start + len(current):
            runs.append((SHEET_INDICATORS, start, col, current))
            start, current = None, []
        if start is None:
            start = row
        current.append([None if value is None else float(value)])
    if current:
        runs.append((SHEET_INDICATORS, start, col, current))
    return runs


def block_range(block: Block) -> str:
    return (f"{col_letter(block.col)}{block.first_row}:"
            f"{col_letter(block.col + block.width - 1)}{block.last_row}")


# ---------------------------------------------------------------- how result cells are displayed
# The template formats every result cell with one of these (template._formats: output,
# output_text, output_pct).  Anything else on a result cell can show what the cell does not hold
# (a format '"75.00"' on 汇总!B7, ';;;"中"' on B8): verify reports it, evaluate and export reset it.
PLAIN_FORMATS = ("General", "0.00", "0.00%")
_PLAIN = {normalize_format(f).lower() for f in PLAIN_FORMATS}


@functools.cache
def _summary_formats() -> dict[tuple[int, int], str]:
    """(row, col) -> format of every formatted 汇总 cell: the facts' values, then each block's cells
    (the first block listing a cell decides).  Built once: the zip patch asks for every cell it writes."""
    out: dict[tuple[int, int], str] = {}
    for b in SUMMARY_BLOCKS:
        for row in range(b.first_row, b.last_row + 1):
            for col in range(b.col, b.col + b.width):
                out.setdefault((row, col), "0.00%" if col - b.col in PERCENT_COLUMNS.get(b, ()) else "0.00")
    out.update({(row, 2): "0.00" if row == FACT_ROW["综合得分"] else "General" for row in FACT_ROW.values()})
    return out


def result_format(sheet: str, row: int, col: int) -> str | None:
    """The template's own number format of a result cell; None where any plain format is the
    template's (cells outside the formatted areas, other sheets)."""
    if sheet == SHEET_SUMMARY:
        return _summary_formats().get((row, col))
    if sheet == SHEET_INDICATORS:
        return "0.00"
    return None


def _shown(code: str) -> str:
    return normalize_format(code).lower()


def display_problem(sheet: str, row: int, col: int, code: str) -> str | None:
    """Why a result cell's number format does not show its value as the template does, or None."""
    return _format_problem(result_format(sheet, row, col), code)


@functools.lru_cache(maxsize=1024)
def _format_problem(expected: str | None, code: str) -> str | None:
    """display_problem for a cell whose template format is ``expected``: a sheet has a handful of
    (expected, code) pairs, asked for once per written cell (thousands on 汇总)."""
    shown = _shown(code)
    if expected is not None and shown == _shown(expected):
        return None
    if expected is None and shown in _PLAIN:
        return None
    wanted = "常规" if (expected or "General") == "General" else expected
    return f"数字格式为“{code}”，不是模板的“{wanted}”：单元格显示的可能不是它的值"


def format_reset(sheet: str, row: int, col: int, code: str, value) -> str | None:
    """The format a written result cell gets back when its own (``code``) does not show its value as
    the template does, else None.  The zip patch calls this for each cell it writes, with the cell's
    format read from the styles part, so no sheet is parsed for it twice."""
    expected = result_format(sheet, row, col)
    if _format_problem(expected, code) is None:
        return None
    fallback = "0.00" if isinstance(value, (int, float)) and not isinstance(value, bool) else "General"
    return expected or fallback
