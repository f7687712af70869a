"""The one reading of a cell value as a number, used by every reader (指标体系, 单位填报, 参数,
基准对比, 分配参数, unit forms).

What a number means depends on what the cell is for (``Kind``):

* ``SHOWN`` – a quantity that may be a percentage (目标值、实际值、权重、业务量): a cell that shows
  ``95%`` reads as 95, whether the user typed the text ``95%`` or Excel stored 0.95 with a percent
  number format (the book marks such cells as ``cells.Percent``);
* ``FRACTION`` – a share (分配因素权重、等次系数): ``95%`` reads as 0.95, the stored value;
* ``MONEY`` – 万元 amounts: a percentage is refused (``100%`` in 年初预算 is never 100 万元);
* ``POINTS`` – 分值、评定得分、扣分、总分: a percentage is refused as well (a share of what?).

Text is read the way a clerk types it: full-width forms (``１,２３４．５``, ``９５％``, ``－３``) are
folded by Unicode NFKC, thousands separators are accepted when they group by three (``1,234.5``)
and refused otherwise (``1,5`` could be a decimal comma), and anything else (``1e400``, ``NaN``,
``¥12``, Arabic-Indic digits that Python's float() would accept) is refused.  A cell that holds an
error value, a logical value, a date or a formula without a cached result is reported as what it
is.  Magnitudes are bounded (|x| ≤ 10^15, Excel's 15 significant digits), so an overflow is
reported at the input cell, not later at a result.

Written by hand: the rules are the workbook contract's, no library parses "what a clerk means".
"""
from __future__ import annotations

import datetime as _dt
import enum
import math
import numbers
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import Percent, Uncalculated, error_literal

MAX_MAGNITUDE = 1e15  # Excel keeps 15 significant digits; anything larger is not a typed amount


class RuleError(DtgError):
    """An input that a rule cannot score; the message is for the user, in Chinese.

    ``field`` names the input it is about (an internal column name such as ``actual``), so a
    table validator can point at the cell.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RuleErrors(RuleError):
    """Several problems of one row's independent inputs, each a RuleError with its own ``field`` (cell), so a
    table validator reports every one at once; its own message joins them (for a door that shows one text)."""

    def __init__(self, errors):
        flat = tuple(e for exc in errors for e in each_error(exc))
        super().__init__("；".join(str(e) for e in flat), flat[0].field if flat else None)
        self.errors = flat


def each_error(exc: RuleError) -> tuple[RuleError, ...]:
    """The single problems a RuleError stands for (one, or each of a RuleErrors)."""
    return exc.errors if isinstance(exc, RuleErrors) else (exc,)


def raise_all(errors: list[RuleError]) -> None:
    """Raise the problems collected for one row's independent inputs: nothing, the one error itself, or a
    RuleErrors of them all."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RuleErrors(errors)


class Kind(enum.Enum):
    SHOWN = "shown"
    FRACTION = "fraction"
    MONEY = "money"
    POINTS = "points"


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_MINUS = {"\u2212": "-", "\u2013": "-", "\u2010": "-", "\u2011": "-"}  # minus sign, dashes (NFKC keeps them)
_PERCENT_WORD = {Kind.MONEY: "金额（万元）", Kind.POINTS: "分数"}


def cell_problem(value) -> str | None:
    """Why a cell cannot hold a value at all (error value, uncalculated formula), or None."""
    kind = type(value)  # most cells, and never a problem (an error literal has "#"): no checks to pay for
    if value is None or kind is float or (kind is str and "#" not in value):
        return None
    if isinstance(value, Uncalculated):
        return ("公式尚未计算（文件中没有保存公式结果"
                + (f"：={str(value)[:60]}" if str(value) else "") + "）：请在 Excel 中打开并保存后再试")
    literal = error_literal(value)
    if literal:
        return f"单元格是错误值 {literal}，请修正公式或改填数值"
    return None


def _shown(value) -> str:
    return f"{value!r}" if not isinstance(value, str) else value.strip()


def parse_decimal(value, what: str, field: str | None = None, kind: Kind = Kind.SHOWN) -> Decimal:
    """A cell value as the exact decimal it stands for, or RuleError naming ``what``."""
    problem = cell_problem(value)
    if problem:
        raise RuleError(f"{what}：{problem}", field)
    if isinstance(value, bool):
        raise RuleError(f"{what}应为数字，单元格是逻辑值 {'TRUE' if value else 'FALSE'}", field)
    if isinstance(value, (_dt.date, _dt.time, _dt.timedelta)):
        raise RuleError(f"{what}应为数字，单元格是日期或时间“{value}”", field)
    if value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, float) and math.isnan(value)):
        raise RuleError(f"缺少{what}", field)
    percent = False
    if isinstance(value, numbers.Real):  # int, float, numpy scalars
        if not isinstance(value, numbers.Integral) and not math.isfinite(float(value)):
            raise RuleError(f"{what}应为有限数字" if not math.isnan(float(value)) else f"缺少{what}", field)
        number = Decimal(int(value)) if isinstance(value, numbers.Integral) else Decimal(repr(float(value)))
        percent = isinstance(value, Percent)
        typed = f"{value.shown:g}%" if percent else None
        if percent:
            number *= 100  # the percentage the cell shows
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value)
        text = "".join(_MINUS.get(ch, ch) for ch in text)
        text = re.sub(r"\s+", "", text)
        typed = value.strip()
        if text.endswith("%"):
            percent, text = True, text[:-1]
        if "," in text:
            if not _GROUPED.fullmatch(text):
                raise RuleError(f"{what}“{typed}”中的逗号位置不对：千位分隔符应每三位一个（如 1,234.5），"
                                "小数点请用“.”", field)
            text = text.replace(",", "")
        if not _NUMBER.fullmatch(text):
            raise RuleError(f"{what}应为数字，实际为“{typed}”", field)
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
            raise RuleError(f"{what}应为数字，实际为“{typed}”", field) from None
    else:
        raise RuleError(f"{what}应为数字，实际为“{value}”", field)
    if not number.is_finite() or abs(number) > Decimal(MAX_MAGNITUDE):
        raise RuleError(f"{what}超出可计算的范围（绝对值应不超过 10^15），实际为“{typed or _shown(value)}”", field)
    if percent:
        if kind in _PERCENT_WORD:
            raise RuleError(f"{what}是{_PERCENT_WORD[kind]}，不能填百分数（单元格显示为“{typed}”）", field)
        if kind is Kind.FRACTION:
            number /= 100
    return number


def number(value, what: str, field: str | None = None, kind: Kind = Kind.SHOWN) -> float:
    """A cell value as a finite float (see the module docstring for what each kind accepts)."""
    if type(value) is float and math.isfinite(value) and abs(value) <= MAX_MAGNITUDE:
        return value  # the common case, a plain number: no decimal round trip
    if type(value) is int and abs(value) <= MAX_MAGNITUDE:
        return float(value)
    return float(parse_decimal(value, what, field, kind))
