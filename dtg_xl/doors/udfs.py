"""Excel custom functions (UDFs): ``=DTG_SCORE(...)`` and friends, category "DTG".

Written in the ``import xlwings as xw`` style so one module serves classic xlwings ("UDF
Modules" = ``dtg_xl.doors.udfs`` in the workbook's ``xlwings.conf`` sheet, then "Import Functions"),
xlwings Server and xlwings Lite.  Outside Windows ``xw.func``/``xw.arg`` are pass-through
decorators, so every function here is plain Python and tested as such.

Doors only: each function calls the engine's rules (``rules.score_one``, ``engine.score_table``,
``profiles``); no rule is written here.  A bad argument returns a Chinese message into the
cell instead of raising, because Excel would otherwise show a Python traceback.

Argument names are ASCII on purpose: classic xlwings writes them into generated VBA, and VBA
identifiers outside the system code page break on non-Chinese Windows.  The Chinese names
users see are in each argument's ``doc`` (shown by Excel's function wizard).
"""
from __future__ import annotations


import numpy as np
import xlwings as xw

from dtg_xl.xlsx.cells import is_blank as _blank
from dtg_xl.core import engine
from dtg_xl.core import rules
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.profiles import ProfileError, load_profile
from dtg_xl.core.schema import HEADER_ROW, INDICATOR_COLUMNS

CATEGORY = "DTG"


def _message(exc: Exception) -> str:
    """The text a cell shows for a bad argument."""
    if isinstance(exc, (rules.RuleError, ProfileError)):
        return f"错误：{exc}"
    return f"错误：参数无法识别（{type(exc).__name__}）"


def _cells(values) -> list:
    """A range argument (scalar, row, column or 2-D) as a flat list of cells."""
    if not isinstance(values, (list, tuple)):
        return [values]
    out = []
    for item in values:
        out.extend(_cells(item))
    return out


# ---------------------------------------------------------------- one indicator
_CRITERIA_METHODS = ("分档", "阶梯扣分", "偏离度", "公式")


def policy_option(options):
    """DTG_SCORE's 计分规则 argument: blank (default policy), a profile name (its policy) or items
    such as “得分精度=0；取舍方式=截尾；超额完成=不封顶；定性档次=80/50” over the default policy."""
    import re

    from dtg_xl.core.policy import Policy, PolicyError, with_values

    if _blank(options):
        return Policy()
    text = str(options).strip()
    if "=" not in text and "＝" not in text:
        return load_profile(text).policy
    values = {}
    for item in (t for t in re.split(r"[;；\n]", text) if t.strip()):
        label, sep, value = item.replace("＝", "=").partition("=")
        if not sep:
            raise rules.RuleError(f"计分规则“{item.strip()}”应写成“名称=值”，如“得分精度=0；取舍方式=截尾”")
        values[label.strip()] = value.strip()
    try:
        return with_values(Policy(), values)
    except PolicyError as exc:
        raise rules.RuleError(str(exc)) from None


# ---------------------------------------------------------------- one indicator
@xw.func(category=CATEGORY)
@xw.arg("method", doc="评分方法：正向、反向、反向比值、等于、定性、扣分、分档、是否、排名、要素、阶梯扣分、偏离度、公式（或英文别名）")
@xw.arg("points", doc="分值（该三级指标的满分）")
@xw.arg("target", doc="目标值；“是否”方法填“是”或“否”（空=是）；定性、扣分、分档可留空")
@xw.arg("actual", doc="实际值（实际完成值）；定性、扣分可留空")
@xw.arg("detail", doc="按方法填写：定性→定性等级；扣分→扣分合计；分档、阶梯扣分、偏离度、公式→评分标准，如“≥95:100%；≥90:80%”")
@xw.arg("given", doc="评定得分：定性方法的得分（须落在定性等级对应的区间内）；其他方法为评价人调整后的得分（须填调整原因）")
@xw.arg("reason", doc="调整原因（非定性方法填写评定得分时必填）")
@xw.arg("options", doc="计分规则：留空为默认；评价方案名（如 self-eval-20-80）；或“得分精度=0；取舍方式=截尾；超额完成=不封顶；定性档次=80/50”")
def DTG_SCORE(method, points, target=None, actual=None, detail=None, given=None, reason=None, options=None):
    """计算一个三级指标的得分（与“计算评分”按钮同一套评分规则；默认按Excel的ROUND保留两位小数，可用计分规则改变）。"""
    try:
        name = rules.canonical_method(method)
        target, actual, given = _referenced(name, {"target": target, "actual": actual, "given": given}, None,
                                            "", "请直接引用基准对比表的压缩率单元格，或改用 DTG_SCORE_TABLE")
        level = detail if name == "定性" else None
        deducted = detail if name == "扣分" else None
        bands = detail if name in _CRITERIA_METHODS else None
        return rules.score_one(name, points, target, actual, level, given, deducted, bands, reason,
                               policy_option(options))
    except Exception as exc:  # noqa: BLE001 - a cell shows a message, never a traceback
        return _message(exc)


# ---------------------------------------------------------------- a whole table
def _header_columns(header: list) -> dict[str, int]:
    """指标体系 header text -> internal name -> 0-based column (as the model reads it)."""
    found = {}
    for i, value in enumerate(header):
        text = "" if value is None else str(value).strip().replace("\n", "")
        if text in INDICATOR_COLUMNS and INDICATOR_COLUMNS[text] not in found:
            found[INDICATOR_COLUMNS[text]] = i
    return found


class _RangeBook:
    """A one-sheet book over a range's values, so the 基准对比 reader runs unchanged."""

    def __init__(self, sheet: str, rows: list[list]):
        self.sheet, self.rows = sheet, [["" if v is None else v for v in row] for row in rows]

    def sheet_names(self) -> list[str]:
        return [self.sheet]

    def sheet_values(self, name: str) -> list[list]:
        return self.rows


def _baselines(rows):
    """基准对比 rows (header first) read by the model's own reader; None when not given."""
    if rows is None or not isinstance(rows, (list, tuple)) or not rows or not isinstance(rows[0], (list, tuple)):
        return None
    from dtg_xl.core.baselines import read_baselines
    from dtg_xl.core.schema import SHEET_BASELINES

    return read_baselines(_RangeBook(SHEET_BASELINES, rows), lambda sheet, cell, message: None)


# a reference's source sheet, for the message of a kind a cell function cannot resolve
_NEEDS_SHEET = {"单位": "单位填报", "预算": "单位填报", "问卷": "问卷", "专家": "专家评分"}
_REFERABLE = (("target", "目标值"), ("actual", "实际值"), ("given", "评定得分"))
# inputs a method does not read: a reference there does not stop the row's score (as rules.prepare ignores them)
_UNREAD = {"定性": ("target", "actual"), "扣分": ("target", "actual"), "分档": ("target",)}


def _computed_cell(references, ref) -> str:
    """Where the evaluated workbook shows the figure a reference stands for, for the message."""
    from dtg_xl.core.schema import BUDGET_FIGURE_CELLS, SHEET_SUMMARY

    item = references.BUDGET_ITEMS.get(ref.parts[0]) if ref.kind == references.KIND_BUDGET else None
    if item and item[0] in BUDGET_FIGURE_CELLS:
        return f"计算后汇总表中的{item[1]}单元格 {SHEET_SUMMARY}!{BUDGET_FIGURE_CELLS[item[0]]}"
    return "计算结果所在的单元格"


def _referenced(method: str, values: dict, baselines, where: str, hint: str) -> tuple:
    """目标值, 实际值, 评定得分 with each reference resolved by the one resolver (core/references.py):
    ``基准对比:`` from the 基准对比 range when it is given; the other kinds name sheets a cell function never
    receives (it gets its arguments only, see docs/reference/references.md), so they are an error naming the
    input and ``where`` (the row in the range).  Every bad reference of the row is raised at once (RuleErrors)."""
    from dtg_xl.core import references

    out, errors = [], []
    for name, label in _REFERABLE:
        value = values.get(name)
        ref = references.parse(value)
        if ref is None or name in _UNREAD.get(method, ()):
            out.append(None if ref is not None else value)
            continue
        at = f"（{where}）" if where else ""
        if ref.kind != references.KIND_BASELINE:
            errors.append(rules.RuleError(
                f"{label}“{ref.text}”{at}要用{_NEEDS_SHEET[ref.kind]}表的数据，单元格函数读不到所选区域以外的工作表"
                f"（只能解析“基准对比:”引用）；请用“计算评分”按钮或 dtg-xl evaluate，"
                f"或让{label}直接引用{_computed_cell(references, ref)}", name))
        elif baselines is None:
            errors.append(rules.RuleError(f"{label}{at}引用了“基准对比”表：{hint}", name))
        else:
            try:
                out.append(references.resolve(ref, references.Sources(baselines=baselines)).value)
                continue
            except rules.RuleError as exc:
                errors.append(rules.RuleError(f"{label}{at}{exc}", name))
        out.append(value)
    rules.raise_all(errors)
    return tuple(out)


def score_table_values(rows: list[list], baseline_rows: list[list] | None = None) -> list[list]:
    """Scores of an indicator range whose first row is the 指标体系 header: one value per
    data row (a score, a message for a bad row, '' for an empty row).  ``baseline_rows`` is
    the 基准对比 range (header first) that 实际值 references like “基准对比:进口整体通关时间” use."""
    if not isinstance(rows, (list, tuple)) or not rows or not isinstance(rows[0], (list, tuple)):
        return [["错误：请选择包含表头行的整个指标区域"]]
    baselines = _baselines(baseline_rows)
    cols = _header_columns(list(rows[0]))
    missing = [h for h in ("分值", "评分方法") if INDICATOR_COLUMNS[h] not in cols]
    if missing:
        return [[f"错误：区域第一行应为指标体系表头，缺少：{'、'.join(missing)}"]]

    def cell(row, name):
        i = cols.get(name)
        return row[i] if i is not None and i < len(row) else None

    out: list = [""] * (len(rows) - HEADER_ROW)
    good, prepared = [], []
    for k, row in enumerate(rows[HEADER_ROW:]):
        row = list(row) if isinstance(row, (list, tuple)) else [row]
        if all(_blank(cell(row, n)) for n in ("l3", "points", "method")):
            continue  # an empty line, as the model skips it
        try:
            out[k] = _prepared_row(row, cell, baselines, f"区域第{k + HEADER_ROW + 1}行")
        except Exception as exc:  # noqa: BLE001
            out[k] = _message(exc)
        else:
            prepared.append(out[k])
            good.append(k)
    if prepared:
        bands = np.empty(len(prepared), dtype=object)  # tuples of Band, one per row, not a 2-D array
        bands[:] = [p.bands for p in prepared]
        table = {
            "method": [p.method for p in prepared],
            "points": [p.points for p in prepared],
            "target": [p.target for p in prepared],
            "actual": [p.actual for p in prepared],
            "given": [p.given for p in prepared],
            "deduction": [p.deducted for p in prepared],
            "bands": bands,
            "adjusted": [p.adjusted for p in prepared],
        }
        for k, score in zip(good, engine.score_table(table).tolist()):
            out[k] = score
    return [[v] for v in out] or [[""]]


def _prepared_row(row, cell, baselines, where: str) -> rules.Prepared:
    """One data row of DTG_SCORE_TABLE checked as the model checks it: every bad reference and every bad input
    at once (one message listing them, in that row's cell)."""
    errors, method = [], None
    try:
        method = rules.canonical_method(cell(row, "method"))
    except rules.RuleError:
        pass  # reported by rules.prepare below
    values = {name: cell(row, name) for name in ("target", "actual", "given")}
    try:
        values = dict(zip(values, _referenced(method, values, baselines, where,
                                              "请在第二个参数给出基准对比区域（含表头）")))
    except rules.RuleError as exc:
        errors.extend(rules.each_error(exc))
    unresolved = {e.field for e in errors}
    p = None
    try:
        p = rules.prepare(cell(row, "method"), cell(row, "points"), values["target"], values["actual"],
                          cell(row, "level"), values["given"], cell(row, "deduction"), cell(row, "criteria"),
                          cell(row, "adjust_reason"))
    except rules.RuleError as exc:
        errors.extend(e for e in rules.each_error(exc) if e.field not in unresolved)
    rules.raise_all(errors)
    return p


@xw.func(category=CATEGORY)
@xw.arg("table", ndim=2, doc="整个指标区域，第一行为“指标体系”表头（含分值、评分方法等列）")
@xw.arg("baselines", ndim=2, doc="可选：“基准对比”表区域（含表头），实际值写“基准对比:指标名”时需要")
def DTG_SCORE_TABLE(table, baselines=None):
    """一次计算整张指标表的得分，返回一列（自动溢出，每个数据行一个得分；有问题的行显示原因）。"""
    try:
        return score_table_values(table, baselines)
    except Exception as exc:  # noqa: BLE001
        return [[_message(exc)]]


# ---------------------------------------------------------------- totals, grade, rates
@xw.func(category=CATEGORY)
@xw.arg("scores", ndim=2, doc="得分区域（空白单元格不计）")
def DTG_TOTAL(scores):
    """合计得分区域，按Excel的ROUND保留两位小数；区域中有非数字内容时给出提示。"""
    try:
        total = 0.0
        for i, value in enumerate(_cells(scores), start=1):
            if _blank(value):
                continue
            total += rules.number(value, f"得分区域第{i}个单元格")
        return excel_round(total, 2)
    except Exception as exc:  # noqa: BLE001
        return _message(exc)


@xw.func(category=CATEGORY)
@xw.arg("total", doc="综合得分")
@xw.arg("profile", doc="评价方案，如 mof-2020（优≥90，良≥80，中≥60）、qingdao-2020（中≥70）；留空为 mof-2020")
def DTG_GRADE(total, profile=None):
    """按评价方案的等级划分，返回优/良/中/差（下限含本数：90.00为优，89.99为良）。"""
    try:
        value = rules.number(total, "综合得分")
        return load_profile(None if _blank(profile) else str(profile)).grade(value)
    except Exception as exc:  # noqa: BLE001
        return _message(exc)


@xw.func(category=CATEGORY)
@xw.arg("spent", doc="实际支出（万元）")
@xw.arg("budget", doc="预算数或实际到位资金（万元）")
def DTG_EXEC_RATE(spent, budget):
    """预算执行率（%）= 实际支出 ÷ 预算 × 100，保留两位小数；100 表示 100%。"""
    try:
        s = rules.number(spent, "实际支出")
        b = rules.number(budget, "预算")
        if b <= 0:
            raise rules.RuleError("预算应大于0")
        unit = {"initial": b, "added": 0.0, "in_place": b, "spent": s}
        return engine.budget_of([unit], "实际到位").execution_rate  # the engine's formula
    except Exception as exc:  # noqa: BLE001
        return _message(exc)


@xw.func(category=CATEGORY)
@xw.arg("baseline", doc="基准值（如2017年整体通关时间，小时）")
@xw.arg("current", doc="当期值（如本年度整体通关时间，小时）")
def DTG_COMPRESSION(baseline, current):
    """通关时间压缩率（%）=（基准值 − 当期值）÷ 基准值 × 100，保留两位小数。"""
    try:
        base = rules.number(baseline, "基准值")
        now = rules.number(current, "当期值")
        if base <= 0:
            raise rules.RuleError("基准值应大于0")
        if now < 0:
            raise rules.RuleError("当期值不能为负数")
        from dtg_xl.core.baselines import compression_rate  # the one formula, shared with 基准对比

        return compression_rate(base, now)
    except Exception as exc:  # noqa: BLE001
        return _message(exc)


# ---------------------------------------------------------------- grade margin
@xw.func(category=CATEGORY)
@xw.arg("total", doc="综合得分")
@xw.arg("profile", doc="评价方案，如 mof-2020、qingdao-2020；留空为 mof-2020")
def DTG_MARGIN(total, profile=None):
    """综合得分距本等次下限和上一等次下限各多少分，如“高于“优”下限（90分）6.65 分……”。"""
    try:
        from dtg_xl.results.margin import grade_margin

        m = grade_margin(rules.number(total, "综合得分"), None if _blank(profile) else str(profile))
        return f"{m.down_text}；{m.up_text}"
    except Exception as exc:  # noqa: BLE001 - a cell shows a message, never a traceback
        return _message(exc)
