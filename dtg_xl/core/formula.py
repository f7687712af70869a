"""公式 (custom) scoring: an Excel-syntax formula typed in 评分标准, over the row's own fields.

``=MIN(分值, 分值*实际值/目标值*0.25)`` — the fields are 分值, 目标值, 实际值 and 扣分 (the row's
cells); the result is the row's unrounded score, rounded afterwards by the scoring policy like
every other method.

Parsing and evaluation use the ``formulas`` library (vinci1it2000/formulas, an Excel formula
parser and interpreter), so operators, precedence, ``%``, ``^``, comparisons and the functions
below behave as in Excel.  Safety does not rely on the library: before anything is compiled
the parsed tokens are checked against a whitelist — numbers, strings, TRUE/FALSE, the four
field names, the operators ``+ - * / ^ % & = <> < > <= >=``, parentheses and commas, and the
functions in ``FUNCTIONS``.  A cell or sheet reference (``A1``, ``Sheet1!B2``, ``[1]…``), a
range operator, an unknown name or any other function (INDIRECT, WEBSERVICE, CALL, HYPERLINK,
…) is refused, so a formula can reach no file, network or Python object: it only ever sees
the four numbers it is given.

The library (and its numpy/scipy-heavy function tables, ~1.5 s on first use) is imported only
when a workbook has a 公式 row: ``rules.custom`` imports this module lazily, and this module
imports ``formulas`` inside the functions.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from dtg_xl.errors import DtgError


class FormulaError(DtgError):
    """A 公式 that cannot be used; ``field`` is the input it is about (rules turns it into a
    RuleError, so this module needs nothing from rules and no import cycle arises)."""

    def __init__(self, message: str, field: str | None = "criteria"):
        super().__init__(message)
        self.field = field

FIELDS = {"分值": "points", "目标值": "target", "实际值": "actual", "扣分": "deduction"}
FUNCTIONS = ("ABS", "AND", "AVERAGE", "IF", "IFERROR", "INT", "MAX", "MIN", "MOD", "NOT", "OR",
             "POWER", "ROUND", "ROUNDDOWN", "ROUNDUP", "SQRT", "SUM", "TRUNC")
OPERATORS = ("+", "-", "u-", "u+", "*", "/", "^", "%", "&", "=", "<>", "<", ">", "<=", ">=")
EXAMPLE = "=MIN(分值, 分值*实际值/目标值)"


@dataclass(frozen=True)
class Formula:
    text: str
    inputs: tuple[str, ...]  # field labels in the order the compiled function takes them
    function: object = field(compare=False, hash=False, repr=False)


def _bad(message: str) -> FormulaError:
    return FormulaError(f"{message}。公式应以“=”开头，只用字段{'、'.join(FIELDS)}和函数"
                     f"{'、'.join(FUNCTIONS)}，如“{EXAMPLE}”", "criteria")


def compile_formula(text) -> Formula:
    """Check and compile a 公式 cell; FormulaError (field ``criteria``) with a correct example."""
    return _compile(str(text or "").strip())


@functools.lru_cache(maxsize=256)
def _compile(text: str) -> Formula:
    if not text.startswith("="):
        raise _bad("评分标准应为公式")
    import formulas  # heavy: only for workbooks with a 公式 row
    from formulas.tokens.function import Function
    from formulas.tokens.operand import Error, Number, Range, String
    from formulas.tokens.operator import OperatorToken, Separator
    from formulas.tokens.parenthesis import Parenthesis

    try:
        with _quiet():
            tokens, builder = formulas.Parser().ast(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's formula
        raise _bad(f"公式“{text}”无法解析（{str(exc).splitlines()[0][:80]}）") from None
    for tok in tokens:  # functions first: INDIRECT("A1") is refused for INDIRECT, not for its A1
        name = getattr(tok, "name", str(tok))
        if isinstance(tok, Function) and name.upper() not in FUNCTIONS:
            raise _bad(f"公式中不支持函数“{name}”")
    for tok in tokens:
        name = getattr(tok, "name", str(tok))
        if isinstance(tok, Function):
            continue
        elif isinstance(tok, Range):
            if name not in FIELDS:
                raise _bad(f"公式中的“{name}”不是本行字段（不能引用单元格、工作表或其他文件）")
        elif isinstance(tok, OperatorToken):
            if name not in OPERATORS:
                raise _bad(f"公式中不支持运算符“{name}”")
        elif isinstance(tok, Separator):
            if name != ",":
                raise _bad(f"公式中不支持“{name}”")
        elif isinstance(tok, Error):
            raise _bad(f"公式中含有错误值“{name}”")
        elif not isinstance(tok, (Number, String, Parenthesis)):
            raise _bad(f"公式中不支持“{name}”")
    try:
        with _quiet():
            function = builder.compile()
    except Exception as exc:  # noqa: BLE001
        raise _bad(f"公式“{text}”无法计算（{str(exc).splitlines()[0][:80]}）") from None
    inputs = tuple(function.inputs)
    if any(i not in FIELDS for i in inputs):  # the token check above makes this unreachable
        raise _bad(f"公式“{text}”引用了本行字段以外的内容")
    return Formula(text, inputs, function)


class _quiet:
    """schedula logs a traceback for every failing function; the user gets our message instead."""

    def __enter__(self):
        self.level = logging.root.manager.disable
        logging.disable(logging.CRITICAL)

    def __exit__(self, *exc):
        logging.disable(self.level)
        return False


def evaluate_one(formula: Formula, values: dict[str, float]) -> float:
    """The formula's value for one row ({field label: number}); FormulaError for a blank field the
    formula uses, an Excel error result (#DIV/0!, #NUM!, …) or a result that is not a number."""
    args = []
    for label in formula.inputs:
        v = values.get(label)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise FormulaError(f"公式用到“{label}”，但本行的{label}为空", FIELDS[label])
        args.append(float(v))
    with _quiet():
        try:
            result = formula.function(*args)
        except Exception as exc:  # noqa: BLE001
            raise FormulaError(f"公式“{formula.text}”计算出错（{type(exc).__name__}）", "criteria") from None
    value = result if isinstance(result, str) else np.asarray(result, dtype=object).ravel()
    if not isinstance(value, str):
        if len(value) != 1:
            raise FormulaError(f"公式“{formula.text}”的结果应为一个数", "criteria")
        value = value[0]
    from formulas.functions import XlError

    if isinstance(value, XlError):
        raise FormulaError(f"公式“{formula.text}”的结果为错误值{value}", "criteria")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FormulaError(f"公式“{formula.text}”的结果应为数字，实际为“{value}”", "criteria")
    number = float(value)
    if not math.isfinite(number):
        raise FormulaError(f"公式“{formula.text}”的结果不是有限数字", "criteria")
    return number


def evaluate_rows(formula: Formula, points, target, actual, deducted) -> np.ndarray:
    """The formula over rows given as arrays (or scalars): one compiled call per row."""
    columns = [np.atleast_1d(np.asarray(x, dtype=float)) for x in (points, target, actual, deducted)]
    n = max(len(c) for c in columns)
    columns = [np.broadcast_to(c, (n,)) for c in columns]
    out = np.empty(n)
    for i in range(n):
        out[i] = evaluate_one(formula, dict(zip(FIELDS, (float(c[i]) for c in columns))))
    return out if np.ndim(points) else out[0]
