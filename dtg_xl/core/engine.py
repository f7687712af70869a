"""The scoring engine: a whole indicator table at once, then subtotals, total, grade, budget.

Knows nothing of Excel.  ``score_table`` takes any column mapping (a dict of arrays or a pandas
DataFrame) and calls the rule functions of ``rules`` once per method on whole columns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dtg_xl.core import rules
from dtg_xl.core.deviation import deviation_warnings, over_warnings
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.model import Model, Problem
from dtg_xl.core.policy import Policy
from dtg_xl.core.schema import EXECUTION_BASES, SHEET_UNITS, WEIGHTING_NESTED


_SPEC_METHODS = ("分档", "阶梯扣分", "偏离度", "公式")  # rows grouped by their parsed 评分标准 too


def score_table(table, policy: Policy | None = None) -> np.ndarray:
    """Final scores of every row of a checked indicator table (evaluator adjustments applied)."""
    return score_details(table, policy)[1]


def score_details(table, policy: Policy | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(公式得分, 得分) of every row: the rules' results rounded by the policy (default Excel
    ROUND to 2 dp), and the same with each 评定得分 adjustment applied (column ``adjusted``).

    Columns used: method (canonical names), points, target, actual, given, deduction, bands
    (parsed 评分标准 of 分档/阶梯扣分/偏离度/公式 rows) and, if present, adjusted.  Rows of one
    method (and one parsed 评分标准) are scored in one call.
    """
    method = np.asarray(table["method"], dtype=object)
    points = np.asarray(table["points"], dtype=float)
    actual = np.asarray(table["actual"], dtype=float)
    raw = np.full(len(method), np.nan)
    for name, idx in _groups(method):
        target = np.asarray(table["target"], dtype=float)[idx]
        if name in _SPEC_METHODS:
            specs = np.asarray(table["bands"], dtype=object)[idx]
            deducted = np.asarray(table["deduction"], dtype=float)[idx]
            for spec, sub in _groups(specs, by_identity=True):  # rows sharing one parsed 评分标准 go together
                prepared = rules.Prepared(name, points[idx][sub], target=target[sub], actual=actual[idx][sub],
                                          deducted=deducted[sub], bands=spec)
                raw[idx[sub]] = rules.score_prepared(prepared, policy)
            continue
        prepared = rules.Prepared(
            name, points[idx],
            target=target,
            actual=actual[idx],
            given=np.asarray(table["given"], dtype=float)[idx],
            deducted=np.asarray(table["deduction"], dtype=float)[idx])
        raw[idx] = rules.score_prepared(prepared, policy)
    policy = policy or rules.DEFAULT_POLICY
    formula = policy.round(raw)
    adjusted = table["adjusted"] if "adjusted" in table else np.full(len(method), np.nan)
    return formula, rules.final_scores(formula, adjusted, policy)


def _groups(values: np.ndarray, by_identity: bool = False) -> list[tuple[object, np.ndarray]]:
    """(value, row indices) for each distinct value of an object column, in first-seen order.

    One hash per row and an integer compare per group: np.unique sorts the Python objects and
    a ``column == value`` per group compares them again (0.8 s for 1M methods).  With
    ``by_identity`` rows are first grouped by object id (parse_bands returns one shared tuple
    per text), so the slow dataclass hash runs once per distinct object, not once per row.
    """
    items = values.tolist()
    keys = list(map(id, items)) if by_identity else items
    first = dict(zip(keys, items))  # key -> its first value
    distinct: dict[object, int] = {}  # value -> group number (equal values from distinct objects merge)
    code_of = {key: distinct.setdefault(value, len(distinct)) for key, value in first.items()}
    codes = np.fromiter(map(code_of.__getitem__, keys), dtype=np.intp, count=len(keys))
    return [(value, np.flatnonzero(codes == code)) for value, code in distinct.items()]


@dataclass
class Category:
    name: str
    points: float  # full points (逐级累加) or weight (分层权重) in the total
    score: float  # contribution to the total
    raw_points: float  # Σ 二级/三级 points inside the category
    raw_score: float  # Σ 三级 scores inside the category


@dataclass
class Budget:
    initial: float
    added: float
    adjusted: float
    in_place: float
    spent: float
    in_place_rate: float  # percent, 2 dp
    execution_rate: float  # percent, 2 dp

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Result:
    model: Model | None
    total: float | None = None
    grade: str | None = None
    categories: list[Category] = field(default_factory=list)
    scores: np.ndarray | None = None  # final scores (after evaluator adjustments)
    formula_scores: np.ndarray | None = None  # 公式得分: the rules' own results, before adjustments
    budget: Budget | None = None
    budget_score: float | None = None
    units: list[dict] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _percent(numerator: float, denominator: float) -> float:
    if not denominator:
        return math.nan
    return excel_round(numerator / denominator * 100, 2)


def budget_of(rows: list[dict], base: str) -> Budget:
    """Budget execution of one unit or of a sum: 调整后 = 年初 + 追加; 到位率 = 到位 / 调整后;
    执行率 = 支出 / (实际到位 or 调整后预算, by the chosen base)."""
    initial = sum(u["initial"] for u in rows)
    added = sum(u["added"] for u in rows)
    adjusted = excel_round(initial + added, 6)
    in_place = sum(u["in_place"] for u in rows)
    spent = sum(u["spent"] for u in rows)
    denominator = in_place if EXECUTION_BASES[base] == "in_place" else adjusted
    return Budget(excel_round(initial, 6), excel_round(added, 6), adjusted, excel_round(in_place, 6),
                  excel_round(spent, 6), _percent(in_place, adjusted), _percent(spent, denominator))


def categories_of(model: Model, scores: np.ndarray) -> list[Category]:
    """Per-一级 subtotals of a score column (also used to re-total with one score changed)."""
    t = model.indicators
    nested = model.weighting == WEIGHTING_NESTED
    out = []
    for l1 in dict.fromkeys(t["l1"].tolist()):
        mask = t["l1"] == l1
        raw_score = excel_round(float(scores[mask].sum()), 2)
        raw_points = excel_round(float(t["points"][mask].sum()), 2)
        if nested:
            weights = t["l1_weight"][mask]
            weight = float(weights[~np.isnan(weights)][0])
            out.append(Category(l1, weight, excel_round(weight * raw_score / 100, 2), raw_points, raw_score))
        else:
            out.append(Category(l1, raw_points, raw_score, raw_points, raw_score))
    return out


def evaluate(model: Model) -> Result:
    """Score a checked model. With errors in the model, returns them and no scores."""
    result = Result(model=model, errors=list(model.errors), warnings=list(model.warnings))
    if model.errors:
        return result
    policy = model.profile.policy
    result.formula_scores, scores = score_details(model.indicators, policy)
    result.scores = scores
    result.categories = categories_of(model, scores)
    total = sum(c.score for c in result.categories)
    if model.units:
        result.budget = budget_of(model.units, model.execution_base)
        result.units = [{"name": u["name"], "kind": u["kind"], "row": u["row"],
                         **budget_of([u], model.execution_base).as_dict()} for u in model.units]
    if model.profile.budget_score_points:
        rate = result.budget.execution_rate if result.budget else math.nan
        if math.isnan(rate):  # a budget line worth points needs a budget to execute against
            base = "实际到位" if EXECUTION_BASES[model.execution_base] == "in_place" else "调整后预算"
            result.errors.append(Problem(SHEET_UNITS, "", (
                f"预算执行分值为{model.profile.budget_score_points:g}分，但单位填报中的{base}合计为0（或没有单位），"
                f"无法计算预算执行率；请填写预算数，或在参数表把预算执行分值设为0")))
            result.scores = result.formula_scores = None
            result.categories = []
            return result
        share = 0.0 if math.isnan(rate) else min(rate / 100, 1.0)
        result.budget_score = float(policy.round(model.profile.budget_score_points * share))
        total += result.budget_score
    result.total = excel_round(total, 2)
    result.grade = model.profile.grade(result.total)
    result.warnings += deviation_warnings(model, scores)
    result.warnings += over_warnings(model, result.total)
    return result
