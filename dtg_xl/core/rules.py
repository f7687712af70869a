"""Scoring rules for one indicator or a whole column of indicators.

Every rule is written once, with numpy operations that take scalars or arrays alike: the
vectorised engine calls them on whole columns, ``score_one`` (behind the Excel UDFs) on one
row.  Sources: domain.md §1.4 (定量/定性), §3, §5 (扣分, 分档, 要素).
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.values import Kind, RuleError, cell_problem
from dtg_xl.core.values import number as _number
from dtg_xl.xlsx.cells import is_blank

# canonical (Chinese) method name -> English alias
METHODS = {
    "正向": "positive",
    "反向": "reverse",
    "反向比值": "reverse_ratio",
    "等于": "equal",
    "定性": "qualitative",
    "扣分": "deduction",
    "分档": "tiered",
    "是否": "yes_no",
    "排名": "rank",
    "要素": "checkpoints",
}
_BY_NAME = {**{k: k for k in METHODS}, **{v: k for k, v in METHODS.items()}}

# 定性 levels and the share of points the evaluator's score must fall in: [low, high) or [low, high]
LEVELS = {
    "达成年度指标": (0.8, 1.0),
    "部分达成年度指标并具有一定效果": (0.6, 0.8),
    "未达成年度指标且效果较差": (0.0, 0.6),
}
YES = ("是", "yes", "y", "true", "1", "达成", "有")
NO = ("否", "no", "n", "false", "0", "未达成", "无")


def canonical_method(name) -> str:
    """'正向' or 'positive' -> '正向'; raises RuleError for an unknown name."""
    problem = cell_problem(name)
    if problem:
        raise RuleError(f"评分方法：{problem}", "method")
    key = str(name).strip() if name is not None else ""
    found = _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if not found:
        raise RuleError(f"未知的评分方法“{key}”，可用：{'、'.join(METHODS)}")
    return found


def yes_no_value(value) -> float:
    """是/否 (and common spellings) -> 1.0 / 0.0."""
    problem = cell_problem(value)
    if problem:
        raise RuleError(problem)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    text = str(value).strip().lower() if value is not None else ""
    if text in YES:
        return 1.0
    if text in NO:
        return 0.0
    raise RuleError(f"应填“是”或“否”，实际为“{value}”")


# ---------------------------------------------------------------- 分档 bands
@dataclass(frozen=True)
class Band:
    lower: float  # inclusive lower bound
    share: float  # share of the points, 0..1


_BAND_ITEM = re.compile(r"^\s*(?:≥|>=)?\s*(-?\d+(?:\.\d+)?)\s*[:：]\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_bands(text) -> tuple[Band, ...]:
    """Parse a 分档 cell: ``≥95:100%；≥90:80%；≥80:60%`` (or ``95:1; 90:0.8``).

    Items are separated by ；or ; and each is ``下限:得分比例``; the lower bound is inclusive,
    the share is a percentage (with %) or a fraction.  A value below every band scores 0.
    """
    return _parse_bands(str(text or ""))


@functools.lru_cache(maxsize=1024)
def _parse_bands(text: str) -> tuple[Band, ...]:
    # cached: rows with the same text share one (immutable) tuple, which the engine groups by id
    items = [t for t in re.split(r"[;；\n]", text) if t.strip()]
    if not items:
        raise RuleError("分档标准为空，应写成“≥95:100%；≥90:80%；≥80:60%”")
    bands = []
    for item in items:
        m = _BAND_ITEM.match(item)
        if not m:
            raise RuleError(f"分档“{item.strip()}”格式不对，应写成“≥下限:得分比例”，如“≥90:80%”")
        share = float(m.group(2)) / (100 if m.group(3) else 1)
        if not 0 <= share <= 1:
            raise RuleError(f"分档“{item.strip()}”的得分比例应在0到100%之间")
        bands.append(Band(float(m.group(1)), share))
    return tuple(sorted(bands, key=lambda b: b.lower, reverse=True))


# ---------------------------------------------------------------- the rules (scalar or array)
def _floor0(actual):
    return np.maximum(np.asarray(actual, dtype=float), 0.0)  # negative actuals count as 0


def positive(points, target, actual):
    """正向 (≥): full at or above target, else points × actual / target."""
    a = _floor0(actual)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(a >= target, points, points * a / target)


def reverse(points, target, actual):
    """反向 (≤): full at or below target, linear to 0 at 2 × target."""
    a = _floor0(actual)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        partial = points * (1 - (a - target) / target)
    return np.where(a <= target, points, np.where(a >= 2 * np.asarray(target), 0.0, partial))


def reverse_ratio(points, target, actual):
    """反向比值: points × target / actual, capped at points."""
    a = _floor0(actual)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(a <= target, points, points * target / a)


def equal(points, target, actual):
    """等于: a zero target scores full only when actual ≤ 0; otherwise as 正向."""
    a = _floor0(actual)
    return np.where(np.asarray(target) == 0, np.where(a <= 0, points, 0.0), positive(points, target, a))


def deduction(points, deducted):
    """扣分: points − Σ deductions, never below 0 (扣完为止)."""
    return np.maximum(np.asarray(points, dtype=float) - np.nan_to_num(deducted), 0.0)


def yes_no(points, target, actual):
    """是否: full when the answer equals the target (1 = 是, 0 = 否)."""
    return np.where(np.asarray(actual) == np.asarray(target), points, 0.0)


def rank(points, target, actual):
    """排名: rank ≤ target → full, else 0."""
    return np.where(np.asarray(actual) <= np.asarray(target), points, 0.0)


def checkpoints(points, target, actual):
    """要素: share of satisfied check points (actual of target), capped at full."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return points * np.clip(_floor0(actual) / target, 0.0, 1.0)


def tiered(points, bands: tuple[Band, ...], actual):
    """分档: the share of the highest band whose inclusive lower bound the value reaches."""
    a = _floor0(actual)
    share = np.select([a >= b.lower for b in bands], [b.share for b in bands], default=0.0)
    return points * share


def qualitative(points, given):
    """定性: the evaluator's score, already checked against its level's band."""
    return np.asarray(given, dtype=float) + 0 * np.asarray(points, dtype=float)


def qualitative_problem(points, level, given) -> str | None:
    """Why a 定性 score is not acceptable for its level, or None."""
    if level not in LEVELS:
        return f"定性等级应为：{'、'.join(LEVELS)}"
    low, high = LEVELS[level]
    lo, hi = excel_round(low * points, 2), excel_round(high * points, 2)
    closed = high == 1.0
    inside = lo <= given <= hi if closed else lo <= given < hi
    if not inside:
        right = "]" if closed else ")"
        return f"“{level}”的评定得分应在[{lo:g}, {hi:g}{right}之间，实际为{given:g}"
    return None


# ---------------------------------------------------------------- one indicator
def number(value, what: str, field: str | None = None, kind: Kind = Kind.SHOWN) -> float:
    """A cell value as a finite float ('95%' reads as 95 for the default kind), or RuleError
    naming the input; the one reading is ``dtg_xl.core.values.number``."""
    return _number(value, what, field, kind)


def _blank(value) -> bool:
    return is_blank(value)


@dataclass(frozen=True)
class Prepared:
    """One indicator's inputs, checked and converted to what the rules take."""
    method: str
    points: float
    target: float = math.nan
    actual: float = math.nan
    given: float = math.nan
    deducted: float = 0.0
    bands: tuple[Band, ...] = ()


def prepare(method, points, target=None, actual=None, level=None, given=None,
            deducted=None, bands=None) -> Prepared:
    """Check one indicator's raw inputs for its method; raises RuleError (with the field)."""
    method = canonical_method(method)
    points = number(points, "分值", "points", Kind.POINTS)
    if points < 0:
        raise RuleError("分值不能为负数", "points")
    if method == "定性":
        given_value = number(given, "评定得分", "given", Kind.POINTS)
        problem = qualitative_problem(points, str(level or "").strip(), given_value)
        if problem:
            raise RuleError(problem, "level" if str(level or "").strip() not in LEVELS else "given")
        return Prepared(method, points, given=given_value)
    if method == "扣分":
        d = 0.0 if _blank(deducted) else number(deducted, "扣分", "deduction", Kind.POINTS)
        if d < 0:
            raise RuleError("扣分不能为负数", "deduction")
        return Prepared(method, points, deducted=d)
    if method == "是否":
        try:
            t = 1.0 if _blank(target) else yes_no_value(target)
        except RuleError as exc:
            raise RuleError(f"目标值{exc}", "target") from None
        try:
            a = yes_no_value(actual)
        except RuleError as exc:
            raise RuleError(f"实际值{exc}", "actual") from None
        return Prepared(method, points, target=t, actual=a)
    if method == "分档":
        try:
            bands_parsed = parse_bands(bands)
        except RuleError as exc:
            raise RuleError(str(exc), "criteria") from None
        return Prepared(method, points, actual=number(actual, "实际值", "actual"), bands=bands_parsed)
    t = number(target, "目标值", "target")
    a = number(actual, "实际值", "actual")
    if t < 0:
        raise RuleError("目标值不能为负数", "target")
    if method == "排名" and (a < 1 or t < 1):
        raise RuleError("排名和目标名次应不小于1", "actual" if a < 1 else "target")
    if method == "要素" and (t <= 0 or a > t):
        raise RuleError("要素法的目标值为要点总数（大于0），实际值为满足的要点数（不超过总数）",
                        "target" if t <= 0 else "actual")
    return Prepared(method, points, target=t, actual=a)


def score_prepared(p: Prepared):
    """The unrounded score of checked inputs (scalars or, from the engine, arrays)."""
    if p.method == "定性":
        return qualitative(p.points, p.given)
    if p.method == "扣分":
        return deduction(p.points, p.deducted)
    if p.method == "分档":
        return tiered(p.points, p.bands, p.actual)
    return RULES[p.method](p.points, p.target, p.actual)


def score_one(method, points, target=None, actual=None, level=None, given=None,
              deducted=None, bands=None) -> float:
    """Score one indicator, rounded as Excel's ROUND(…, 2). Raises RuleError with a Chinese message."""
    prepared = prepare(method, points, target, actual, level, given, deducted, bands)
    return excel_round(float(score_prepared(prepared)), 2)


# (points, target, actual) rules, by canonical name
RULES = {
    "正向": positive,
    "反向": reverse,
    "反向比值": reverse_ratio,
    "等于": equal,
    "排名": rank,
    "要素": checkpoints,
    "是否": yes_no,
}
