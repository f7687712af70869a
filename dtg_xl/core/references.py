"""References: an indicator's 实际值, 目标值 or 评定得分 taken from a figure the workbook computes.

One syntax, ``<来源>:<项目>[:<口径>]`` (a full-width ``：`` works too), resolved here and nowhere else:

========================================  ==================================================================
``单位:<单位填报表头>:<汇总方式>``          合计 / 平均 / 最大 / 最小 / 加权平均 of a 单位填报 column over every unit;
                                          加权平均 weights by 调整后预算 unless a weight column is named
                                          (``单位:满意度:加权平均:实际支出``)
``预算:<项目>``                            执行率 / 到位率 / 年初预算 / 追加预算 / 调整后预算 / 实际到位 / 实际支出:
                                          the engine's own budget figures (core/budget.py)
``基准对比:<指标>``                         that 基准对比 row's 压缩率 (core/baselines.py)
``问卷:<题目|合计>``                        满意度 of one question or of the whole 问卷 sheet (core/survey.py)
``专家:<三级指标>``                         the panel score of that 专家评分 row (core/experts.py)
========================================  ==================================================================

The model resolves a reference before ``rules.prepare``, so every door (CLI, Excel button, what-if, verify) scores
the same number and a what-if on a source cell (单位填报!G2) moves the indicator.  A reference that does not resolve
raises ``ReferenceProblem`` (a ``RuleError``) naming what is missing; the model reports it at the indicator's cell.
Every resolved value carries a ``Resolved.source`` sentence, shown on 汇总 (实际值来源) and as ``actual_source`` in
``evaluate --json``.  Formulas (``=SUM(单位填报!H2:H10)``) were not used: a workbook written headless has no cached
result for them (see baselines.py), and a formula cannot say where its number came from.

Averages are rounded with Excel's ROUND to 2 dp (the figure an evaluator writes in the table); sums to 6 dp (only
float noise).  A unit whose cell is blank makes a 单位 reference an error, never a silently smaller total.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from dtg_xl.core import rules
from dtg_xl.core.budget import budget_of
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.schema import (BUDGET_FIGURE_CELLS, SHEET_BASELINES, SHEET_EXPERTS, SHEET_SUMMARY, SHEET_SURVEY,
                                SHEET_UNITS, UNIT_COLUMNS)
from dtg_xl.xlsx.cells import cell_ref, col_letter

KIND_UNITS, KIND_BUDGET, KIND_BASELINE, KIND_SURVEY, KIND_EXPERTS = "单位", "预算", "基准对比", "问卷", "专家"
KINDS = (KIND_UNITS, KIND_BUDGET, KIND_BASELINE, KIND_SURVEY, KIND_EXPERTS)
AGGREGATES = ("合计", "平均", "最大", "最小", "加权平均")
# 预算:<项目> -> (Budget field, label, unit)
BUDGET_ITEMS = {
    "执行率": ("execution_rate", "预算执行率", "%"), "预算执行率": ("execution_rate", "预算执行率", "%"),
    "到位率": ("in_place_rate", "资金到位率", "%"), "资金到位率": ("in_place_rate", "资金到位率", "%"),
    "年初预算": ("initial", "年初预算", "万元"), "追加预算": ("added", "追加预算", "万元"),
    "调整后预算": ("adjusted", "调整后预算", "万元"), "实际到位": ("in_place", "实际到位", "万元"),
    "实际支出": ("spent", "实际支出", "万元"),
}
# an indicator named like a computed budget figure: its typed 实际值 is compared with the figure
COMPUTED_INDICATORS = (("预算执行率", "execution_rate"), ("资金到位率", "in_place_rate"), ("到位率", "in_place_rate"))
_UNIT_NUMBERS = {"年初预算": "initial", "追加预算": "added", "实际到位": "in_place", "实际支出": "spent"}


class ReferenceProblem(rules.RuleError):
    """A reference that cannot be resolved; the message says what is missing."""


@dataclass(frozen=True)
class Reference:
    kind: str
    parts: tuple[str, ...]
    text: str  # as typed, trimmed


@dataclass(frozen=True)
class Resolved:
    reference: str  # the text as typed
    value: float
    source: str  # where the value came from, for the user (Chinese)
    cells: tuple[str, ...] = ()  # the source cells, sheet!A1 or sheet!A1:A9


@dataclass
class Sources:
    """Everything a reference can point at, read by the model before the indicators."""
    units: list[dict] = field(default_factory=list)
    unit_header: list = field(default_factory=list)  # 单位填报 row 1 as read
    execution_base: str = "实际到位"
    baselines: object = None  # baselines.Baselines
    survey: object = None  # survey.Survey
    experts: object = None  # experts.Panels


def parse(value) -> Reference | None:
    """'单位:监管船舶艘次:合计' -> Reference('单位', ('监管船舶艘次', '合计')); None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for kind in KINDS:
        if len(text) > len(kind) and text.startswith(kind) and text[len(kind)] in ":：":
            rest = text[len(kind) + 1:].replace("：", ":")
            return Reference(kind, tuple(p.strip() for p in rest.split(":")), text)
    return None


def resolve(ref: Reference, sources: Sources, context: dict | None = None) -> Resolved:
    """The value of a reference, or ReferenceProblem.  ``context`` describes the referring row for the
    kinds that need it (专家: points, level, method; see experts.panel_score)."""
    if not ref.parts or not ref.parts[0]:
        raise ReferenceProblem(f"引用“{ref.text}”缺少“{ref.kind}:”之后的项目名")
    return _RESOLVERS[ref.kind](ref, sources, context or {})


def _units(ref: Reference, sources: Sources, context: dict) -> Resolved:
    usage = f"，应写成“{KIND_UNITS}:表头:汇总方式”，汇总方式为：{'、'.join(AGGREGATES)}"
    if len(ref.parts) < 2 or not ref.parts[1]:
        raise ReferenceProblem(f"引用“{ref.text}”缺少汇总方式{usage}")
    header, how = ref.parts[0], ref.parts[1]
    if how not in AGGREGATES:
        raise ReferenceProblem(f"引用“{ref.text}”的汇总方式“{how}”不可用{usage}")
    if how != "加权平均" and len(ref.parts) > 2:
        raise ReferenceProblem(f"引用“{ref.text}”多出“{':'.join(ref.parts[2:])}”（只有加权平均可指定权重列）")
    if len(ref.parts) > 3:
        raise ReferenceProblem(f"引用“{ref.text}”多出“{':'.join(ref.parts[3:])}”")
    column = _unit_column(ref, header, sources)
    if not sources.units:
        raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_UNITS}表中没有单位，无法{how}")
    values, where = _unit_values(ref, header, column, sources)
    rng = _unit_range(column, sources)
    cells = [rng]
    if how == "加权平均":
        weight_name = ref.parts[2] if len(ref.parts) > 2 and ref.parts[2] else "调整后预算"
        if weight_name == "调整后预算":
            weights = [excel_round(u["initial"] + u["added"], 6) for u in sources.units]
            if any(math.isnan(w) for w in weights):
                raise ReferenceProblem(f"引用“{ref.text}”按调整后预算加权，但有单位的年初预算或追加预算不是数字")
            cells += [_unit_range(_unit_column(ref, "年初预算", sources), sources),
                      _unit_range(_unit_column(ref, "追加预算", sources), sources)]
        else:
            weight_col = _unit_column(ref, weight_name, sources)
            weights, _ = _unit_values(ref, weight_name, weight_col, sources)
            cells.append(_unit_range(weight_col, sources))
        if any(w < 0 for w in weights):
            raise ReferenceProblem(f"引用“{ref.text}”的权重（{weight_name}）不能为负数")
        total_weight = sum(weights)
        if not total_weight:
            raise ReferenceProblem(f"引用“{ref.text}”的权重（{weight_name}）合计为0，无法加权平均")
        value = excel_round(sum(v * w for v, w in zip(values, weights)) / total_weight, 2)
        how_text = f"按{weight_name}加权平均"
    elif how == "合计":
        value, how_text = excel_round(sum(values), 6), "合计"
    elif how == "平均":
        value, how_text = excel_round(sum(values) / len(values), 2), "平均"
    else:
        value, how_text = (max(values), "最大值") if how == "最大" else (min(values), "最小值")
    n = len(sources.units)
    return Resolved(ref.text, float(value), f"{SHEET_UNITS}!{rng} {header} {n}家单位{how_text} = {_g(value)}",
                    tuple(f"{SHEET_UNITS}!{c}" for c in cells))


def _unit_column(ref: Reference, header: str, sources: Sources) -> int:
    for c, value in enumerate(sources.unit_header, start=1):
        if isinstance(value, str) and value.strip().replace("\n", "") == header:
            return c
    known = [str(v).strip() for v in sources.unit_header
             if isinstance(v, str) and v.strip() and v.strip() not in ("序号", "单位名称", "单位类别", "备注")]
    raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_UNITS}表中没有“{header}”列（现有：{'、'.join(known) or '（无）'}）")


def _unit_values(ref: Reference, header: str, column: int, sources: Sources) -> tuple[list[float], list[str]]:
    key = _UNIT_NUMBERS.get(header)
    if header in UNIT_COLUMNS and key is None:
        raise ReferenceProblem(f"引用“{ref.text}”：“{header}”不是数值列")
    values, bad = [], []
    for u in sources.units:
        v = u[key] if key else u["workload"].get(header, math.nan)
        if v is None or math.isnan(v):
            bad.append(f"{SHEET_UNITS}!{cell_ref(u['row'], column)}（{u['name'] or '未命名单位'}）")
        values.append(v)
    if bad:
        raise ReferenceProblem(f"引用“{ref.text}”：{'、'.join(bad)}为空或不是数字，请填写（没有业务量填0）")
    return values, bad


def _unit_range(column: int, sources: Sources) -> str:
    rows = [u["row"] for u in sources.units]
    letter = col_letter(column)
    return f"{letter}{min(rows)}:{letter}{max(rows)}" if rows else f"{letter}:{letter}"


def _budget(ref: Reference, sources: Sources, context: dict) -> Resolved:
    item = ref.parts[0]
    if item not in BUDGET_ITEMS or len(ref.parts) > 1:
        names = "、".join(k for k in BUDGET_ITEMS if k not in ("预算执行率", "资金到位率"))
        raise ReferenceProblem(f"引用“{ref.text}”的项目不可用，应写成“{KIND_BUDGET}:项目”，项目为：{names}")
    if not sources.units:
        raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_UNITS}表中没有单位，无法计算预算执行情况")
    bad = [u["name"] or f"第{u['row']}行" for u in sources.units
           if any(math.isnan(u[k]) for k in ("initial", "added", "in_place", "spent"))]
    if bad:
        raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_UNITS}中{'、'.join(bad)}的预算数不完整，无法计算")
    name, label, unit = BUDGET_ITEMS[item]
    b = budget_of(sources.units, sources.execution_base)
    value = getattr(b, name)
    if math.isnan(value):
        raise ReferenceProblem(f"引用“{ref.text}”：分母为0，无法计算{label}")
    n = len(sources.units)
    if name == "execution_rate":
        den = "实际到位" if sources.execution_base == "实际到位" else "调整后预算"
        den_value = b.in_place if den == "实际到位" else b.adjusted
        how = f"实际支出{_g(b.spent)} ÷ {den}{_g(den_value)}"
    elif name == "in_place_rate":
        how = f"实际到位{_g(b.in_place)} ÷ 调整后预算{_g(b.adjusted)}"
    else:
        how = f"{n}家单位合计"
    cell = BUDGET_FIGURE_CELLS.get(name)
    where = f"{SHEET_SUMMARY}!{cell} " if cell else ""
    return Resolved(ref.text, float(value), f"{where}{label} = {how} = {_g(value)}{unit}（{SHEET_UNITS}{n}家单位）",
                    ((f"{SHEET_SUMMARY}!{cell}",) if cell else ()))


def _baseline(ref: Reference, sources: Sources, context: dict) -> Resolved:
    baselines = sources.baselines
    name = ":".join(ref.parts)
    if baselines is None or not baselines.columns:
        raise ReferenceProblem(f"引用“{ref.text}”：工作簿中没有可用的“{SHEET_BASELINES}”工作表")
    found = baselines.by_name().get(name)
    if found is None:
        known = "、".join(b.name for b in baselines.rows if b.name) or "（无）"
        raise ReferenceProblem(f"引用的“{name}”不在{SHEET_BASELINES}表中（已有：{known}）")
    where = cell_ref(found.row, baselines.columns["name"])
    if math.isnan(found.rate):
        raise ReferenceProblem(f"引用的{SHEET_BASELINES}“{name}”无法计算压缩率（见{SHEET_BASELINES}!{where}）")
    rate_cell = cell_ref(found.row, baselines.columns["rate"]) if "rate" in baselines.columns else where
    return Resolved(ref.text, float(found.rate),
                    f"{SHEET_BASELINES}!{rate_cell} 压缩率 =（基准值{_g(found.base)} − 当年值{_g(found.current)}）"
                    f"÷ 基准值 × 100 = {_g(found.rate)}%", (f"{SHEET_BASELINES}!{rate_cell}",))


def _survey(ref: Reference, sources: Sources, context: dict) -> Resolved:
    if sources.survey is None:  # survey.Survey (that module imports this one, not the reverse)
        raise ReferenceProblem(f"引用“{ref.text}”：工作簿中没有“{SHEET_SURVEY}”工作表或其中没有答卷")
    return sources.survey.resolve(ref)


def _experts(ref: Reference, sources: Sources, context: dict) -> Resolved:
    if sources.experts is None:  # experts.Panels
        raise ReferenceProblem(f"引用“{ref.text}”：工作簿中没有“{SHEET_EXPERTS}”工作表或其中没有评分")
    return sources.experts.resolve(ref, context)


_RESOLVERS = {KIND_UNITS: _units, KIND_BUDGET: _budget, KIND_BASELINE: _baseline, KIND_SURVEY: _survey,
              KIND_EXPERTS: _experts}


def computed_figure(l3: str) -> str | None:
    """The Budget field an indicator of this name reports (预算执行率 → execution_rate), or None."""
    for word, name in COMPUTED_INDICATORS:
        if word in l3:
            return name
    return None


def _g(value: float) -> str:
    return f"{value:.10g}"
