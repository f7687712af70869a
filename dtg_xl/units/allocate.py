"""因素法 (factor method): propose next year's split of the fund among the units (domain.md §4).

    share_i = Σ_k w_k · x_ik / Σ_j x_jk          alloc_i = Total × share_i

optionally × 等次系数 c_g(i) of the unit's last grade and renormalised (share_i·c_i / Σ_j share_j·c_j)
so the total is kept.  Everything is computed in exact rationals (``fractions.Fraction``, from the
cells' decimal text) and turned into 0.01 万元 by the largest-remainder method, so the amounts
add up to the total to the cent — no float sums anywhere.

Inputs: 分配参数 (下年度资金总额, factor rows 因素名称 | 权重 | 取值来源列, optional 等次 | 系数) and
单位填报 (the source columns; 上年评价得分 gives each unit's grade via the workbook's 评价方案).
Output: 分配建议 (written by ``allocation_blocks``) and ``allocation_json``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import is_blank as _blank
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.values import Kind, parse_decimal
from dtg_xl.core.schema import (ALLOC_FACTOR_HEADERS, ALLOC_GRADE_HEADERS, ALLOC_TOTAL_LABEL, HEADER_ROW, LAST_SCORE_COLUMN,
                     SHEET_ALLOC_PARAMS, SHEET_ALLOCATION, SHEET_UNITS, UNIT_COLUMNS)

FACTOR_ROWS = 10  # template slots for factors
FACTOR_HEADER_ROW = 4
GRADE_HEADER_ROW = FACTOR_HEADER_ROW + FACTOR_ROWS + 2
# 分配建议 layout
FACTS = ("下年度资金总额（万元）", "建议分配合计（万元）", "分配方法", "计算时间", "校验结果")
FACTS_ROW = 3
TABLE_HEADER_ROW = 10
TABLE_CAPACITY = 60  # rows cleared on every run (a longer earlier run leaves nothing behind)
FORMATTED_ROWS = 20  # rows with borders in the template; more units still get their values
FIXED_HEADERS = ("单位名称", "单位类别", "本年预算（万元）", "综合占比", "上年评价得分", "上年等次", "等次系数",
                 "建议分配（万元）", "增减（万元）", "增减（%）")
FACTOR_SLOTS = 5  # pre-formatted factor share columns after the fixed ones
PERCENT_COLS = (3, 9)  # 0-based in FIXED_HEADERS: written as fractions, formatted 0.00%
ERRORS_COL = len(FIXED_HEADERS) + FACTOR_SLOTS + 2  # one blank column after the factor slots
ERROR_HEADERS = ("工作表", "单元格", "问题")


class AllocationError(DtgError):
    """Problems that stop an allocation; ``problems`` lists each with sheet and cell."""

    def __init__(self, problems):
        super().__init__("；".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Factor:
    name: str
    weight: Fraction
    source: str
    row: int


@dataclass
class UnitShare:
    name: str
    kind: str
    row: int
    current: Decimal  # this year's adjusted budget (年初 + 追加), 万元
    factor_shares: dict[str, Fraction]
    score: float | None  # 上年评价得分
    grade: str | None
    coefficient: Fraction
    share: Fraction  # final share of the total (after coefficients)
    cents: int = 0

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents) / 100


@dataclass
class Allocation:
    total_cents: int = 0
    factors: list[Factor] = field(default_factory=list)
    coefficients: dict[str, Fraction] = field(default_factory=dict)
    units: list[UnitShare] = field(default_factory=list)
    errors: list = field(default_factory=list)  # model.Problem

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_cents) / 100


# ---------------------------------------------------------------- exact arithmetic
def exact(value, kind: Kind = Kind.FRACTION, what: str = "数值") -> Fraction:
    """A cell number as the decimal the user typed: 0.1 -> 1/10 (not the binary float), read by the
    one value parser (``dtg_xl.core.values``: full-width forms, separators, percents by ``kind``).
    Raises RuleError, a ValueError, with the parser's Chinese message."""
    return Fraction(parse_decimal(value, what, kind=kind))


def _why(exc: ValueError) -> str | None:
    """The parser's own message when it says more than "not a number" (what the cell holds, a
    refused percent, a misplaced separator, a magnitude), else None: the reader says it its way."""
    text = str(exc)
    markers = ("单元格是", "公式尚未计算", "不能填百分数", "逗号位置", "超出可计算")
    return text if any(m in text for m in markers) else None


def largest_remainder(amounts: list[Fraction], total: int) -> list[int]:
    """Integers that add up to ``total`` (= Σ amounts exactly): floors, then one more unit to the
    largest remainders (ties go to the earlier unit, so the result is deterministic)."""
    floors = [math.floor(a) for a in amounts]
    left = total - sum(floors)
    if sum(amounts) != total or not 0 <= left <= len(amounts):
        raise ValueError("amounts do not add up to the total")
    order = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def factor_shares(values: list[list[Fraction]], weights: list[Fraction]) -> tuple[list[list[Fraction]], list[Fraction]]:
    """values[i][k] = x_ik. Returns (x_ik / Σ_j x_jk per factor, share_i = Σ_k w_k · that)."""
    sums = [sum(row[k] for row in values) for k in range(len(weights))]
    per = [[row[k] / sums[k] if sums[k] else Fraction(0) for k in range(len(weights))] for row in values]
    return per, [sum(w * p for w, p in zip(weights, row)) for row in per]


def apply_coefficients(shares: list[Fraction], coefficients: list[Fraction]) -> list[Fraction]:
    """share_i · c_i / Σ_j share_j · c_j: the grade coefficient shifts money, the total stays."""
    weighted = [s * c for s, c in zip(shares, coefficients)]
    total = sum(weighted)
    if not total:
        raise ValueError("all weighted shares are zero")
    return [w / total for w in weighted]


def split(total_cents: int, values: list[list[Fraction]], weights: list[Fraction],
          coefficients: list[Fraction] | None = None) -> list[int]:
    """The whole method on plain numbers: cents per unit, adding up to total_cents."""
    _, shares = factor_shares(values, weights)
    if coefficients is not None:
        shares = apply_coefficients(shares, coefficients)
    return largest_remainder([total_cents * s for s in shares], total_cents)


# ---------------------------------------------------------------- reading the workbook
def _cell(row, c):
    return row[c - 1] if 0 < c <= len(row) else None


def read_allocation(book, profile: str | None = None) -> Allocation:
    """Read 分配参数 and 单位填报 and compute the proposal; every problem goes to ``.errors``."""
    from dtg_xl.xlsx.cells import cell_ref, col_letter
    from dtg_xl.core.model import Problem, read_model

    result = Allocation()
    err = result.errors

    def add(sheet, cell, message):
        err.append(Problem(sheet, cell, message))

    if SHEET_ALLOC_PARAMS not in book.sheet_names():
        add(SHEET_ALLOC_PARAMS, "", f"缺少工作表“{SHEET_ALLOC_PARAMS}”（请用 dtg-xl new 生成的新版模板）")
        return result
    model = read_model(book, profile=profile)
    if isinstance(model, list):
        err.extend(model)
        return result

    # 分配参数
    rows = book.sheet_values(SHEET_ALLOC_PARAMS)
    total_row = factor_header = grade_header = None
    for r, row in enumerate(rows, start=1):
        label = _text(_cell(row, 1))
        if label in (ALLOC_TOTAL_LABEL, "下年度资金总额") and total_row is None:
            total_row = r
        elif label == ALLOC_FACTOR_HEADERS[0] and factor_header is None:
            factor_header = r
        elif label == ALLOC_GRADE_HEADERS[0] and grade_header is None:
            grade_header = r
    if total_row is None:
        add(SHEET_ALLOC_PARAMS, "A:A", f"找不到“{ALLOC_TOTAL_LABEL}”一行")
    else:
        value = _cell(rows[total_row - 1], 2)
        where = cell_ref(total_row, 2)
        try:
            total = exact(value, Kind.MONEY, "下年度资金总额")
        except ValueError as exc:
            add(SHEET_ALLOC_PARAMS, where, (_why(exc) or f"下年度资金总额应为数字，实际为“{_text(value)}”")
                if not _blank(value) else "缺少下年度资金总额")
        else:
            if total <= 0:
                add(SHEET_ALLOC_PARAMS, where, "下年度资金总额必须大于0")
            elif (total * 100).denominator != 1:
                add(SHEET_ALLOC_PARAMS, where, f"下年度资金总额最多保留两位小数（0.01万元），实际为{_text(value)}")
            else:
                result.total_cents = int(total * 100)
    if factor_header is None:
        add(SHEET_ALLOC_PARAMS, "A:A", f"找不到因素表（表头“{'｜'.join(ALLOC_FACTOR_HEADERS)}”）")
    else:
        _read_factors(rows, factor_header, grade_header, result, add, cell_ref)
    if grade_header is not None:
        _read_grades(rows, grade_header, model.profile, result, add, cell_ref)

    # 单位填报: source columns by header
    unit_rows = book.sheet_values(SHEET_UNITS)
    header = [_text(v) for v in (unit_rows[HEADER_ROW - 1] if unit_rows else [])]
    col_of = {}
    for c, h in enumerate(header, start=1):
        col_of.setdefault(h, c)
    available = [h for h in header if h and h not in UNIT_COLUMNS and h not in ("序号", "备注")]
    for f in result.factors:
        if f.source and (f.source not in col_of or f.source in UNIT_COLUMNS):
            add(SHEET_ALLOC_PARAMS, cell_ref(f.row, 3),
                f"取值来源列“{f.source}”不是单位填报中的业务量列（可选：{'、'.join(available)}）")
    used_cols = {col_letter(col_of[f.source]) for f in result.factors if f.source in col_of}
    used_cols |= {col_letter(col_of[h]) for h in ("单位名称", "年初预算", "追加预算") if h in col_of}
    for p in model.errors:  # the model's own findings on the cells used here
        if p.sheet == SHEET_UNITS and p.cell.rstrip("0123456789") in used_cols:
            err.append(p)
    if not model.units:
        add(SHEET_UNITS, "A2", "单位填报中没有单位")
    score_col = col_of.get(LAST_SCORE_COLUMN)
    factors = [f for f in result.factors if f.source in col_of and f.source not in UNIT_COLUMNS]
    values: list[list[Fraction]] = []
    for u in model.units:
        row = unit_rows[u["row"] - 1]
        line = []
        for f in factors:
            c = col_of[f.source]
            raw = _cell(row, c)
            try:
                x = exact(raw, Kind.SHOWN, f.source)
            except ValueError as exc:
                if not any(p.cell == cell_ref(u["row"], c) for p in err):
                    add(SHEET_UNITS, cell_ref(u["row"], c), f"“{u['name']}”的"
                        + (f"{f.source}未填写（无业务量请填0）" if _blank(raw)
                           else _why(exc) or f"{f.source}应为数字，实际为“{_text(raw)}”"))
                x = Fraction(0)
            if x < 0:
                add(SHEET_UNITS, cell_ref(u["row"], c), f"“{u['name']}”的{f.source}不能为负数（{_text(raw)}）")
            line.append(x)
        values.append(line)
    for k, f in enumerate(factors):
        if f.weight > 0 and model.units and sum(line[k] for line in values) == 0:
            letter = col_letter(col_of[f.source])
            add(SHEET_UNITS, f"{letter}{model.units[0]['row']}:{letter}{model.units[-1]['row']}",
                f"因素“{f.name}”的取值来源列“{f.source}”各单位合计为0，无法按比例分配（请填数据或将权重设为0）")

    # grades and coefficients
    grades, coefficients = [], []
    for u in model.units:
        score = grade = None
        coef = Fraction(1)
        if score_col:
            raw = _cell(unit_rows[u["row"] - 1], score_col)
            if not _blank(raw):
                try:
                    score = float(exact(raw, Kind.POINTS, LAST_SCORE_COLUMN))
                    grade = model.profile.grade(score)
                except ValueError as exc:
                    add(SHEET_UNITS, cell_ref(u["row"], score_col),
                        _why(exc) or f"{LAST_SCORE_COLUMN}应为数字，实际为“{_text(raw)}”")
        if result.coefficients:
            if grade is None and not any(p.cell == cell_ref(u["row"], score_col or 1) for p in err):
                add(SHEET_UNITS, cell_ref(u["row"], score_col) if score_col else "1:1",
                    f"已设置等次系数，须填写“{u['name']}”的{LAST_SCORE_COLUMN}")
            coef = result.coefficients.get(grade, Fraction(1))
        grades.append((score, grade))
        coefficients.append(coef)
    if err or not result.total_cents:
        return result

    weights = [f.weight for f in factors]
    per, shares = factor_shares(values, weights)
    if result.coefficients:
        try:
            shares = apply_coefficients(shares, coefficients)
        except ValueError:
            add(SHEET_ALLOC_PARAMS, cell_ref(grade_header + 1, 2), "各单位的等次系数加权后合计为0，无法分配")
            return result
    cents = largest_remainder([result.total_cents * s for s in shares], result.total_cents)
    for u, line, share, c, (score, grade), coef in zip(model.units, per, shares, cents, grades, coefficients):
        current = Decimal(format(u["initial"], ".15g")) + Decimal(format(u["added"], ".15g")) \
            if not (math.isnan(u["initial"]) or math.isnan(u["added"])) else Decimal("NaN")
        result.units.append(UnitShare(u["name"], u["kind"], u["row"], current,
                                      {f.name: p for f, p in zip(factors, line)}, score, grade, coef, share, c))
    result.factors = factors
    return result


def _read_factors(rows, header_row, stop_row, result: Allocation, add, cell_ref):
    header = [_text(v) for v in rows[header_row - 1]]
    cols = {h: header.index(h) + 1 for h in ALLOC_FACTOR_HEADERS if h in header}
    missing = [h for h in ALLOC_FACTOR_HEADERS if h not in cols]
    if missing:
        add(SHEET_ALLOC_PARAMS, f"{header_row}:{header_row}", f"因素表缺少表头：{'、'.join(missing)}")
        return
    end = (stop_row - 1) if stop_row and stop_row > header_row else len(rows)
    seen = {}
    weight_sum = Fraction(0)
    for r in range(header_row + 1, end + 1):
        row = rows[r - 1]
        name, w_raw, source = (_cell(row, cols[h]) for h in ALLOC_FACTOR_HEADERS)
        if _blank(name) and _blank(w_raw) and _blank(source):
            continue
        name, source = _text(name), _text(source)
        if not name:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, cols["因素名称"]), "缺少因素名称")
        elif name in seen:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, cols["因素名称"]), f"因素“{name}”与第{seen[name]}行重复")
        seen.setdefault(name, r)
        if not source:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, cols["取值来源列"]), f"因素“{name}”缺少取值来源列")
        try:
            weight = exact(w_raw, Kind.FRACTION, "权重")
        except ValueError as exc:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, cols["权重"]),
                f"因素“{name}”的" + ("权重未填写" if _blank(w_raw) else _why(exc) or f"权重应为数字，实际为“{_text(w_raw)}”"))
            continue
        if weight < 0:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, cols["权重"]), f"因素“{name}”的权重不能为负数")
        weight_sum += weight
        result.factors.append(Factor(name, weight, source, r))
    if not result.factors and not any(p.sheet == SHEET_ALLOC_PARAMS and p.cell != "A:A" for p in result.errors):
        add(SHEET_ALLOC_PARAMS, f"A{header_row + 1}", "没有填写分配因素")
    elif result.factors and weight_sum != 1:
        w = cols["权重"]
        first, last = result.factors[0].row, result.factors[-1].row
        letter = cell_ref(first, w).rstrip("0123456789")
        add(SHEET_ALLOC_PARAMS, f"{letter}{first}:{letter}{last}",
            f"各因素权重之和应为1（100%），实际为{float(weight_sum):g}")


def _read_grades(rows, header_row, profile, result: Allocation, add, cell_ref):
    header = [_text(v) for v in rows[header_row - 1]]
    if "系数" not in header:
        add(SHEET_ALLOC_PARAMS, f"{header_row}:{header_row}", "等次系数表缺少表头：系数")
        return
    c_grade, c_coef = header.index("等次") + 1, header.index("系数") + 1
    known = [g for g, _ in profile.grades]
    for r in range(header_row + 1, len(rows) + 1):
        row = rows[r - 1]
        grade, raw = _text(_cell(row, c_grade)), _cell(row, c_coef)
        if not grade or _blank(raw):
            continue  # a blank coefficient: no adjustment for that grade
        if grade not in known:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, c_grade), f"等次“{grade}”不在评价方案{profile.name}中（{'、'.join(known)}）")
            continue
        try:
            coef = exact(raw, Kind.FRACTION, "等次系数")
        except ValueError as exc:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, c_coef), _why(exc) or f"等次系数应为数字，实际为“{_text(raw)}”")
            continue
        if coef < 0:
            add(SHEET_ALLOC_PARAMS, cell_ref(r, c_coef), "等次系数不能为负数")
            continue
        result.coefficients[grade] = coef


# ---------------------------------------------------------------- output
def _change(u: UnitShare):
    if u.current.is_nan():
        return None, None
    change = u.amount - u.current
    pct = float(excel_round(float(change / u.current), 4)) if u.current else None
    return float(change), pct


def method_text(a: Allocation) -> str:
    parts = "＋".join(f"{f.name}×{float(f.weight):g}" for f in a.factors)
    text = f"因素法：各因素占比加权（{parts}）"
    if a.coefficients:
        text += "，乘等次系数（" + "、".join(f"{g}{float(c):g}" for g, c in a.coefficients.items()) + "）后按总额归一"
    return text + "；金额按最大余额法取至0.01万元"


def allocation_blocks(a: Allocation, when: datetime | None = None) -> list[tuple[str, int, int, list[list]]]:
    """分配建议 as (sheet, row, col, rows2d) blocks; blanks clear an earlier, longer run."""
    when = (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    status = "通过" if a.ok else f"发现{len(a.errors)}个问题，未生成分配建议，见右侧“校验问题”"
    facts = [float(a.total) if a.total_cents else None,
             float(sum(Decimal(u.cents) for u in a.units) / 100) if a.units else None,
             method_text(a) if a.ok else None, when, status]
    blocks = [(SHEET_ALLOCATION, FACTS_ROW, 2, [[v] for v in facts])]
    names = [f.name for f in a.factors] if a.ok else []
    width = len(FIXED_HEADERS) + max(FACTOR_SLOTS, len(names))
    header = [*FIXED_HEADERS, *(f"占比：{n}" for n in names)]
    table = [header + [None] * (width - len(header))]
    for u in a.units:
        change, pct = _change(u)
        table.append([u.name, u.kind, None if u.current.is_nan() else float(u.current), float(u.share), u.score,
                      u.grade, float(u.coefficient), float(u.amount), change, pct,
                      *(float(u.factor_shares[n]) for n in names)])
    if a.units:
        current = sum((u.current for u in a.units), Decimal(0))
        amount = sum((u.amount for u in a.units), Decimal(0))
        change = None if current.is_nan() else float(amount - current)
        pct = float(excel_round(float((amount - current) / current), 4)) if change is not None and current else None
        table.append(["合计", None, None if current.is_nan() else float(current), 1.0, None, None, None,
                      float(amount), change, pct, *([1.0] * len(names))])
    table = [row + [None] * (width - len(row)) for row in table]
    table += [[None] * width for _ in range(TABLE_CAPACITY + 1 - len(table))]
    errors = [list(ERROR_HEADERS)] + [[p.sheet, p.cell, p.message] for p in a.errors]
    errors += [[None] * 3 for _ in range(max(0, TABLE_CAPACITY + 1 - len(errors)))]
    # more factors than the template's slots push the problem list right (the table is written
    # last, so it wins where the template's problem header used to be)
    errors_col = max(ERRORS_COL, width + 2)
    blocks.append((SHEET_ALLOCATION, TABLE_HEADER_ROW, errors_col, errors))
    blocks.append((SHEET_ALLOCATION, TABLE_HEADER_ROW, 1, table))
    return blocks


def allocation_json(a: Allocation) -> dict:
    return {
        "total": float(a.total) if a.total_cents else None,
        "factors": [{"name": f.name, "weight": float(f.weight), "source": f.source} for f in a.factors],
        "coefficients": {g: float(c) for g, c in a.coefficients.items()},
        "units": [{"name": u.name, "kind": u.kind, "current": None if u.current.is_nan() else float(u.current),
                   "share": float(u.share), "last_score": u.score, "grade": u.grade,
                   "coefficient": float(u.coefficient), "amount": float(u.amount), "amount_cents": u.cents,
                   "change": _change(u)[0], "change_pct": None if _change(u)[1] is None else _change(u)[1] * 100,
                   "factor_shares": {k: float(v) for k, v in u.factor_shares.items()}} for u in a.units],
        "sum_cents": sum(u.cents for u in a.units),
        "errors": [p.as_dict() for p in a.errors],
    }


def format_allocation(a: Allocation) -> list[str]:
    """Plain-text report for the CLI."""
    if not a.ok:
        return [f"发现{len(a.errors)}个问题，未生成分配建议：", *(f"  {p}" for p in a.errors)]
    lines = [f"下年度资金总额 {a.total} 万元；{method_text(a)}",
             "单位名称\t本年预算\t综合占比\t上年等次\t等次系数\t建议分配\t增减（万元）\t增减（%）"]
    for u in a.units:
        change, pct = _change(u)
        lines.append(f"{u.name}\t{'' if u.current.is_nan() else f'{u.current:.2f}'}\t{float(u.share) * 100:.4f}%\t"
                     f"{u.grade or ''}\t{float(u.coefficient):g}\t{u.amount}\t"
                     f"{'' if change is None else f'{change:+.2f}'}\t{'' if pct is None else f'{pct * 100:+.2f}%'}")
    lines.append(f"合计 {sum((u.amount for u in a.units), Decimal(0))} 万元（恰等于总额）")
    return lines


# ---------------------------------------------------------------- template sheets
def write_sheets(wb, f: dict, data: dict, workload: list[str], profile) -> None:
    """分配参数 (inputs, filled from the example's [allocation]) and 分配建议 (formatted, empty)."""
    ws = wb.add_worksheet(SHEET_ALLOC_PARAMS)
    ws.set_column("A:A", 22)
    ws.set_column("B:B", 12)
    ws.set_column("C:C", 22)
    ws.set_column("D:D", 70)
    ws.write_row(0, 0, ["参数", "值", "说明"], f["header"])
    ws.write(1, 0, ALLOC_TOTAL_LABEL, f["label"])
    total = data.get("下年度资金总额")
    ws.write(1, 1, total, f["number"]) if total is not None else ws.write_blank(1, 1, None, f["number"])
    ws.write(1, 2, "分配结果写入“分配建议”表（dtg-xl allocate）", f["note"])
    r0 = FACTOR_HEADER_ROW - 1
    ws.write_row(r0, 0, [*ALLOC_FACTOR_HEADERS, "说明"], f["header"])
    factors = data.get("factors", [])
    for i in range(max(FACTOR_ROWS, len(factors))):
        item = factors[i] if i < len(factors) else {}
        for c, (key, style) in enumerate((("因素名称", "text"), ("权重", "number"), ("取值来源列", "text"),
                                          ("说明", "note"))):
            value = item.get(key)
            ws.write(r0 + 1 + i, c, value, f[style]) if value is not None else ws.write_blank(r0 + 1 + i, c, None, f[style])
    last = r0 + max(FACTOR_ROWS, len(factors))
    ws.data_validation(r0 + 1, 2, last, 2, {"validate": "list", "source": list(workload)[:20], "error_type": "warning"})
    g0 = last + 2
    ws.write_row(g0, 0, [*ALLOC_GRADE_HEADERS, "说明"], f["header"])
    coefficients = data.get("coefficients", {})
    for i, (grade, lower) in enumerate(profile.grades):
        ws.write(g0 + 1 + i, 0, grade, f["label"])
        value = coefficients.get(grade)
        ws.write(g0 + 1 + i, 1, value, f["number"]) if value is not None else ws.write_blank(g0 + 1 + i, 1, None, f["number"])
        ws.write(g0 + 1 + i, 2, f"{LAST_SCORE_COLUMN}≥{lower:g}" if lower else f"{LAST_SCORE_COLUMN}更低", f["note"])
    note = g0 + len(profile.grades) + 2
    for i, line in enumerate((
            "公式：分配额ᵢ = 总额 × Σₖ 权重ₖ × 单位i的因素值ₖ ÷ 各单位因素值ₖ合计（因素法）。",
            "权重合计须为1（100%）；取值来源列为“单位填报”表的业务量列或“上年评价得分”列。",
            "等次系数可选：全部留空则不调整；填写后按各单位上年评价得分所在等次乘系数，再按总额归一，总额不变。",
            "金额按最大余额法取至0.01万元，各单位合计恰等于总额。")):
        ws.write(note + i, 0, line, f["plain"])
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)

    ws = wb.add_worksheet(SHEET_ALLOCATION)
    ws.write(0, 0, "因素法分配建议（由程序填写，请勿手工修改）", f["title"])
    ws.set_column(0, 0, 26)
    ws.set_column(1, 1, 12)
    ws.set_column(2, len(FIXED_HEADERS) + FACTOR_SLOTS - 1, 11)
    ws.set_column(ERRORS_COL - 1, ERRORS_COL, 10)
    ws.set_column(ERRORS_COL + 1, ERRORS_COL + 1, 60)
    for i, label in enumerate(FACTS):
        ws.write(FACTS_ROW - 1 + i, 0, label, f["label"])
        style = f["output"] if i < 2 else f["output_text"]
        if i < 2:
            ws.write_blank(FACTS_ROW - 1 + i, 1, None, style)
        else:  # long text (the method) gets the width of the table
            ws.merge_range(FACTS_ROW - 1 + i, 1, FACTS_ROW - 1 + i, len(FIXED_HEADERS) - 1, None, style)
            if FACTS[i] == "分配方法":
                ws.set_row(FACTS_ROW - 1 + i, 30)
    width = len(FIXED_HEADERS) + FACTOR_SLOTS
    for c in range(width):
        ws.write_blank(TABLE_HEADER_ROW - 1, c, None, f["header"])
    ws.set_row(TABLE_HEADER_ROW - 1, 30)
    for r in range(TABLE_HEADER_ROW, TABLE_HEADER_ROW + FORMATTED_ROWS):
        for c in range(width):
            pct = c in PERCENT_COLS or c >= len(FIXED_HEADERS)
            text = c in (0, 1, 5)
            ws.write_blank(r, c, None, f["output_pct"] if pct else f["output_text"] if text else f["output"])
    ws.write(TABLE_HEADER_ROW - 2, ERRORS_COL - 1, "校验问题", f["title"])
    ws.write_row(TABLE_HEADER_ROW - 1, ERRORS_COL - 1, list(ERROR_HEADERS), f["header"])
    ws.freeze_panes(TABLE_HEADER_ROW, 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.print_area(0, 0, TABLE_HEADER_ROW + FORMATTED_ROWS, width - 1)
