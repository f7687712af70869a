"""The workbook contract: sheet names and headers users see (Chinese) and the names code uses.

Columns are found by header text, not position, so a template may add or reorder columns.
"""
from __future__ import annotations

TEMPLATE_VERSION = "dtg-1"

SHEET_GUIDE = "说明"
SHEET_PARAMS = "参数"
SHEET_INDICATORS = "指标体系"
SHEET_UNITS = "单位填报"
SHEET_SUMMARY = "汇总"
SHEET_REPORT_TEXT = "报告文字"  # free text of the Word report: label in A, text in B

# 报告文字: label -> what to write there (the hint shown in column C); the report places each
# text in its section, and an empty one becomes a marked placeholder, never invented text
REPORT_TEXT = {
    "项目概况": "项目设立背景、资金用途、实施单位、预算安排等",
    "绩效目标": "总体目标和阶段性目标完成情况",
    "评价目的": "为什么开展本次评价",
    "评价对象": "评价的单位或项目",
    "评价范围": "评价的资金范围和基准日",
    "评价原则": "评价原则，每条一段",
    "评价方法": "评价方式和方法（等级划分由程序按评价方案生成）",
    "工作过程": "评价工作的组织和过程",
    "评价结论说明": "综合得分句之后的结论性文字",
    "指标分析-决策": "项目决策情况分析",
    "指标分析-过程": "项目过程情况分析",
    "指标分析-产出和效益": "项目产出和效益情况分析",
    "经验做法": "主要经验及做法，每条一段",
    "相关建议": "相关建议，每条一段",
}

HEADER_ROW = 1  # header row of 指标体系 and 单位填报; data starts on the row below

# 指标体系: header -> internal name, in template order
INDICATOR_COLUMNS = {
    "一级指标": "l1",
    "一级权重": "l1_weight",
    "二级指标": "l2",
    "二级分值": "l2_points",
    "三级指标": "l3",
    "分值": "points",
    "评分方法": "method",
    "评分标准": "criteria",
    "目标值": "target",
    "实际值": "actual",
    "计量单位": "unit",
    "定性等级": "level",
    "评定得分": "given",
    "扣分": "deduction",
    "扣分原因": "reason",
    "偏差原因": "deviation_reason",  # why a quantitative indicator missed its target
    "改进措施": "improvement",
    "得分": "score",
    "公式得分": "formula_score",  # written by the program: the rule's own result before an adjustment
    "调整原因": "adjust_reason",  # why 评定得分 on a row that is not 定性 replaces the rule's result
}
INDICATOR_REQUIRED = ("一级指标", "二级指标", "三级指标", "分值", "评分方法", "得分")

# 单位填报: header -> internal name; the workload columns after these are free (因素法 factors)
UNIT_COLUMNS = {
    "单位名称": "name",
    "单位类别": "kind",
    "年初预算": "initial",
    "追加预算": "added",
    "实际到位": "in_place",
    "实际支出": "spent",
}
UNIT_NOT_WORKLOAD = ("序号", "备注")
MONEY_COLUMNS = ("年初预算", "追加预算", "实际到位", "实际支出")  # 万元: a percentage is refused here

# 参数: label in column A -> internal name; value in column B
PARAMS = {
    "项目名称": "project",
    "评价年度": "year",
    "评价方案": "profile",
    "计分方式": "weighting",
    "总分": "full_marks",
    "预算执行率口径": "execution_base",
    "模板版本": "template_version",
    "收件人": "mail_to",  # dtg-xl mail: default recipients (分号分隔) and sender
    "发件人": "mail_from",
    # 计分规则 (dtg_xl.core.policy.LABELS): blank = as the profile
    "得分精度": "score_digits",
    "取舍方式": "rounding",
    "超额完成": "over",
    "超额提示": "over_warning",
    "定性档次": "qualitative",
    "预算执行分值": "budget_points",
}
POLICY_PARAMS = ("得分精度", "取舍方式", "超额完成", "超额提示", "定性档次", "预算执行分值")

# 基准对比: a baseline-year value and this year's value give 压缩率 = (基准值 − 当年值) / 基准值 × 100.
# An indicator takes it by holding the text "基准对比:<指标>" in its 实际值 cell (resolved by the
# model before scoring; a formula =基准对比!F2 would have no cached value when read headless).
SHEET_BASELINES = "基准对比"
BASELINE_COLUMNS = {"指标": "name", "基准年": "base_year", "基准值": "base", "当年值": "current",
                    "计量单位": "unit", "压缩率": "rate", "说明": "note"}
BASELINE_REF = ("基准对比:", "基准对比：")  # accepted prefixes of a 实际值 reference

# 因素法 allocation (dtg-xl allocate): inputs on 分配参数, proposal written to 分配建议
SHEET_ALLOC_PARAMS = "分配参数"
SHEET_ALLOCATION = "分配建议"
ALLOC_TOTAL_LABEL = "下年度资金总额（万元）"
ALLOC_FACTOR_HEADERS = ("因素名称", "权重", "取值来源列")
ALLOC_GRADE_HEADERS = ("等次", "系数")
LAST_SCORE_COLUMN = "上年评价得分"  # 单位填报 column: each unit's last evaluation score

WEIGHTING_FLAT = "逐级累加"
WEIGHTING_NESTED = "分层权重"
EXECUTION_BASES = {"实际到位": "in_place", "调整后预算": "adjusted"}
