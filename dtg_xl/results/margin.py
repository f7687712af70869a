"""Grade margin: how far the total is from the grade edges, and which single loss decides it.

Definitions (grades are inclusive lower bounds, best first, e.g. 优≥90 / 良≥80 / 中≥70 / 差):
- ``down`` = total − the current grade's lower bound: points that can still be lost without
  falling a grade (losing more than this, i.e. ``down + 0.01`` at 2 dp, drops the grade).
  None for the lowest grade (nothing below it).
- ``up`` = the next better grade's lower bound − total: points needed to reach it.  None for
  the top grade.
- ``decisive``: every loss (an indicator below its points, or the budget-execution line of a
  profile that scores it) that, restored to full alone, would change the grade; its re-total
  uses the engine's own subtotals (``categories_of``), so 分层权重 weights and ROUND apply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from dtg_xl.core.engine import Result, categories_of
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.profiles import Profile, load_profile


@dataclass
class Decisive:
    row: int | None  # 指标体系 row; None for the budget-execution line
    l1: str
    l2: str
    l3: str
    lost: float
    total_if: float
    grade_if: str


@dataclass
class Margin:
    total: float
    grade: str
    lower: float  # current grade's lower bound
    down: float | None  # total − lower (None for the lowest grade)
    grade_below: str | None
    up: float | None  # next grade's lower bound − total (None for the top grade)
    grade_above: str | None
    upper: float | None  # next grade's lower bound
    decisive: list[Decisive] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def down_text(self) -> str:
        if self.grade_below is None:
            return f"已是最低等次“{self.grade}”"
        return (f"高于“{self.grade}”下限（{self.lower:g}分）{self.down:.2f} 分，"
                f"低于{self.lower:g}分为“{self.grade_below}”")

    @property
    def up_text(self) -> str:
        if self.grade_above is None:
            return f"已是最高等次“{self.grade}”"
        return f"距“{self.grade_above}”下限（{self.upper:g}分）还差 {self.up:.2f} 分"

    @property
    def decisive_text(self) -> str:
        if self.grade_above is None:
            return "无（已是最高等次）"
        if not self.decisive:
            return "无（任何一项失分单独挽回都不改变等次）"
        return "；".join(f"{d.l3}（失{d.lost:g}分，挽回后{d.total_if:g}分“{d.grade_if}”）" for d in self.decisive)


def grade_margin(total: float, profile: Profile | str | None) -> Margin:
    """Distances to the grade edges for a total under a profile (name, path or Profile)."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    total = float(excel_round(float(total), 2))
    grades = profile.grades  # best first
    k = next((i for i, (_, lower) in enumerate(grades) if total >= lower), len(grades) - 1)
    name, lower = grades[k]
    below = grades[k + 1][0] if k + 1 < len(grades) else None
    down = float(excel_round(total - lower, 2)) if below is not None else None
    above, upper = grades[k - 1] if k > 0 else (None, None)
    up = float(excel_round(upper - total, 2)) if above is not None else None
    return Margin(total, name, lower, down, below, up, above, upper)


def result_margin(result: Result) -> Margin | None:
    """The margin of an evaluated result, with the losses that alone would change its grade
    (computed once per result: the summary, the JSON and the CLI text all ask for it)."""
    if not result.ok or result.total is None:
        return None
    cached = result.__dict__.get("_margin")
    if cached is not None and cached.total == result.total:
        return cached
    result.__dict__["_margin"] = margin = _result_margin(result)
    return margin


def _result_margin(result: Result) -> Margin:
    model = result.model
    profile = model.profile
    margin = grade_margin(result.total, profile)
    if margin.grade_above is None:
        return margin  # restoring points cannot lower a grade, and nothing is above the top one
    t = model.indicators
    budget = result.budget_score or 0.0
    lost_all = t["points"] - result.scores
    # a restored loss adds at most itself (a 一级 weight is ≤ 100%) plus two ROUNDs of 0.005:
    # only losses within reach of the next grade are re-totalled exactly
    others = {c.name: sum(x.score for x in result.categories if x is not c) for c in result.categories}
    parts: dict[str, tuple] = {}  # 一级 -> (model restricted to it, its rows) for the engine's subtotal
    for i in np.flatnonzero((lost_all > 0.004) & (lost_all + 0.02 >= margin.up)):
        l1 = t["l1"][i]
        if l1 not in parts:
            rows = np.flatnonzero(t["l1"] == l1)
            parts[l1] = (replace(model, indicators={k: v[rows] for k, v in t.items()}), rows)
        sub, rows = parts[l1]
        scores = result.scores[rows].copy()
        scores[np.searchsorted(rows, i)] = t["points"][i]
        [cat] = categories_of(sub, scores)  # only this 一级's subtotal changes
        total_if = float(excel_round(others[l1] + cat.score + budget, 2))
        grade_if = profile.grade(total_if)
        if grade_if != result.grade:
            lost = float(excel_round(float(t["points"][i] - result.scores[i]), 2))
            margin.decisive.append(Decisive(int(t["row"][i]), t["l1"][i], t["l2"][i], t["l3"][i],
                                            lost, total_if, grade_if))
    if profile.budget_score_points and budget < profile.budget_score_points:
        lost = float(excel_round(profile.budget_score_points - budget, 2))
        total_if = float(excel_round(result.total + lost, 2))
        if profile.grade(total_if) != result.grade:
            margin.decisive.append(Decisive(None, "预算执行", "", "预算执行率", lost, total_if,
                                            profile.grade(total_if)))
    return margin
