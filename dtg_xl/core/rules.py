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
from dtg_xl.core.values import Kind, RuleError, RuleErrors, cell_problem, each_error, raise_all  # noqa: F401
# (RuleErrors, each_error: used by the model and the UDFs as rules.*)
from dtg_xl.core.values import number as _number
from dtg_xl.xlsx.cells import is_blank
from dtg_xl.core.policy import Policy

DEFAULT_POLICY = Policy()

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
    "阶梯扣分": "stepped",
    "偏离度": "deviation",
    "公式": "formula",
}
_BY_NAME = {**{k: k for k in METHODS}, **{v: k for k, v in METHODS.items()}}

# 定性 levels and the share of points the evaluator's score must fall in: [low, high) or [low, high]
# (these are the default 定性档次 80/60; a policy's levels() gives other bands such as 80/50)
LEVELS = DEFAULT_POLICY.levels()
YES = ("是", "yes", "y", "true", "1", "达成", "有")
NO = ("否", "no", "n", "false", "0", "未达成", "无")


def canonical_method(name) -> str:
    """'正向' or 'positive' -> '正向'; raises RuleError for an unknown name."""
    if type(name) is str:  # a sheet repeats a few spellings on every row (three lookups a row)
        found = _SPELLINGS.get(name)
        if found:
            return found
    problem = cell_problem(name)
    if problem:
        raise RuleError(f"评分方法：{problem}", "method")
    key = str(name).strip() if name is not None else ""
    found = _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if not found:
        raise RuleError(f"未知的评分方法“{key}”，可用：{'、'.join(METHODS)}")
    if type(name) is str and len(_SPELLINGS) < 1024:  # bounded: a crafted sheet may spell it a million ways
        _SPELLINGS[name] = found
    return found


_SPELLINGS: dict[str, str] = {}  # a method cell's exact text -> its canonical name (only names that resolve)


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


def positive(points, target, actual, capped=True):
    """正向 (≥): full at or above target, else points × actual / target.  With ``capped``
    False (超额完成=不封顶) points × actual / target above the target too (a zero target: full)."""
    a = _floor0(actual)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = points * a / target
        if capped:
            return np.where(a >= target, points, ratio)
        return np.where(np.asarray(target) == 0, points, np.where(a >= target, np.maximum(ratio, points), ratio))


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


def equal(points, target, actual, capped=True):
    """等于: a zero target scores full only when actual ≤ 0; otherwise as 正向."""
    a = _floor0(actual)
    return np.where(np.asarray(target) == 0, np.where(a <= 0, points, 0.0), positive(points, target, a, capped))


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


def qualitative_problem(points, level, given, levels=None) -> str | None:
    """Why a 定性 score is not acceptable for its level (under 定性档次 ``levels``), or None."""
    levels = levels or LEVELS
    if level not in levels:
        return f"定性等级应为：{'、'.join(levels)}"
    low, high = levels[level]
    lo, hi = excel_round(low * points, 2), excel_round(high * points, 2)
    closed = high == 1.0
    inside = lo <= given <= hi if closed else lo <= given < hi
    if not inside:
        right = "]" if closed else ")"
        return f"“{level}”的评定得分应在[{lo:g}, {hi:g}{right}之间，实际为{given:g}"
    return None


# ---------------------------------------------------------------- 阶梯扣分 and 偏离度
PARTIAL_CHOICES = ("舍去", "进一", "按比例")
PARTIAL_DEFAULT = "舍去"  # "每降低5%扣1分": a fall smaller than a whole step deducts nothing (literal reading)
STEPPED_EXAMPLE = "起扣线=90；步长=5；每步扣分=1"
DEVIATION_EXAMPLE = "±10%:100%；±15%:60%；±20%:20%"


@dataclass(frozen=True)
class Steps:
    """阶梯扣分: full points at or beyond ``threshold`` (None = the row's 目标值); each ``step``
    short of it deducts ``per_step`` points, never below 0."""
    threshold: float | None
    step: float
    per_step: float
    reverse: bool = False  # 方向=反向: lower is better, the shortfall is actual − threshold
    partial: str = PARTIAL_DEFAULT


_KEYS = {"起扣线": "threshold", "满分线": "threshold", "步长": "step", "每步扣分": "per_step",
         "方向": "direction", "不足一步": "partial"}
_KV = re.compile(r"^\s*([^=＝:：]+?)\s*[=＝:：]\s*(.+?)\s*$")


def parse_steps(text) -> Steps:
    """Parse a 阶梯扣分 cell: ``起扣线=90；步长=5；每步扣分=1`` (optional ``方向=反向``,
    ``不足一步=舍去|进一|按比例``; without 起扣线 the row's 目标值 is the threshold)."""
    return _parse_steps(str(text or ""))


@functools.lru_cache(maxsize=1024)
def _parse_steps(text: str) -> Steps:
    bad = f"阶梯扣分标准应写成“{STEPPED_EXAMPLE}”（可加“；方向=反向”“；不足一步=按比例”）"
    items = [t for t in re.split(r"[;；\n,，]", text) if t.strip()]
    if not items:
        raise RuleError(f"阶梯扣分标准为空，{bad}")
    found: dict[str, str] = {}
    for item in items:
        m = _KV.match(item)
        if not m or m.group(1) not in _KEYS:
            raise RuleError(f"“{item.strip()}”无法识别，{bad}")
        found[_KEYS[m.group(1)]] = m.group(2).rstrip("%分").strip()
    numbers = {}
    for key, label in (("threshold", "起扣线"), ("step", "步长"), ("per_step", "每步扣分")):
        if key not in found:
            if key == "threshold":
                continue
            raise RuleError(f"缺少“{label}”，{bad}")
        try:
            numbers[key] = float(found[key])
        except ValueError:
            raise RuleError(f"{label}应为数字，实际为“{found[key]}”；{bad}") from None
        if not math.isfinite(numbers[key]):
            raise RuleError(f"{label}应为有限数字；{bad}")
    if numbers["step"] <= 0 or numbers["per_step"] <= 0:
        raise RuleError(f"步长和每步扣分应大于0；{bad}")
    direction = found.get("direction", "正向")
    if direction not in ("正向", "反向"):
        raise RuleError(f"方向应为“正向”或“反向”，实际为“{direction}”")
    partial = found.get("partial", PARTIAL_DEFAULT)
    if partial not in PARTIAL_CHOICES:
        raise RuleError(f"不足一步应为：{'、'.join(PARTIAL_CHOICES)}，实际为“{partial}”")
    return Steps(numbers.get("threshold"), numbers["step"], numbers["per_step"], direction == "反向", partial)


def stepped(points, steps: Steps, target, actual):
    """阶梯扣分: points − (steps short of the threshold) × per-step deduction, never below 0.

    The step count is taken at 9 decimals first (so (90 − 80) / 5 is exactly 2, not 1.9999…),
    then a partial step counts by ``steps.partial``: 舍去 (floor), 进一 (ceil) or 按比例."""
    a = _floor0(actual)
    threshold = np.asarray(target, dtype=float) if steps.threshold is None else steps.threshold
    short = (a - threshold) if steps.reverse else (threshold - a)
    with np.errstate(divide="ignore", invalid="ignore"):
        count = excel_round(np.maximum(short, 0.0) / steps.step, 9)
    if steps.partial == "舍去":
        count = np.floor(count)
    elif steps.partial == "进一":
        count = np.ceil(count)
    return np.maximum(np.asarray(points, dtype=float) - count * steps.per_step, 0.0)


@dataclass(frozen=True)
class DeviationBand:
    bound: float  # |actual − target| / target in %, inclusive upper bound
    share: float  # share of the points, 0..1


_DEV_ITEM = re.compile(r"^\s*(?:±|\+-|\+/-|≤|<=)?\s*(\d+(?:\.\d+)?)\s*%?\s*[:：]\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_deviation(text) -> tuple[DeviationBand, ...]:
    """Parse a 偏离度 cell: ``±10%:100%；±15%:60%；±20%:20%`` — within ±10% of the target (inclusive)
    full points, within ±15% 60%, within ±20% 20%, beyond the last band 0."""
    return _parse_deviation(str(text or ""))


@functools.lru_cache(maxsize=1024)
def _parse_deviation(text: str) -> tuple[DeviationBand, ...]:
    items = [t for t in re.split(r"[;；\n]", text) if t.strip()]
    if not items:
        raise RuleError(f"偏离度标准为空，应写成“{DEVIATION_EXAMPLE}”")
    bands = []
    for item in items:
        m = _DEV_ITEM.match(item)
        if not m:
            raise RuleError(f"偏离度档“{item.strip()}”格式不对，应写成“±偏离%:得分比例”，如“{DEVIATION_EXAMPLE}”")
        share = float(m.group(2)) / (100 if m.group(3) else 1)
        if not 0 <= share <= 1:
            raise RuleError(f"偏离度档“{item.strip()}”的得分比例应在0到100%之间")
        bands.append(DeviationBand(float(m.group(1)), share))
    return tuple(sorted(bands, key=lambda b: b.bound))


def deviation(points, bands: tuple[DeviationBand, ...], target, actual):
    """偏离度: the share of the first (narrowest) band that |actual − target| / target × 100 is
    within (edges inclusive, compared at 9 decimals); beyond the last band 0."""
    t = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = excel_round(np.abs(np.asarray(actual, dtype=float) - t) * 100 / t, 9)
    share = np.select([dev <= b.bound for b in bands], [b.share for b in bands], default=0.0)
    return np.asarray(points, dtype=float) * share


def custom(points, formula, target, actual, deducted):
    """公式: the row's own Excel formula over 分值/目标值/实际值/扣分 (dtg_xl.core.formula)."""
    from dtg_xl.core.formula import evaluate_rows  # lazy: workbooks without 公式 never load it

    return evaluate_rows(formula, points, target, actual, deducted)


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
    bands: tuple[Band, ...] = ()  # 分档 bands; the parsed Steps / DeviationBands / Formula of the new methods
    adjusted: float = math.nan  # 评定得分 on a row that is not 定性: the evaluator's final score


# methods whose 评分标准 is parsed into ``bands`` (by text, cached: equal texts share one object)
_SPEC_PARSERS = {"分档": parse_bands, "阶梯扣分": parse_steps, "偏离度": parse_deviation}


def _spec(method, criteria):
    if method == "公式":
        from dtg_xl.core.formula import FormulaError, compile_formula  # lazy: see dtg_xl.core.formula

        try:
            return compile_formula(criteria)
        except FormulaError as exc:
            raise RuleError(str(exc), exc.field) from None
    try:
        return _SPEC_PARSERS[method](criteria)
    except RuleError as exc:
        raise RuleError(str(exc), "criteria") from None


def prepare(method, points, target=None, actual=None, level=None, given=None,
            deducted=None, bands=None, adjust_reason=None, policy: Policy | None = None) -> Prepared:
    """Check one indicator's raw inputs for its method; raises RuleError (with the field), or RuleErrors when
    several independent inputs are wrong (each with its field: a row with a bad 分值 and a bad 实际值 is reported
    at both cells at once).

    ``given`` (评定得分) on a 定性 row is the level's score; on any other row it is the
    evaluator's adjustment of the rule's result, which needs ``adjust_reason`` (调整原因)."""
    policy = policy or DEFAULT_POLICY
    errors: list[RuleError] = []  # plain try/except, not a helper per input: prepare runs once per row
    try:
        points_value = _points(points)
    except RuleError as exc:
        errors.append(exc)
        points_value = math.nan  # the checks that need it wait for the next run; the rest go on
    try:
        name = canonical_method(method)
    except RuleError as exc:
        errors.append(exc)
        name = None
    p = None
    if name is not None:
        try:
            p = _prepare_method(name, points_value, target, actual, level, given, deducted, bands, policy)
        except RuleError as exc:
            errors.append(exc)
    adjusted = math.nan
    if name not in (None, "定性") and not _blank(given):
        adjusted = _read(errors, given, "评定得分", "given", Kind.POINTS)
        if adjusted < 0:
            errors.append(RuleError("评定得分不能为负数", "given"))
        elif policy.capped and adjusted > points_value:
            errors.append(RuleError(f"评定得分{adjusted:g}超过分值{points_value:g}（超额完成为“封顶”）", "given"))
        if _blank(adjust_reason):
            errors.append(RuleError("本行填写了评定得分（评价人调整得分），须在“调整原因”列说明调整原因",
                                    "adjust_reason"))
    if errors:
        raise_all(errors)
    if adjusted != adjusted:
        return p
    return Prepared(p.method, p.points, p.target, p.actual, p.given, p.deducted, p.bands, adjusted)


def _read(errors: list, value, what: str, field: str, kind: Kind = Kind.SHOWN) -> float:
    """``number``, with its RuleError appended to ``errors`` (NaN returned) instead of raised."""
    try:
        return _number(value, what, field, kind)
    except RuleError as exc:
        errors.append(exc)
        return math.nan


def _parsed_spec(errors: list, method, criteria):
    try:
        return _spec(method, criteria)
    except RuleError as exc:
        errors.append(exc)
        return None


def _points(points) -> float:
    value = _number(points, "分值", "points", Kind.POINTS)
    if value < 0:
        raise RuleError("分值不能为负数", "points")
    return value


def _prepare_method(method, points, target, actual, level, given, deducted, bands, policy) -> Prepared:
    """The method's own inputs (``points`` already read: NaN when its cell is wrong, then the checks that
    need it are left to the next run); every independent problem is collected (see ``prepare``)."""
    errors: list[RuleError] = []
    if method == "定性":
        given_value = _read(errors, given, "评定得分", "given", Kind.POINTS)
        levels = policy.levels()
        text = str(level or "").strip()
        if text not in levels or not (math.isnan(given_value) or math.isnan(points)):
            problem = qualitative_problem(points, text, given_value, levels)
            if problem:
                errors.append(RuleError(problem, "level" if text not in levels else "given"))
        raise_all(errors)
        return Prepared(method, points, given=given_value)
    if method == "扣分":
        d = 0.0 if _blank(deducted) else _number(deducted, "扣分", "deduction", Kind.POINTS)
        if d < 0:
            raise RuleError("扣分不能为负数", "deduction")
        return Prepared(method, points, deducted=d)
    if method == "是否":
        t = 1.0 if _blank(target) else _yes_no(errors, target, "目标值", "target")
        a = _yes_no(errors, actual, "实际值", "actual")
        raise_all(errors)
        return Prepared(method, points, target=t, actual=a)
    if method == "分档":
        spec = _parsed_spec(errors, method, bands)
        a = _read(errors, actual, "实际值", "actual")
        raise_all(errors)
        return Prepared(method, points, actual=a, bands=spec)
    if method == "公式":
        return _prepare_formula(points, target, actual, deducted, bands, policy)
    if method == "阶梯扣分":
        spec = _parsed_spec(errors, method, bands)
        a = _read(errors, actual, "实际值", "actual")
        if _blank(target) and not (spec is not None and spec.threshold is None):
            t = math.nan  # 起扣线 given (or the 评分标准 unreadable, reported): 目标值 is not needed
        else:
            t = _read(errors, target, "目标值", "target")
        raise_all(errors)
        return Prepared(method, points, target=t, actual=a, bands=spec)
    t = _read(errors, target, "目标值", "target")
    a = _read(errors, actual, "实际值", "actual")
    if t < 0:
        errors.append(RuleError("目标值不能为负数", "target"))
    if method == "偏离度":
        if t == 0:
            errors.append(RuleError("偏离度法的目标值应大于0（偏离度 = |实际值 − 目标值| ÷ 目标值）", "target"))
        spec = _parsed_spec(errors, method, bands)
        raise_all(errors)
        return Prepared(method, points, target=t, actual=a, bands=spec)
    if errors:
        raise_all(errors)
    if method == "排名" and (a < 1 or t < 1):
        raise RuleError("排名和目标名次应不小于1", "actual" if a < 1 else "target")
    if method == "要素" and (t <= 0 or a > t):
        raise RuleError("要素法的目标值为要点总数（大于0），实际值为满足的要点数（不超过总数）",
                        "target" if t <= 0 else "actual")
    return Prepared(method, points, target=t, actual=a)


def _yes_no(errors: list, value, label: str, field: str) -> float:
    try:
        return yes_no_value(value)
    except RuleError as exc:
        errors.append(RuleError(f"{label}{exc}", field))
        return math.nan


def _prepare_formula(points, target, actual, deducted, criteria, policy) -> Prepared:
    from dtg_xl.core.formula import FIELDS, FormulaError, evaluate_one

    errors: list[RuleError] = []
    spec = _parsed_spec(errors, "公式", criteria)
    raw = {"分值": points, "目标值": target, "实际值": actual, "扣分": deducted}
    kinds = {"分值": Kind.POINTS, "目标值": Kind.SHOWN, "实际值": Kind.SHOWN, "扣分": Kind.POINTS}
    values = {label: (math.nan if _blank(raw[label]) else _read(errors, raw[label], label, FIELDS[label],
                                                                kinds[label]))
              for label in FIELDS}
    raise_all(errors)
    if math.isnan(points):  # its cell is wrong (reported by prepare): the formula runs once it is fixed
        return Prepared("公式", points, bands=spec)
    try:
        value = evaluate_one(spec, values)
    except FormulaError as exc:
        raise RuleError(str(exc), exc.field) from None
    if value < 0:
        raise RuleError(f"公式结果{value:g}为负数；如需“扣完为止”请写成 =MAX(0, …)", "criteria")
    if policy.capped and value > points + 1e-9:
        raise RuleError(f"公式结果{value:g}超过分值{points:g}（超额完成为“封顶”）；请写成 =MIN(分值, …)", "criteria")
    return Prepared("公式", points, target=values["目标值"], actual=values["实际值"],
                    deducted=0.0 if math.isnan(values["扣分"]) else values["扣分"], bands=spec)


def score_prepared(p: Prepared, policy: Policy | None = None):
    """The unrounded score of checked inputs (scalars or, from the engine, arrays), before any
    evaluator adjustment: the rule's own result (公式得分)."""
    capped = (policy or DEFAULT_POLICY).capped
    if p.method == "定性":
        return qualitative(p.points, p.given)
    if p.method == "扣分":
        return deduction(p.points, p.deducted)
    if p.method == "分档":
        return tiered(p.points, p.bands, p.actual)
    if p.method == "阶梯扣分":
        return stepped(p.points, p.bands, p.target, p.actual)
    if p.method == "偏离度":
        return deviation(p.points, p.bands, p.target, p.actual)
    if p.method == "公式":
        return custom(p.points, p.bands, p.target, p.actual, p.deducted)
    if p.method in ("正向", "等于"):
        return RULES[p.method](p.points, p.target, p.actual, capped)
    return RULES[p.method](p.points, p.target, p.actual)


def final_scores(formula_scores, adjusted, policy: Policy | None = None):
    """Scores after evaluator adjustments: the rounded 评定得分 where one is given, else the
    (already rounded) rule result."""
    policy = policy or DEFAULT_POLICY
    adjusted = np.asarray(adjusted, dtype=float)
    return np.where(np.isnan(adjusted), formula_scores, policy.round(np.nan_to_num(adjusted)))


def score_one(method, points, target=None, actual=None, level=None, given=None,
              deducted=None, bands=None, adjust_reason=None, policy: Policy | None = None) -> float:
    """Score one indicator, rounded by the policy (default: Excel's ROUND(…, 2)), after an
    evaluator adjustment if ``given`` is filled on a row that is not 定性.
    Raises RuleError with a Chinese message."""
    policy = policy or DEFAULT_POLICY
    prepared = prepare(method, points, target, actual, level, given, deducted, bands, adjust_reason, policy)
    score = policy.round(float(score_prepared(prepared, policy)))
    return float(final_scores(score, prepared.adjusted, policy))


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
