"""Read a workbook's inputs into a checked model, reporting every problem with its sheet!cell.

The input is any *book* that can list its sheets and give a sheet's values as rows from A1
(a file on disk, or a live xlwings Book); nothing here knows how the values were read.
"""
from __future__ import annotations

import math
import operator
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from dtg_xl.core import rules
from dtg_xl.xlsx.cells import cell_ref, col_letter
from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import is_blank as _blank
from dtg_xl.core.baselines import read_baselines
from dtg_xl.core import experts, references, survey
from dtg_xl.core.values import Kind, cell_problem
from dtg_xl.core.profiles import Profile, ProfileError, load_profile
from dtg_xl.core.schema import (EXECUTION_BASES, HEADER_ROW, INDICATOR_COLUMNS, INDICATOR_REQUIRED, PARAMS,
                     SHEET_EXPERTS, SHEET_INDICATORS, SHEET_PARAMS, SHEET_UNITS, UNIT_COLUMNS, UNIT_NOT_WORKLOAD,
                     WEIGHTING_FLAT, WEIGHTING_NESTED)

TOLERANCE = 0.005  # points must add up to within this at every level


@dataclass(frozen=True)
class Problem:
    sheet: str
    cell: str
    message: str

    def as_dict(self) -> dict:
        return {"sheet": self.sheet, "cell": self.cell, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell else self.sheet
        return f"{where}：{self.message}" if where else self.message


@dataclass
class Model:
    """Checked inputs. ``indicators`` is columnar: internal column name -> numpy array."""
    params: dict
    profile: Profile
    weighting: str
    full_marks: float
    execution_base: str
    indicators: dict[str, np.ndarray]
    units: list[dict]
    workload_names: list[str]
    indicator_columns: dict[str, int]  # internal name -> 1-based column in 指标体系
    param_cells: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (row, col) of the value
    baselines: object = None  # baselines.Baselines read from 基准对比 (None without the sheet)
    sources: object = None  # references.Sources: what 实际值/目标值/评定得分 references point at
    resolved: dict = field(default_factory=dict)  # row -> {"actual"|"target"|"given": references.Resolved}
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def rows(self) -> np.ndarray:
        return self.indicators["row"]


class _Collector:
    def __init__(self):
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, sheet: str, cell: str, message: str):
        self.errors.append(Problem(sheet, cell, message))

    def warn(self, sheet: str, cell: str, message: str):
        self.warnings.append(Problem(sheet, cell, message))


# ---------------------------------------------------------------- sheets
def _header_map(rows: list[list], sheet: str, known: dict, required, out: _Collector) -> dict[str, int]:
    """Header text -> internal name -> 1-based column; missing required headers are errors."""
    header = rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else []
    found = {}
    for col, value in enumerate(header, start=1):
        text = _text(value).replace("\n", "")
        if text in known and known[text] not in found:
            found[known[text]] = col
    missing = [h for h in required if known[h] not in found]
    if missing:
        out.add(sheet, f"{HEADER_ROW}:{HEADER_ROW}", f"缺少表头：{'、'.join(missing)}")
    return found


# the input columns each method reads: a table that uses the method must have them (one
# "缺少表头" error instead of one "缺少…" per row)
_METHOD_HEADERS = {"定性": ("定性等级", "评定得分"), "扣分": ("扣分",), "分档": ("评分标准", "实际值"),
                   "是否": ("实际值",)}
_QUANTITATIVE_HEADERS = ("目标值", "实际值")


def _needed_headers(rows: list[list], cols: dict[str, int]) -> tuple[str, ...]:
    methods, c = {}, cols["method"] - 1  # the methods named, in order of first use
    for row in rows[HEADER_ROW:]:
        raw = row[c] if c < len(row) else None
        if _blank(raw):
            continue
        try:
            methods[rules.canonical_method(raw)] = None
        except rules.RuleError:
            continue  # reported on its row
    return tuple(dict.fromkeys(h for method in methods for h in _METHOD_HEADERS.get(method, _QUANTITATIVE_HEADERS)))


def _read_params(rows: list[list], out: _Collector) -> tuple[dict, dict]:
    params, cells = {}, {}
    for r, row in enumerate(rows, start=1):
        label = _text(row[0]) if row else ""
        if label in PARAMS and PARAMS[label] not in params:
            value = row[1] if len(row) > 1 else None
            problem = cell_problem(value)
            if problem:
                out.add(SHEET_PARAMS, cell_ref(r, 2), f"{label}：{problem}")
                value = None
            params[PARAMS[label]] = None if _blank(value) else value
            cells[PARAMS[label]] = (r, 2)
    return params, cells


def _sheet_key(name: str) -> str:
    return unicodedata.normalize("NFKC", str(name)).strip().casefold()


def sheet_problems(names: list[str], required=(SHEET_PARAMS, SHEET_INDICATORS, SHEET_UNITS)) -> list[Problem]:
    """Each required sheet must exist exactly once under its exact name: a missing sheet, one
    renamed with a stray space or full-width letters ("汇总 "), or two sheets of the same name
    (a crafted workbook: which one is meant?) are problems, found before anything is read or written."""
    out = []
    for sheet in required:
        exact = [n for n in names if n == sheet]
        similar = [n for n in names if n != sheet and _sheet_key(n) == _sheet_key(sheet)]
        if len(exact) > 1:
            out.append(Problem(sheet, "", f"工作簿中有{len(exact)}个名为“{sheet}”的工作表，无法确定使用哪一个"))
        elif not exact and similar:
            out.append(Problem(sheet, "", f"缺少工作表“{sheet}”：有名为“{similar[0]}”的工作表，"
                                          f"名称多了空格或字形不同，请改回“{sheet}”"))
        elif not exact:
            out.append(Problem(sheet, "", f"缺少工作表“{sheet}”"))
        elif similar:
            out.append(Problem(sheet, "", f"工作表“{sheet}”与“{similar[0]}”名称只差空格或字形，无法确定使用哪一个"))
    return out


def read_model(book, profile: str | None = None) -> Model | list[Problem]:
    """Read and check every input. Returns the Model (with .errors possibly non-empty) or,
    when sheets or headers are missing so nothing can be checked, the list of problems.
    ``profile`` overrides the workbook's 评价方案."""
    out = _Collector()
    out.errors += sheet_problems(book.sheet_names())
    if out.errors:
        return out.errors

    param_rows = book.sheet_values(SHEET_PARAMS)
    ind_rows = book.sheet_values(SHEET_INDICATORS)
    unit_rows = book.sheet_values(SHEET_UNITS)
    ind_cols = _header_map(ind_rows, SHEET_INDICATORS, INDICATOR_COLUMNS, INDICATOR_REQUIRED, out)
    if "method" in ind_cols:
        _header_map(ind_rows, SHEET_INDICATORS, INDICATOR_COLUMNS, _needed_headers(ind_rows, ind_cols), out)
    unit_cols = _header_map(unit_rows, SHEET_UNITS, UNIT_COLUMNS, ("单位名称", "年初预算", "实际到位", "实际支出"), out)
    if out.errors:
        return out.errors

    params, param_cells = _read_params(param_rows, out)
    if profile:
        params["profile"] = profile
    profile, weighting, full_marks, base = _settings(params, param_cells, out)
    profile = _policy_settings(profile, param_rows, param_cells, out)
    baselines = read_baselines(book, out.add)
    units, workload = _read_units(unit_rows, unit_cols, out)  # before the indicators: references read them
    sources = _read_sources(book, params, param_cells, profile, base, units, unit_rows, baselines, out)
    resolved: dict = {}
    indicators = _read_indicators(ind_rows, ind_cols, out, (sources, resolved), profile.policy)
    _unused_panels(sources, indicators, out)
    model = Model(params=params, profile=profile, weighting=weighting, full_marks=full_marks,
                  execution_base=base, indicators=indicators, units=units, workload_names=workload,
                  indicator_columns=ind_cols, param_cells=param_cells, baselines=baselines,
                  sources=sources, resolved=resolved)
    _check_points(model, out)
    model.errors = out.errors
    model.warnings = out.warnings
    return model


def _settings(params: dict, cells: dict, out: _Collector):
    def where(name):
        r, c = cells.get(name, (0, 0))
        return cell_ref(r, c) if r else ""

    try:
        profile = load_profile(_text(params.get("profile")) or None)
    except ProfileError as exc:
        out.add(SHEET_PARAMS, where("profile"), str(exc))
        profile = load_profile(None)
    weighting = _text(params.get("weighting")) or profile.weighting
    if weighting not in (WEIGHTING_FLAT, WEIGHTING_NESTED):
        out.add(SHEET_PARAMS, where("weighting"), f"计分方式应为“{WEIGHTING_FLAT}”或“{WEIGHTING_NESTED}”")
        weighting = profile.weighting
    full_marks = profile.full_marks
    if not _blank(params.get("full_marks")):
        try:
            full_marks = rules.number(params["full_marks"], "总分", kind=Kind.POINTS)
        except rules.RuleError as exc:
            out.add(SHEET_PARAMS, where("full_marks"), str(exc))
    base = _text(params.get("execution_base")) or profile.execution_base
    if base not in EXECUTION_BASES:
        out.add(SHEET_PARAMS, where("execution_base"), f"预算执行率口径应为：{'、'.join(EXECUTION_BASES)}")
        base = profile.execution_base
    return profile, weighting, full_marks, base


def _policy_settings(profile: Profile, rows: list[list], cells: dict, out: _Collector) -> Profile:
    """计分规则 rows of 参数 (得分精度, 取舍方式, …) over the profile's policy; a bad value is an
    error naming its cell and the profile's value is kept."""
    from dtg_xl.core.policy import PolicyError, with_values
    from dtg_xl.core.profiles import with_policy
    from dtg_xl.core.schema import POLICY_PARAMS

    policy = profile.policy
    for label in POLICY_PARAMS:
        name = PARAMS[label]
        if name not in cells:
            continue
        r, c = cells[name]
        value = rows[r - 1][c - 1] if len(rows[r - 1]) >= c else None
        try:
            policy = with_values(policy, {label: value})
        except PolicyError as exc:
            out.add(SHEET_PARAMS, cell_ref(r, c), str(exc))
    return with_policy(profile, policy) if policy != profile.policy else profile


# ---------------------------------------------------------------- 指标体系
_NUMERIC = ("points", "target", "actual", "given", "deduction", "l1_weight", "l2_points", "adjusted")
_TEXT = ("l1", "l2", "l3", "method", "criteria", "unit", "level", "reason", "deviation_reason", "improvement",
         "adjust_reason")
_FILL_DOWN = ("l1", "l2")  # blank under a merged or grouped cell = same as above


def _read_indicators(rows: list[list], cols: dict[str, int], out: _Collector, refs=None,
                     policy=None) -> dict[str, np.ndarray]:
    def raw(row, name):
        c = cols.get(name)
        return row[c - 1] if c and c - 1 < len(row) else None

    def where(r, name):
        return cell_ref(r, cols.get(name, cols["l3"]))

    records, seen, last = [], {}, {}
    empty = dict.fromkeys(INDICATOR_COLUMNS.values())
    taken = [(name, cols[name] - 1) for name in empty if cols.get(name)]  # at least 三级指标, 分值, 评分方法
    names, pick, reach = [n for n, _ in taken], operator.itemgetter(*(i for _, i in taken)), max(i for _, i in taken)
    for r, row in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1):
        values = empty.copy()  # raw() of every column, without a call for each
        if len(row) > reach:
            values.update(zip(names, pick(row)))
        else:  # a short row (a reader may trim trailing blanks)
            values.update((name, row[i]) for name, i in taken if i < len(row))
        if all(_blank(values[n]) for n in ("l3", "points", "method")):
            continue  # an empty line
        first_problem = len(out.errors)  # this row's problems are out.errors[first_problem:]
        for name in _FILL_DOWN:
            if _blank(values[name]):
                values[name] = last.get(name)
            last[name] = None if cell_problem(values[name]) else values[name]
        rec = {"row": r}
        for name in _TEXT:
            value = values[name]
            if type(value) is str and "#" not in value:  # most text cells: no problem, and no conversion
                rec[name] = value.strip()
                continue
            problem = cell_problem(value) if name != "method" else None  # method: in rules.prepare
            if problem:
                out.add(SHEET_INDICATORS, where(r, name), f"{_label(name)}：{problem}")
                values[name] = None
            rec[name] = _text(values[name])
        for name in ("l1", "l2", "l3"):
            if not rec[name] and not cell_problem(raw(row, name)):
                out.add(SHEET_INDICATORS, where(r, name), f"缺少{_label(name)}")
        key = (rec["l1"], rec["l2"], rec["l3"])
        if rec["l3"] and key in seen:
            out.add(SHEET_INDICATORS, where(r, "l3"), f"指标“{rec['l3']}”与第{seen[key]}行重复")
        seen.setdefault(key, r)
        for name in ("l1_weight", "l2_points"):
            rec[name] = _optional_number(values[name], r, name, cols, out)
        # 单位: / 预算: / 基准对比: / 问卷: / 专家: → the figure they name; each one that does not resolve is
        # reported at its own cell, and the row's other inputs are still checked (every problem at once)
        bad_refs = _resolve_references(values, r, cols, refs[0], refs[1], out) if refs is not None else []
        try:
            p = rules.prepare(values["method"], values["points"], values["target"], values["actual"],
                              values["level"], values["given"], values["deduction"], values["criteria"],
                              values["adjust_reason"], policy)
            if bad_refs:
                raise rules.RuleErrors(bad_refs)
        except rules.RuleError as exc:
            unresolved = {e.field for e in bad_refs}
            for e in [*bad_refs, *(e for e in rules.each_error(exc) if e.field not in unresolved)]:
                out.add(SHEET_INDICATORS, where(r, e.field or "method"), str(e))
            p = rules.Prepared(rec["method"] or "正向", _safe_number(values["points"]))
        else:
            _check_deduction(p, values, rec, r, where, out)
        _unused_problems(values, r, where, out, first_problem)
        rec.update(method=p.method, points=p.points, target=p.target, actual=p.actual,
                   given=p.given, deduction=p.deducted, bands=p.bands, adjusted=p.adjusted)
        records.append(rec)
    columns = ("row", *_NUMERIC, *_TEXT)
    table = {name: np.array([rec[name] for rec in records],
                            dtype=float if name in _NUMERIC else int if name == "row" else object)
             for name in columns}
    table["bands"] = np.empty(len(records), dtype=object)
    table["bands"][:] = [rec["bands"] for rec in records]
    if not records:
        out.add(SHEET_INDICATORS, f"A{HEADER_ROW + 1}", "指标体系中没有指标")
    return table


def _unused_problems(values, r, where, out, first_problem: int):
    """An error value or uncalculated formula in a number cell the row's method does not read
    is still reported (once): the sheet is broken there, and a later method change would read it."""
    problems = {name: cell_problem(values.get(name)) for name in _NUMERIC}
    if not any(problems.values()):
        return
    done = {p.cell for p in out.errors[first_problem:] if p.sheet == SHEET_INDICATORS}  # this row's
    for name, problem in problems.items():
        if problem and where(r, name) not in done:
            out.add(SHEET_INDICATORS, where(r, name), f"{_label(name)}：{problem}")


def _check_deduction(p, values, rec, r, where, out):
    if p.method == "扣分":
        if p.deducted > p.points + TOLERANCE:
            out.add(SHEET_INDICATORS, where(r, "deduction"), f"扣分{p.deducted:g}超过分值{p.points:g}")
        if p.deducted > 0 and not rec["reason"]:
            out.add(SHEET_INDICATORS, where(r, "reason"), "有扣分时必须填写扣分原因")
    elif not _blank(values["deduction"]) and p.method != "公式":  # a 公式 may use 扣分
        out.add(SHEET_INDICATORS, where(r, "deduction"), f"扣分列只用于“扣分”方法，本行方法为“{p.method}”")


def _label(name: str) -> str:
    return next(h for h, n in INDICATOR_COLUMNS.items() if n == name)


def _safe_number(value) -> float:
    try:
        return rules.number(value, "")
    except rules.RuleError:
        return math.nan


def _optional_number(value, r, name, cols, out) -> float:
    if _blank(value):
        return math.nan
    try:
        return rules.number(value, _label(name), name, Kind.SHOWN if name == "l1_weight" else Kind.POINTS)
    except rules.RuleError as exc:
        out.add(SHEET_INDICATORS, cell_ref(r, cols[name]), str(exc))
        return math.nan


def _check_points(model: Model, out: _Collector):
    """Points add up at every level (tolerance 0.005).

    One pass groups the rows by 一级 and (一级, 二级) in order of first appearance, so the
    checks cost O(rows), not O(rows × groups); the problems and their order are those of a
    group-by-mask walk (sums in numpy's order, see ``_nansum``)."""
    t = model.indicators
    if not len(t["row"]):
        return
    cols = model.indicator_columns
    nested = model.weighting == WEIGHTING_NESTED
    rows = t["row"].tolist()

    def at(row, name):
        return cell_ref(int(row), cols.get(name, cols["points"]))

    groups: dict = {}  # l1 -> l2 -> row indices, both in order of first appearance
    for i, (l1, l2) in enumerate(zip(t["l1"].tolist(), t["l2"].tolist())):
        groups.setdefault(l1, {}).setdefault(l2, []).append(i)
    points_range = f"{col_letter(cols['points'])}{rows[0]}:{col_letter(cols['points'])}{rows[-1]}"
    weights = []
    for l1, by_l2 in groups.items():
        in_l1 = sorted(i for idx in by_l2.values() for i in idx) if len(by_l2) > 1 else next(iter(by_l2.values()))
        first_l1 = rows[in_l1[0]]
        l2_sum = 0.0
        for l2, in_l2 in by_l2.items():
            first = rows[in_l2[0]]
            declared = _declared(_take(t["l2_points"], in_l2), first, "l2_points", at, out)
            total = _nansum(t["points"], in_l2)
            if nested and math.isnan(declared):
                out.add(SHEET_INDICATORS, at(first, "l2_points"), f"分层权重方式下须填写“{l2}”的二级分值")
            elif not math.isnan(declared) and abs(declared - total) > TOLERANCE:
                out.add(SHEET_INDICATORS, at(first, "l2_points"),
                        f"二级指标“{l2}”的分值{declared:g}与其三级指标分值之和{total:g}不符")
            l2_sum += total if math.isnan(declared) else declared
        l1_weights = _take(t["l1_weight"], in_l1)
        weight = _declared(l1_weights, first_l1, "l1_weight", at, out)
        weights.append(_first(l1_weights))
        if nested:
            if abs(l2_sum - 100) > TOLERANCE:
                out.add(SHEET_INDICATORS, at(first_l1, "l2_points"),
                        f"分层权重方式下，一级指标“{l1}”下二级分值之和应为100，实际为{l2_sum:g}")
            if math.isnan(weight):
                out.add(SHEET_INDICATORS, at(first_l1, "l1_weight"), f"分层权重方式下须填写“{l1}”的一级权重")
        elif not math.isnan(weight) and abs(weight - l2_sum) > TOLERANCE:
            out.add(SHEET_INDICATORS, at(first_l1, "l1_weight"),
                    f"一级指标“{l1}”的权重{weight:g}与其下分值之和{l2_sum:g}不符")
    if nested:
        total = float(np.nansum(weights))
        budget = model.profile.budget_score_points  # Σ 权重 × 一级得分/100 + the budget line must reach 总分
        expected = model.full_marks - budget
        if abs(total - expected) > TOLERANCE and not any(math.isnan(w) for w in weights):
            out.add(SHEET_INDICATORS, f"{col_letter(cols.get('l1_weight', 2))}:{col_letter(cols.get('l1_weight', 2))}",
                    f"一级权重之和{total:g}应为{expected:g}（总分{model.full_marks:g}减预算执行{budget:g}分）" if budget
                    else f"一级权重之和{total:g}应等于总分{model.full_marks:g}")
    else:
        expected = model.full_marks - model.profile.budget_score_points
        total = float(np.nansum(t["points"]))
        if abs(total - expected) > TOLERANCE:
            extra = f"（总分{model.full_marks:g}减预算执行{model.profile.budget_score_points:g}分）" \
                if model.profile.budget_score_points else ""
            out.add(SHEET_INDICATORS, points_range, f"三级指标分值之和{total:g}应为{expected:g}{extra}")


def _take(values: np.ndarray, idx: list[int]) -> list[float]:
    return [values[idx[0]].item()] if len(idx) == 1 else values[idx].tolist()


def _nansum(values: np.ndarray, idx: list[int]) -> float:
    """``np.nansum(values[idx])`` bit for bit: numpy puts 0.0 for NaN and, for fewer than 8 values,
    adds them in order from 0.0 (its pairwise sum starts beyond that), so small groups —
    nearly all — skip the array round trip."""
    if len(idx) < 8:
        total = 0.0
        for i in idx:
            v = values[i].item()
            total += v if v == v else 0.0
        return total
    return float(np.nansum(values[idx]))


def _ordered(values) -> list:
    return list(dict.fromkeys(values.tolist()))


def _first(values: list[float]) -> float:
    return next((float(v) for v in values if v == v), math.nan)


def _declared(values, first_row, name, at, out) -> float:
    """The group's declared value; different values within one group are an error."""
    present = sorted({v for v in values if v == v})  # (np.unique would import numpy.ma)
    if len(present) > 1:
        out.add(SHEET_INDICATORS, at(first_row, name),
                f"同一组内{_label(name)}不一致：{'、'.join(f'{v:g}' for v in present)}")
    return float(present[0]) if len(present) else math.nan


# ---------------------------------------------------------------- 单位填报
def _read_units(rows: list[list], cols: dict[str, int], out: _Collector) -> tuple[list[dict], list[str]]:
    header = rows[HEADER_ROW - 1]
    known_cols = set(cols.values())
    workload = {}
    for c, value in enumerate(header, start=1):
        name = _text(value)
        if name and c not in known_cols and name not in UNIT_NOT_WORKLOAD:
            workload[name] = c
    units, seen = [], {}
    for r, row in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1):
        def raw(c):
            return row[c - 1] if c and c - 1 < len(row) else None

        name = _text(raw(cols["name"]))
        numbers = {k: raw(cols.get(k)) for k in ("initial", "added", "in_place", "spent")}
        if not name and all(_blank(v) for v in numbers.values()):
            continue
        where = cell_ref(r, cols["name"])
        problem = cell_problem(raw(cols["name"]))
        if problem:
            out.add(SHEET_UNITS, where, f"单位名称：{problem}")
            name = ""
        elif not name:
            out.add(SHEET_UNITS, where, "缺少单位名称")
        elif name in seen:
            out.add(SHEET_UNITS, where, f"单位“{name}”与第{seen[name]}行重复")
        seen.setdefault(name, r)
        unit = {"row": r, "name": name, "kind": _text(raw(cols.get("kind")))}
        for key, value in numbers.items():
            label = next(h for h, n in UNIT_COLUMNS.items() if n == key)
            unit[key] = _unit_number(value, key, label, r, cols, out)
        unit["workload"] = {k: _workload_number(raw(c), k, r, c, out) for k, c in workload.items()}
        units.append(unit)
    return units, list(workload)


def _unit_number(value, key, label, r, cols, out) -> float:
    if _blank(value) and key == "added":
        return 0.0  # no supplementary budget
    try:
        v = rules.number(value, label, kind=Kind.MONEY)
    except rules.RuleError as exc:
        out.add(SHEET_UNITS, cell_ref(r, cols.get(key, 1)), str(exc))
        return math.nan
    if v < 0:
        out.add(SHEET_UNITS, cell_ref(r, cols[key]), f"{label}不能为负数")
    return v


def _workload_number(value, label, r, c, out) -> float:
    if _blank(value):
        return math.nan
    try:
        return rules.number(value, label)
    except rules.RuleError as exc:
        out.add(SHEET_UNITS, cell_ref(r, c), str(exc))
        return math.nan


# ---------------------------------------------------------------- references (core/references.py)
def _read_sources(book, params, cells, profile, base, units, unit_rows, baselines, out) -> references.Sources:
    """What references can point at: units, budget, 基准对比, 问卷 (by 满意度口径), 专家评分 (by 专家评分方式)."""
    def setting(name, label, allowed, default, normalise=lambda x: x):
        text = _text(params.get(name))
        if not text:
            return default
        value = normalise(text)
        if value not in allowed:
            r, c = cells.get(name, (0, 0))
            out.add(SHEET_PARAMS, cell_ref(r, c) if r else "", f"{label}应为：{'、'.join(allowed)}")
            return default
        return value

    basis = setting("satisfaction_basis", "满意度口径", survey.BASES, profile.satisfaction_basis,
                    lambda t: survey.normalise_basis(t) or t)
    method = setting("expert_method", "专家评分方式", experts.METHODS, profile.expert_method)
    # as text: a live Excel book gives None where a file gives '' (the fingerprint must not differ by door)
    header = [_text(v) for v in unit_rows[HEADER_ROW - 1]] if len(unit_rows) >= HEADER_ROW else []
    while header and not header[-1]:  # nor by how far a door reads the used range
        header.pop()
    return references.Sources(units=units, unit_header=header, execution_base=base, baselines=baselines,
                              survey=survey.read_survey(book, basis, out.add, out.warn),
                              experts=experts.read_panels(book, method, out.add))


_REFERABLE = (("target", "目标值"), ("actual", "实际值"), ("given", "评定得分"))


def _resolve_references(values: dict, r: int, cols: dict, sources, resolved: dict,
                        out: _Collector) -> list[rules.RuleError]:
    """Replace each reference in the row's 目标值/实际值/评定得分 by its value (recorded in ``resolved``); warn
    where a typed 实际值 disagrees with the budget figure of the same name or a typed 评定得分 with its panel.
    Returns the RuleError of each reference that does not resolve (field = its cell's column; that cell keeps
    the typed text), every one of them, not only the first."""
    try:
        method = rules.canonical_method(values["method"])
    except rules.RuleError:
        method = None
    l3 = _text(values["l3"])
    context = None  # built for the rows that refer to something (most do not)
    panel = sources.experts.by_name().get(l3) if sources.experts is not None else None
    if method == "定性" and panel is not None and _blank(values["given"]):
        values["given"] = f"{references.KIND_EXPERTS}:{l3}"  # a 定性 row takes its panel by name
    bad = []
    for name, label in _REFERABLE:
        ref = references.parse(values[name])
        if ref is None:
            continue
        context = context or {**_row_context(values, method), "warn": out.warn, "l3": l3}
        try:
            found = references.resolve(ref, sources, context)
        except rules.RuleError as exc:
            bad.append(rules.RuleError(f"{label}{exc}", name))
            continue
        values[name] = found.value
        resolved.setdefault(r, {})[name] = found
    if bad:
        return bad
    typed = resolved.get(r, {})
    if "actual" not in typed and method not in (None, "定性", "扣分", "是否"):
        _check_computed(values, l3, r, cols, sources, out)
    if "given" not in typed and panel is not None and not _blank(values["given"]):
        _check_panel(values, panel, l3, r, cols, sources, method, out)
    return []


def _check_computed(values, l3, r, cols, sources, out) -> None:
    figure = references.computed_figure(l3)
    if figure is None or _blank(values["actual"]):
        return
    item = next(k for k, (name, _, _) in references.BUDGET_ITEMS.items() if name == figure)
    try:
        typed = rules.number(values["actual"], "实际值")
        found = references.resolve(references.parse(f"{references.KIND_BUDGET}:{item}"), sources)
    except rules.RuleError:
        return  # a bad 实际值 is reported by the rules; an incomplete budget by 单位填报's own checks
    if abs(typed - found.value) > 0.005:
        label = references.BUDGET_ITEMS[item][1]
        out.warn(SHEET_INDICATORS, cell_ref(r, cols["actual"]),
                 f"指标“{l3}”的实际值填写为{typed:g}，而按单位填报计算的{label}为{found.value:g}%"
                 f"（{'、'.join(found.cells)}），两者不一致；请改填“{references.KIND_BUDGET}:{item}”引用计算值")


def _row_context(values: dict, method: str | None) -> dict:
    """What a reference from this row needs to know of it (专家: points, level, method)."""
    return {"points": _safe_number(values["points"]), "level": _text(values["level"]), "method": method}


def _check_panel(values, panel, l3, r, cols, sources, method, out) -> None:
    try:
        typed = rules.number(values["given"], "评定得分")
        found = sources.experts.score(panel, f"{references.KIND_EXPERTS}:{l3}", _row_context(values, method))
    except rules.RuleError:
        return
    if abs(typed - found.value) > 0.005:
        out.warn(SHEET_INDICATORS, cell_ref(r, cols.get("given", cols["l3"])),
                 f"指标“{l3}”的评定得分填写为{typed:g}，而{found.cells[0]}专家评分结果为{found.value:g}，两者不一致；"
                 f"清空评定得分即取专家评分结果")


def _unused_panels(sources, indicators, out: _Collector) -> None:
    """A 专家评分 row that matches no 三级指标 is a warning (a misspelt name would otherwise be ignored)."""
    if sources.experts is None:
        return
    names = set(indicators["l3"].tolist())
    for p in sources.experts.panels:
        if p.name not in names:
            out.warn(SHEET_EXPERTS, cell_ref(p.row, sources.experts.columns["name"]),
                     f"“{p.name}”在指标体系中没有同名的三级指标，本行专家评分未使用")
