"""model._check_points is one pass over the rows (issue 16): its problems — text, cell and order —
are those of the previous group-by-mask walk (kept below as the reference, verbatim but for the later
分层权重 rule that the 一级权重 leave room for 预算执行分值, changed in both), on random
tables with every kind of points error, flat and nested, up to thousands of groups."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from dtg_xl.core import model as M
from dtg_xl.core.model import (SHEET_INDICATORS, TOLERANCE, WEIGHTING_NESTED, _Collector, _label,
                               cell_ref, col_letter)


def reference_check_points(model: Model, out: _Collector):
    """Points add up at every level (tolerance 0.005)."""
    t = model.indicators
    if not len(t["row"]):
        return
    cols = model.indicator_columns
    nested = model.weighting == WEIGHTING_NESTED

    def at(row, name):
        return cell_ref(int(row), cols.get(name, cols["points"]))

    points_range = f"{col_letter(cols['points'])}{t['row'][0]}:{col_letter(cols['points'])}{t['row'][-1]}"
    for l1 in _ordered(t["l1"]):
        in_l1 = t["l1"] == l1
        first_l1 = t["row"][in_l1][0]
        l2_sum = 0.0
        for l2 in _ordered(t["l2"][in_l1]):
            in_l2 = in_l1 & (t["l2"] == l2)
            first = t["row"][in_l2][0]
            declared = _declared_ref(t["l2_points"][in_l2], first, "l2_points", at, out)
            total = float(np.nansum(t["points"][in_l2]))
            if nested and math.isnan(declared):
                out.add(SHEET_INDICATORS, at(first, "l2_points"), f"分层权重方式下须填写“{l2}”的二级分值")
            elif not math.isnan(declared) and abs(declared - total) > TOLERANCE:
                out.add(SHEET_INDICATORS, at(first, "l2_points"),
                        f"二级指标“{l2}”的分值{declared:g}与其三级指标分值之和{total:g}不符")
            l2_sum += total if math.isnan(declared) else declared
        weight = _declared_ref(t["l1_weight"][in_l1], first_l1, "l1_weight", at, out)
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
        weights = [_first(t["l1_weight"][t["l1"] == l1]) for l1 in _ordered(t["l1"])]
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


def _ordered(values) -> list:
    return list(dict.fromkeys(values.tolist()))


def _first(values) -> float:
    present = values[~np.isnan(values)]
    return float(present[0]) if len(present) else math.nan


def _declared_ref(values, first_row, name, at, out) -> float:
    """The group's declared value; different values within one group are an error."""
    present = sorted(set(values[~np.isnan(values)].tolist()))  # (np.unique would import numpy.ma)
    if len(present) > 1:
        out.add(SHEET_INDICATORS, at(first_row, name),
                f"同一组内{_label(name)}不一致：{'、'.join(f'{v:g}' for v in present)}")
    return float(present[0]) if len(present) else math.nan




def _table(rng, n: int, groups: int, nested: bool):
    l1 = rng.integers(0, max(1, groups // 10), n)
    l2 = rng.integers(0, groups, n)
    points = np.round(rng.uniform(0, 10, n), 2)
    points[rng.random(n) < 0.05] = np.nan
    l1w = np.where(rng.random(n) < 0.3, np.round(rng.uniform(0, 40, n), 1), np.nan)
    l2p = np.where(rng.random(n) < (0.9 if nested else 0.3), np.round(rng.uniform(0, 30, n), 1), np.nan)
    return {"row": np.arange(4, n + 4), "l1": np.array([f"一级{v}" for v in l1], dtype=object),
            "l2": np.array([f"二级{v}" for v in l2], dtype=object), "points": points,
            "l1_weight": l1w, "l2_points": l2p}


def _model(table, nested: bool, full_marks=100.0, budget=0.0):
    return SimpleNamespace(indicators=table, indicator_columns={"l1": 1, "l2": 2, "l3": 3, "points": 6,
                                                                "l1_weight": 4, "l2_points": 5},
                           weighting=WEIGHTING_NESTED if nested else "平铺", full_marks=full_marks,
                           profile=SimpleNamespace(budget_score_points=budget))


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("n,groups", [(1, 1), (7, 2), (40, 3), (300, 40), (2000, 1000)])
def test_same_problems_as_the_group_by_mask_walk(nested, n, groups):
    rng = np.random.default_rng(n * 7 + groups + nested)
    for _ in range(5):
        model = _model(_table(rng, n, groups, nested), nested, budget=rng.choice([0.0, 10.0]))
        old, new = _Collector(), _Collector()
        reference_check_points(model, old)
        M._check_points(model, new)
        assert new.errors == old.errors
        assert old.errors or n == 1  # random tables do break the sums (the comparison is not vacuous)


def test_consistent_table_has_no_problem():
    t = {"row": np.arange(4, 8), "l1": np.array(["决策", "决策", "产出", "产出"], dtype=object),
         "l2": np.array(["目标", "目标", "数量", "质量"], dtype=object), "points": np.array([30.0, 20.0, 40.0, 10.0]),
         "l1_weight": np.array([50.0, np.nan, 50.0, np.nan]), "l2_points": np.array([50.0, 50.0, 40.0, 10.0])}
    out = _Collector()
    M._check_points(_model(t, False), out)
    assert out.errors == []
