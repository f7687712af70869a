"""Budget execution figures (调整后预算, 资金到位率, 预算执行率) of one unit or of a sum of units.

Kept apart from the engine so that the model can resolve a ``预算:<项目>`` reference (core/references.py)
with the very formula the engine reports, without the model importing the engine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.schema import EXECUTION_BASES


@dataclass
class Budget:
    initial: float
    added: float
    adjusted: float
    in_place: float
    spent: float
    in_place_rate: float  # percent, 2 dp
    execution_rate: float  # percent, 2 dp

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _percent(numerator: float, denominator: float) -> float:
    if not denominator:
        return math.nan
    return excel_round(numerator / denominator * 100, 2)


def budget_of(rows: list[dict], base: str) -> Budget:
    """Budget execution of one unit or of a sum: 调整后 = 年初 + 追加; 到位率 = 到位 / 调整后;
    执行率 = 支出 / (实际到位 or 调整后预算, by the chosen base)."""
    initial = sum(u["initial"] for u in rows)
    added = sum(u["added"] for u in rows)
    adjusted = excel_round(initial + added, 6)
    in_place = sum(u["in_place"] for u in rows)
    spent = sum(u["spent"] for u in rows)
    denominator = in_place if EXECUTION_BASES[base] == "in_place" else adjusted
    return Budget(excel_round(initial, 6), excel_round(added, 6), adjusted, excel_round(in_place, 6),
                  excel_round(spent, 6), _percent(in_place, adjusted), _percent(spent, denominator))
