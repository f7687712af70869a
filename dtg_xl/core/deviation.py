"""偏差原因: a quantitative indicator that missed its target needs a written reason.

The official self-evaluation form asks, for every indicator not met, why (偏差原因) and what
will be done (改进措施).  A missing reason is a warning, not an error: the score stands, the
evaluator is reminded before the report goes out.
"""
from __future__ import annotations

import numpy as np

from dtg_xl.xlsx.cells import cell_ref
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.model import Model, Problem
from dtg_xl.core.schema import SHEET_INDICATORS

# methods scored from numbers against a target; 定性 and 扣分 carry their own judgement/reason
QUANTITATIVE = ("正向", "反向", "反向比值", "等于", "排名", "要素", "分档", "是否", "阶梯扣分", "偏离度", "公式")
# methods where "above the target" means over-achievement (超额提示, 财预〔2020〕10号 按偏离度适度调减)
HIGHER_IS_BETTER = ("正向", "等于")
WARNING_PREFIX = "提示"


def deviation_warnings(model: Model, scores: np.ndarray) -> list[Problem]:
    """One warning per quantitative indicator scored below its points with 偏差原因 blank."""
    t = model.indicators
    cols = model.indicator_columns
    has_column = "deviation_reason" in cols
    reasons = t.get("deviation_reason", np.full(len(t["row"]), "", dtype=object))
    out = []
    for i in np.flatnonzero(np.isin(t["method"], QUANTITATIVE)):
        lost = float(t["points"][i]) - float(scores[i])
        if lost <= 0.004 or reasons[i]:  # scores are 2-dp; below half a cent is equal
            continue
        row = int(t["row"][i])
        what = f"指标“{t['l3'][i]}”得分{float(scores[i]):g}，低于分值{float(t['points'][i]):g}"
        if has_column:
            out.append(Problem(SHEET_INDICATORS, cell_ref(row, cols["deviation_reason"]),
                               f"{what}，请填写偏差原因（及改进措施）"))
        else:  # an older workbook without the column: point at the indicator itself
            out.append(Problem(SHEET_INDICATORS, cell_ref(row, cols["l3"]),
                               f"{what}；表中没有“偏差原因”列，请在“扣分原因”后插入“偏差原因”“改进措施”两列并填写"))
    return out


def over_warnings(model: Model, total: float | None) -> list[Problem]:
    """超额提示: a 正向/等于 (or 正向 阶梯扣分) actual more than the policy's percentage above its
    target is a warning naming the 实际值 cell; a total above 总分 (超额完成=不封顶) is one too."""
    policy = model.profile.policy
    t = model.indicators
    cols = model.indicator_columns
    out = []
    if policy.over_warning is not None:
        stepped_up = np.array([m == "阶梯扣分" and not getattr(b, "reverse", True)
                               for m, b in zip(t["method"].tolist(), t["bands"].tolist())], dtype=bool)
        candidates = np.isin(t["method"], HIGHER_IS_BETTER) | stepped_up
        for i in np.flatnonzero(candidates):
            target, actual = float(t["target"][i]), float(t["actual"][i])
            if not target > 0 or np.isnan(actual):
                continue
            over = excel_round((actual - target) / target * 100, 2)
            if over > policy.over_warning:
                out.append(Problem(SHEET_INDICATORS, cell_ref(int(t["row"][i]), cols.get("actual", cols["l3"])),
                                   f"指标“{t['l3'][i]}”超额完成{over:g}%，目标值可能偏低，请评价人确认是否按偏离度调减"))
    if total is not None and total > model.full_marks + 0.004:
        out.append(Problem("", "", f"综合得分{total:g}超过总分{model.full_marks:g}（超额完成为“不封顶”，超过目标的指标按 分值×实际值÷目标值 计分）"))
    return out
