"""Scoring policy (计分规则): how scores are rounded, capped, banded and warned about.

A profile's TOML sets the policy in a ``[scoring]`` table whose keys are the same Chinese labels
the 参数 sheet uses; each label in 参数 (column A) with a value in column B overrides the
profile for one workbook, and a blank value means "as the profile".  One parser (``parse_value``)
serves both, so a TOML value and a cell value mean the same thing.

| label          | values                                  | default  |
|----------------|-----------------------------------------|----------|
| 得分精度       | 0, 1 or 2 decimals                      | 2        |
| 取舍方式       | 四舍五入 (Excel ROUND) / 截尾 (ROUNDDOWN) | 四舍五入 |
| 超额完成       | 封顶 / 不封顶 (正向、等于 above target)   | 封顶     |
| 超额提示       | a percentage, or blank (no warning)     | blank    |
| 定性档次       | ``80/60``: lower bounds of 达成 / 部分达成 | 80/60    |
| 预算执行分值   | points of the budget-execution line      | profile's ``budget_score_points`` |
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from dtg_xl.errors import DtgError
from dtg_xl.core.excel_round import excel_round, excel_rounddown

ROUND_HALF_UP = "四舍五入"
ROUND_DOWN = "截尾"
CAPPED = "封顶"
UNCAPPED = "不封顶"

# 参数 label -> Policy field
LABELS = {
    "得分精度": "digits",
    "取舍方式": "rounding",
    "超额完成": "over",
    "超额提示": "over_warning",
    "定性档次": "qualitative",
    "预算执行分值": "budget_points",
}
HINTS = {
    "得分精度": "0、1 或 2（位小数），用于每个三级指标得分和预算执行得分",
    "取舍方式": f"{ROUND_HALF_UP}（Excel ROUND）或 {ROUND_DOWN}（Excel ROUNDDOWN，向零截断）",
    "超额完成": f"{CAPPED}（得分不超过分值）或 {UNCAPPED}（正向、等于指标超过目标时按 分值×实际值÷目标值 计分，总分可能超过满分）",
    "超额提示": "百分比，如 20：实际值超过目标值该比例时提示评价人确认是否按偏离度调减；空=不提示",
    "定性档次": "达成/部分达成的下限（%），如 80/60 或 80/50",
    "预算执行分值": "预算执行率一行的分值（0=无此行，常见 10 或 20）；得分=分值×执行率，不超过分值",
}
DIGIT_CHOICES = (0, 1, 2)


class PolicyError(DtgError):
    pass


@dataclass(frozen=True)
class Policy:
    digits: int = 2
    rounding: str = ROUND_HALF_UP
    over: str = CAPPED
    over_warning: float | None = None  # percent above target that triggers a warning
    qualitative: tuple[float, float] = (80.0, 60.0)  # lower bounds (%) of 达成 / 部分达成
    budget_points: float = 0.0

    @property
    def capped(self) -> bool:
        return self.over == CAPPED

    def round(self, x):
        """A score rounded by the policy (scalar or array), as Excel's ROUND or ROUNDDOWN."""
        if self.rounding == ROUND_DOWN:
            return excel_rounddown(x, self.digits)
        return excel_round(x, self.digits)

    def levels(self) -> dict[str, tuple[float, float]]:
        """定性 level -> (low, high) shares of the points, from 定性档次."""
        full, part = self.qualitative
        return {
            "达成年度指标": (full / 100, 1.0),
            "部分达成年度指标并具有一定效果": (part / 100, full / 100),
            "未达成年度指标且效果较差": (0.0, part / 100),
        }

    def values(self) -> dict[str, str]:
        """Each policy value as the text a 参数 cell would hold."""
        return {
            "得分精度": str(self.digits),
            "取舍方式": self.rounding,
            "超额完成": self.over,
            "超额提示": "" if self.over_warning is None else f"{self.over_warning:g}%",
            "定性档次": f"{self.qualitative[0]:g}/{self.qualitative[1]:g}",
            "预算执行分值": f"{self.budget_points:g}",
        }

    def describe(self) -> str:
        """One line: 得分精度2位·四舍五入·封顶·超额提示无·定性80/60·预算执行0分."""
        v = self.values()
        warn = v["超额提示"] or "无"
        return (f"得分精度{v['得分精度']}位 {v['取舍方式']} 超额{v['超额完成']} 超额提示{warn} "
                f"定性档次{v['定性档次']} 预算执行{v['预算执行分值']}分")


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _number(label: str, value) -> float:
    if isinstance(value, bool):
        raise PolicyError(f"{label}应为数字，实际为“{value}”")
    try:
        number = float(value) if not isinstance(value, str) else float(value.strip().rstrip("%").strip())
    except (TypeError, ValueError):
        raise PolicyError(f"{label}应为数字，实际为“{value}”") from None
    if not math.isfinite(number):
        raise PolicyError(f"{label}应为有限数字")
    return number


_BANDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*[/／、,，]\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def parse_value(label: str, value):
    """A 参数 cell's (or TOML key's) value as the Policy field's value; PolicyError if not valid.
    ``None`` for a blank value (= as the profile)."""
    text = _text(value)
    if value is None or text == "":
        return None
    if label == "得分精度":
        n = _number(label, value)
        if n not in DIGIT_CHOICES:
            raise PolicyError(f"得分精度应为0、1或2（位小数），实际为“{text}”")
        return int(n)
    if label == "取舍方式":
        if text not in (ROUND_HALF_UP, ROUND_DOWN):
            raise PolicyError(f"取舍方式应为“{ROUND_HALF_UP}”或“{ROUND_DOWN}”，实际为“{text}”")
        return text
    if label == "超额完成":
        if text not in (CAPPED, UNCAPPED):
            raise PolicyError(f"超额完成应为“{CAPPED}”或“{UNCAPPED}”，实际为“{text}”")
        return text
    if label == "超额提示":
        n = _number(label, value)
        if isinstance(value, float) and not isinstance(value, bool) and 0 < n < 1 and "%" not in text:
            # a cell formatted as percent holds 0.2 for 20%: ambiguous with "0.2%", so refuse
            raise PolicyError(f"超额提示应写百分数，如“20”或“20%”，实际为“{text}”（若指0.2%请写“0.2%”）")
        if n <= 0:
            raise PolicyError(f"超额提示应为大于0的百分数，实际为“{text}”")
        return n
    if label == "定性档次":
        m = _BANDS.match(text)
        if not m:
            raise PolicyError(f"定性档次应写成“达成下限/部分达成下限”，如“80/60”，实际为“{text}”")
        full, part = float(m.group(1)), float(m.group(2))
        if not 0 < part < full < 100:
            raise PolicyError(f"定性档次应满足 0 < 部分达成下限 < 达成下限 < 100，实际为“{text}”")
        return (full, part)
    if label == "预算执行分值":
        n = _number(label, value)
        if n < 0:
            raise PolicyError(f"预算执行分值不能为负数，实际为“{text}”")
        return n
    raise PolicyError(f"未知的计分规则“{label}”，可用：{'、'.join(LABELS)}")


def with_values(policy: Policy, values: dict) -> Policy:
    """``policy`` with the given {label: raw value} applied (blank values keep the policy's);
    raises PolicyError naming the first bad label."""
    changes = {}
    for label, raw in values.items():
        if label not in LABELS:
            raise PolicyError(f"未知的计分规则“{label}”，可用：{'、'.join(LABELS)}")
        parsed = parse_value(label, raw)
        if parsed is not None:
            changes[LABELS[label]] = parsed
    return replace(policy, **changes) if changes else policy


def from_profile_data(data: dict, budget_points: float) -> Policy:
    """The policy of a profile's TOML: its ``[scoring]`` table over the defaults;
    ``budget_score_points`` (the older key) gives 预算执行分值 when the table does not."""
    table = data.get("scoring", {})
    if not isinstance(table, dict):
        raise PolicyError("[scoring] 应为表")
    return with_values(Policy(budget_points=float(budget_points)), table)
