"""Issue 12 acceptance: real published 项目支出绩效自评表, typed through the template's headers.

Each table was found with the project's search tool (corpus "pages"); the stored copy is the
page's text as published, sometimes cut off before its last rows.  Every row the stored copy
shows is typed as the table states it (年度指标值 → 目标值, 实际完成值 → 实际值, 分值 → 分值) with a
method that follows from the indicator's wording (指标性质 ≥ → 正向, ≤ → 反向, = → 等于; a row
stated in words, e.g. 达成预期指标 / 有效 / 显著, → 是否 with 是 / 是); budget figures go to
单位填报 (年初预算 / 实际到位 / 实际支出).  The published 得分 is compared with, never typed in,
with one exception: a score no rule gives from the row's own figures (a met target scored 7 of
10) is the evaluator's, typed as 评定得分 with a 调整原因 — the table's own 偏差原因 wording when
it has one, otherwise a note saying the table gives none (each such row is named in its test).
Where a form prints 得分 but no per-row 分值 (the 20/80 forms), the 分值 are inferred and the test
says how.  Where the copy stops early, the rows it does not show are left out and 总分 is
lowered by their points (said in each test).  Where the published table contradicts its own
figures, the test asserts what the tool does instead and says why.
"""
from __future__ import annotations

from dtg_xl.delivery.template import write_template

from helpers import run_json


def ind(l1, l2, l3, points, method, target=None, actual=None, **cells):
    row = {"一级指标": l1, "二级指标": l2, "三级指标": l3, "分值": points, "评分方法": method, **cells}
    if target is not None:
        row["目标值"] = target
    if actual is not None:
        row["实际值"] = actual
    return row


def evaluate(tmp_path, capsys, params, indicators, units, name="t.xlsx"):
    path = write_template(tmp_path / name, data={"params": params, "indicators": indicators, "units": units})
    return run_json(["evaluate", path], capsys)


def by_name(data) -> dict[str, float]:
    return {i["l3"]: i["score"] for i in data["indicators"]}


# ---------------------------------------------------------------- 1. 河北 廊坊
LANGFANG_URL = "http://www.lfsp.cn/newsinfo/1158053.html"  # 廊坊市食品工程学校 2019年度 暖通改造经费 项目支出绩效自评表
LANGFANG_ROWS = [  # (一级, 二级, 三级, 年度指标值, 实际完成值, 分值, published 得分)
    ("产出指标", "数量指标", "工程资金金额", 43.2, 37.24, 10, 9),
    ("产出指标", "质量指标", "工程完工率", 100, 100, 10, 10),
    ("产出指标", "质量指标", "工程验收合格率", 100, 100, 10, 10),
    ("产出指标", "时效指标", "项目完成及时率", 100, 100, 10, 10),
    ("产出指标", "成本指标", "成本控制率", 100, 100, 10, 10),
    ("效益指标", "经济效益指标", "安全率", 100, 100, 10, 10),
    ("效益指标", "社会效益指标", "学校发展能力", 100, 100, 10, 10),
    ("效益指标", "可持续影响指标", "长期使用性", 100, 100, 10, 10),
    ("满意度指标", "服务对象满意度指标", "学生满意度", 100, 100, 10, 10),
]
LANGFANG_UNITS = [{"单位名称": "廊坊市食品工程学校", "年初预算": 43.2, "实际到位": 43.2, "实际支出": 37.24}]


def _langfang(tmp_path, capsys, **params):
    rows = [ind(l1, l2, l3, pts, "正向", t, a) for l1, l2, l3, t, a, pts, _ in LANGFANG_ROWS]
    return evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", **params}, rows, LANGFANG_UNITS)


def test_langfang_2019_whole_points(tmp_path, capsys):
    """Published: 工程资金金额 43.2 → 37.24 scores 9 of 10, and the budget line (43.2 budget,
    37.24 spent, 执行率 86%) scores 9 of 10: both are 10 × 86.2% = 8.62 taken to whole points
    (得分精度 0, 四舍五入).  The stored copy ends before the 总分 line; the row scores it shows
    add up to 98, and that is what the tool gives."""
    code, data = _langfang(tmp_path, capsys, 得分精度=0)
    assert code == 0, data["errors"]
    assert by_name(data) == {l3: published for _, _, l3, _, _, _, published in LANGFANG_ROWS}
    assert data["budget"]["execution_rate"] == 86.2 and data["budget_score"] == 9
    assert data["total"] == sum(r[-1] for r in LANGFANG_ROWS) + 9 == 98 and data["grade"] == "优"


def test_langfang_2019_needs_whole_points(tmp_path, capsys):
    """At the default 2 decimals the same inputs give 8.62, not the published 9: the published
    table uses whole points, which is why 得分精度 exists."""
    code, data = _langfang(tmp_path, capsys)
    assert code == 0 and by_name(data)["工程资金金额"] == 8.62 and data["budget_score"] == 8.62
    assert data["total"] == 97.24


# ---------------------------------------------------------------- 2./3. 安徽 池州 贵池区 棠溪镇
TANGXI_ENTRUST_URL = "http://www.anthempetcare.com/upload_cz/download?id=502364&siteId=2"  # 委托业务项目 2022年度
TANGXI_VILLAGE_URL = "http://www.anthempetcare.com/upload_cz/download?id=502367&siteId=2"  # 村级补助及运转经费 2022年度
# (both are the 棠溪镇人民政府's attachments "项目支出绩效自评表（2022年度）", one form, two projects)

YES = {"目标值": "是", "实际值": "是"}  # 定性 rows published as “达成预期指标” with full marks: met = 是

TANGXI_ENTRUST_ROWS = [  # (一级, 二级, 三级, method, 目标值, 实际值, 分值, published 得分)
    ("产出指标", "数量指标", "基建工程委托业务项目数量", "正向", 50, 50, 8, 8),  # ≥50个
    ("产出指标", "质量指标", "委托业务报告合格率", "正向", 100, 100, 8, 8),  # ≥100百分比
    ("产出指标", "质量指标", "经费支出合规性", "是否", None, None, 8, 8),  # 严格执行相关制度规定 / 达成预期指标
    ("产出指标", "时效指标", "提交报告及时性", "是否", None, None, 8, 8),
    ("产出指标", "成本指标", "项目总成本", "反向", 90, 90, 8, 8),  # ≤90万元
    ("产出指标", "成本指标", "单项业务成本", "是否", None, None, 10, 10),
    ("效益指标", "社会效益指标", "对维护基建市场公平的影响程度", "是否", None, None, 10, 10),
    ("效益指标", "生态效益指标", "对控制基建项目成本影响程度", "是否", None, None, 10, 10),
    ("效益指标", "可持续影响指标", "对推动基建项目“四项制度”健全和落实的持续性影响", "是否", None, None, 10, 10),
]
TANGXI_VILLAGE_ROWS = [
    ("产出指标", "数量指标", "补助村（社区）数量", "等于", 8, 8, 8, 8),  # =8个
    ("产出指标", "数量指标", "保障村干部人数", "等于", 42, 42, 8, 8),  # =42个
    ("产出指标", "质量指标", "补助资格合规性", "是否", None, None, 8, 8),
    ("产出指标", "质量指标", "经费审批流程规范性", "是否", None, None, 8, 8),
    ("产出指标", "时效指标", "补助经费到位及时性", "是否", None, None, 8, 8),
    ("产出指标", "成本指标", "项目总成本", "反向", 202.6, 132.9, 10, 10),  # ≤202.6万元, 132.9
    ("效益指标", "经济效益指标", "对保障村（社区）两委机构正常运行的影响程度", "是否", None, None, 10, 10),
    ("效益指标", "社会效益指标", "提高村（社区）干部工作积极性的影响程度", "是否", None, None, 10, 10),
]


def _tangxi_rows(rows):
    out = []
    for l1, l2, l3, method, t, a, pts, _ in rows:
        out.append(ind(l1, l2, l3, pts, method, t, a, **(YES if method == "是否" else {})))
    return out


def _tangxi(tmp_path, capsys, rows, full_marks, budget, spent, name):
    units = [{"单位名称": "池州市贵池区棠溪镇人民政府", "年初预算": budget, "实际到位": budget, "实际支出": spent}]
    return evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", "总分": full_marks}, _tangxi_rows(rows), units, name)


def test_tangxi_entrust_2022_rows(tmp_path, capsys):
    """Every indicator row the stored copy shows is reproduced.  The copy stops inside
    “满意度指标（10分）”, so that row is left out and 总分 is 90 (产出50 + 效益30 + 预算执行10)."""
    code, data = _tangxi(tmp_path, capsys, TANGXI_ENTRUST_ROWS, 90, 90, 89.974, "entrust.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in TANGXI_ENTRUST_ROWS}


def test_tangxi_entrust_2022_budget_line_is_inconsistent(tmp_path, capsys):
    """The published budget line is inconsistent with its own figures: its 年度资金总额 row reads
    0 / 0 / 0 with 执行率 0 and 得分 0, while the 本年财政拨款 row beneath it reads 90 / 89.974 /
    89.974 (99.97%).  Typed as the 年度资金总额 row (budget 0) the tool refuses to score a budget
    line worth 10 points against no budget; typed as the 拨款 row it gives 10 × 99.97% = 9.997
    → 10, not the published 0."""
    code, data = _tangxi(tmp_path, capsys, TANGXI_ENTRUST_ROWS, 90, 0, 0, "zero.xlsx")
    assert code == 2 and data["total"] is None
    assert data["errors"][0]["sheet"] == "单位填报" and "无法计算预算执行率" in data["errors"][0]["message"]
    code, data = _tangxi(tmp_path, capsys, TANGXI_ENTRUST_ROWS, 90, 90, 89.974, "grant.xlsx")
    assert code == 0 and data["budget"]["execution_rate"] == 99.97 and data["budget_score"] == 10  # published: 0


def test_tangxi_village_2022_rows_and_budget_line(tmp_path, capsys):
    """Every indicator row the stored copy shows is reproduced, including 项目总成本 (≤202.6万元,
    132.9 spent: full 10 as 反向).  The copy stops inside 可持续影响指标, so that row and the
    满意度 row (20 points together) are left out: 总分 80.  The budget line has the same
    inconsistency as the entrust table (年度资金总额 0 / 0 / 0 → 得分 0, 拨款 202.64 / 132.912):
    from the 拨款 figures the tool gives 10 × 65.59% = 6.56, not the published 0."""
    code, data = _tangxi(tmp_path, capsys, TANGXI_VILLAGE_ROWS, 80, 202.64, 132.912, "village.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in TANGXI_VILLAGE_ROWS}
    assert data["budget"]["execution_rate"] == 65.59 and data["budget_score"] == 6.56
    code, data = _tangxi(tmp_path, capsys, TANGXI_VILLAGE_ROWS, 80, 0, 0, "village0.xlsx")
    assert code == 2 and "无法计算预算执行率" in data["errors"][0]["message"]


# ---------------------------------------------------------------- 4. 湖南 岳阳
YUEYANG_AUDIT_URL = "http://czj.yueyang.gov.cn/9689/24522/content_1562538.html"  # 岳阳市审计局2018年部门整体支出绩效评价评分表
# This form publishes each row's 评分标准, 分值 and 自评得分 but not the measured values.  Each
# published rule is typed as a 评分标准 of the new methods; the 实际值 are the values the
# published score implies (the boundary value where a rule has a range), marked as inferred.
# The stored copy stops inside 预算管理 (资金使用合规性), so the test covers 投入 and 预算执行
# (15 + 15 points) and 管理制度健全性, with 总分 33.
YUEYANG_ROWS = [  # (二级, 三级, 分值, method, 评分标准, 目标值, 实际值 (inferred), published 自评得分)
    ("预算配置", "财政供养人员控制率", 5, "阶梯扣分", "起扣线=100；步长=1；每步扣分=0.5；方向=反向", None, 100, 5),
    ("预算配置", "“三公经费”变动率", 5, "阶梯扣分", "起扣线=0；步长=1；每步扣分=0.5；方向=反向", None, 0, 5),
    ("预算配置", "重点支出安排率", 5, "分档", "≥90:100%；≥80:80%；≥70:60%；≥60:40%", None, 90, 5),
    ("预算执行", "预算调整率", 3, "公式", "=IF(实际值=0, 3, IF(实际值<=10, 2, IF(实际值<=20, 1, IF(实际值<=30, 0.5, 0))))", None, 0, 3),
    ("预算执行", "支付进度", 3, "扣分", "每出现一个专项未按进度完成资金下达扣0.5分，扣完为止", None, None, 3),
    ("预算执行", "资金结余", 3, "公式", "=IF(实际值=0, 3, IF(实际值<=目标值, 2, 0))", 1, 1, 2),  # 有结余，但不超过上年结转
    ("预算执行", "“三公经费”控制率", 6, "阶梯扣分", "起扣线=100；步长=1；每步扣分=1；方向=反向", None, 100, 6),
    ("预算管理", "管理制度健全性", 3, "要素", "①有管理办法和制度 ②合法合规完整 ③得到有效执行，各1分", 3, 3, 3),
]
L1 = {"预算配置": "投入", "预算执行": "过程", "预算管理": "过程"}


def _yueyang_rows(rows):
    out = []
    for l2, l3, pts, method, criteria, t, a, _ in rows:
        row = ind(L1[l2], l2, l3, pts, method, t, a, 评分标准=criteria)
        if method == "扣分":
            row["扣分"] = 0
        out.append(row)
    return out


def test_yueyang_audit_2018_published_rules(tmp_path, capsys):
    code, data = evaluate(tmp_path, capsys, {"评价方案": "mof-2020", "总分": 33}, _yueyang_rows(YUEYANG_ROWS),
                          [{"单位名称": "岳阳市审计局", "年初预算": 1, "实际到位": 1, "实际支出": 1}], "yueyang.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[1]: r[-1] for r in YUEYANG_ROWS}
    assert data["total"] == sum(r[-1] for r in YUEYANG_ROWS) == 32


def test_yueyang_audit_2018_rules_one_step_beyond(tmp_path, capsys):
    """The same rules one step past the published (inferred) values lose exactly what the
    published wording says: 控制率 101% −0.5, 变动率 +2 points −1, 安排率 89.99% → 4, 调整率 10.01% → 1,
    结余 above 结转 → 0."""
    beyond = {"财政供养人员控制率": 101, "“三公经费”变动率": 2, "重点支出安排率": 89.99, "预算调整率": 10.01,
              "资金结余": 1.01}
    expected = {"财政供养人员控制率": 4.5, "“三公经费”变动率": 4, "重点支出安排率": 4, "预算调整率": 1, "资金结余": 0}
    rows = [(l2, l3, pts, m, c, t, beyond.get(l3, a), s) for l2, l3, pts, m, c, t, a, s in YUEYANG_ROWS]
    code, data = evaluate(tmp_path, capsys, {"评价方案": "mof-2020", "总分": 33}, _yueyang_rows(rows),
                          [{"单位名称": "岳阳市审计局", "年初预算": 1, "实际到位": 1, "实际支出": 1}], "beyond.xlsx")
    assert code == 0, data["errors"]
    assert {k: v for k, v in by_name(data).items() if k in expected} == expected


# ---------------------------------------------------------------- 5. 云南 保山 施甸县
SHIDIAN_URL = "https://shidian.gov.cn/info/4312/182383.htm"  # 施甸县农业农村局 2019年新型农业经营主体扶持项目 项目支出绩效自评表
# The 20/80 form: “预算执行情况(20分) … 得分(20分*执行率)” and “年度绩效目标 (80分)”.  It prints each
# row's 年初目标值(A), 实际完成值(B) and 得分 but not the row's 分值; the 分值 below are the only whole
# numbers that give every published score at one decimal (8.0 = 20×6/15, 7.3 = 20×4164/11442, 31.9 =
# 20×12767.36/8000, 10.5 = 10×2074/1980, 11.1 = 10×100/90), and they add up to the form's 80.
SHIDIAN_ROWS = [  # (一级, 二级, 三级, 年初目标值, 实际完成值, 分值 (inferred), published 得分)
    ("产出指标", "数量指标", "扶持发展新型农业经营主体（个）", 15, 6, 20, 8.0),
    ("产出指标", "数量指标", "带动贫困户（人）", 11442, 4164, 20, 7.3),
    ("效益指标", "经济效益指标", "新型经营主体实现产值", 8000, 12767.36, 20, 31.9),
    ("效益指标", "经济效益指标", "新型经营主体助农增收（元）", 1980, 2074, 10, 10.5),
    ("满意度指标", "服务对象满意度指标", "满意度（%）", 90, 100, 10, 11.1),
]
# 预算数 650, 执行数 94 (万元).  The form has no 到位 column; 实际到位 is typed as the 预算数 (the
# profile's 执行率 is 执行数 ÷ 调整后预算, so 实际到位 does not enter any score).
SHIDIAN_UNITS = [{"单位名称": "施甸县农业农村局", "年初预算": 650, "实际到位": 650, "实际支出": 94}]


def _shidian(tmp_path, capsys, name="shidian.xlsx", **params):
    rows = [ind(l1, l2, l3, pts, "正向", t, a) for l1, l2, l3, t, a, pts, _ in SHIDIAN_ROWS]
    return evaluate(tmp_path, capsys, {"评价方案": "self-eval-20-80", **params}, rows, SHIDIAN_UNITS, name)


def test_shidian_2019_budget_line_20_one_decimal_uncapped(tmp_path, capsys):
    """Published total 71.7: budget line 20 × 94/650 (执行率 14.46%) = 2.892 → 2.9, and rows scored
    分值 × 实际 ÷ 目标 at one decimal *above* the target too (产值 31.9 of 20, 增收 10.5 of 10,
    满意度 11.1 of 10).  Reproduced with the self-eval-20-80 profile, 得分精度 1, 超额完成 不封顶."""
    code, data = _shidian(tmp_path, capsys, 得分精度=1, 超额完成="不封顶")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in SHIDIAN_ROWS}
    assert data["budget"]["execution_rate"] == 14.46 and data["budget_score"] == 2.9
    assert data["total"] == 71.7 and data["grade"] == "中"


def test_shidian_2019_needs_uncapped_and_one_decimal(tmp_path, capsys):
    """As the profile (封顶, 2 decimals) the same inputs give 58.17, not the published 71.7: the
    three over-achieving rows stop at their 分值, 带动贫困户 stays 7.28 and 20 × 14.46% stays 2.89."""
    code, data = _shidian(tmp_path, capsys)
    assert code == 0, data["errors"]
    assert by_name(data)["新型经营主体实现产值"] == 20 and by_name(data)["带动贫困户（人）"] == 7.28
    assert data["budget_score"] == 2.89 and data["total"] == 58.17


# ---------------------------------------------------------------- 6. 云南 临沧 永德县
YONGDE_URL = "https://www.yongde.gov.cn/info/3003/116104.htm"  # 永德县明朗中学 2022年度 义务教育营养改善计划专项资金 项目支出绩效自评表
YONGDE_ROWS = [  # (一级, 二级, 三级, method (指标性质 ≧ → 正向, ═ → 等于), 指标值, 实际完成值, 分值, published 得分)
    ("产出指标", "数量指标", "学生受资助人数", "正向", 735, 735, 10, 10),
    ("产出指标", "质量指标", "营养改善计划覆盖率", "正向", 100, 100, 10, 10),
    ("产出指标", "时效指标", "资金到位及时率", "正向", 100, 100, 10, 7),
    ("产出指标", "成本指标", "生均补助标准达标率", "等于", 100, 100, 10, 10),
    ("效益指标", "经济效益指标", "减轻贫困学生家庭经济负担", "是否", None, None, 10, 10),  # 有效 / 有效
    ("效益指标", "社会效益指标", "政策知晓率", "等于", 100, 98, 10, 9),
    ("效益指标", "可持续影响指标", "促进学校教育事业健康发展", "正向", 100, 100, 10, 10),
    ("满意度指标", "服务对象满意度指标", "学生满意度", "正向", 95, 100, 10, 10),
    ("满意度指标", "服务对象满意度指标", "家长满意度", "正向", 95, 100, 10, 10),
]
YONGDE_UNITS = [{"单位名称": "永德县明朗中学", "年初预算": 387664.62, "实际到位": 387664.62, "实际支出": 387664.62}]
# 资金到位及时率 reads 100 → 100% and scores 7 of 10, and the table's 偏差原因 column says nothing.
# The rule cannot give 7, so it is the evaluator's 评定得分; the tool requires a 调整原因, and since the
# table gives none the reason typed is a transcription note saying exactly that.
YONGDE_REASON = "原表自评得分7分，未写偏差原因（实际完成值100%）"


def _yongde_rows(adjust=True, reason=YONGDE_REASON):
    out = []
    for l1, l2, l3, method, t, a, pts, published in YONGDE_ROWS:
        cells = YES if method == "是否" else {}
        if l3 == "资金到位及时率" and adjust:
            cells = {"评定得分": published, **({"调整原因": reason} if reason else {})}
        out.append(ind(l1, l2, l3, pts, method, t, a, **cells))
    return out


def _yongde(tmp_path, capsys, rows, name="yongde.xlsx", **params):
    return evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", **params}, rows, YONGDE_UNITS, name)


def test_yongde_2022_whole_points_truncated_and_one_adjustment(tmp_path, capsys):
    """Published total 96 优.  政策知晓率 (=100%, 98%) scores 9, i.e. 10 × 98% = 9.8 cut to whole
    points (得分精度 0, 取舍方式 截尾; 四舍五入 would give 10); 资金到位及时率 is the evaluator's 7
    (see YONGDE_REASON).  Every row, the budget line (100% → 10) and the total are reproduced, and
    the row keeps the rule's own 10 as its 公式得分."""
    code, data = _yongde(tmp_path, capsys, _yongde_rows(), 得分精度=0, 取舍方式="截尾")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in YONGDE_ROWS}
    row = next(i for i in data["indicators"] if i["l3"] == "资金到位及时率")
    assert row["formula_score"] == 10 and row["score"] == 7 and row["adjustment_reason"] == YONGDE_REASON
    assert data["budget_score"] == 10 and data["total"] == 96 and data["grade"] == "优"


def test_yongde_2022_refuses_the_unexplained_7_and_rounds_9_8_up(tmp_path, capsys):
    """Typed as published, with no reason, the 7 is refused (naming the 调整原因 cell); without it
    the rule gives 10, and 四舍五入 to whole points turns 9.8 into 10: total 100, not 96."""
    code, data = _yongde(tmp_path, capsys, _yongde_rows(reason=None), "noreason.xlsx", 得分精度=0, 取舍方式="截尾")
    assert code == 2 and data["total"] is None
    assert "调整原因" in data["errors"][0]["message"] and data["errors"][0]["sheet"] == "指标体系"
    code, data = _yongde(tmp_path, capsys, _yongde_rows(adjust=False), "plain.xlsx", 得分精度=0)
    assert code == 0, data["errors"]
    assert by_name(data)["政策知晓率"] == 10 and data["total"] == 100


# ---------------------------------------------------------------- 7. 安徽 滁州 天长市
# 天长市水利局水旱灾害防御股项目支出绩效自评 (项目支出绩效自评表（2022年度）, 水旱灾害防御经费),
# 发布时间 2023-12-05.  The search tool's stored copy of this page carries no address, so no URL can
# be given; the page title and date above identify it.
TIANCHANG_URL = None
TIANCHANG_ROWS = [  # (一级, 二级, 三级, method, 年度指标值, 实际完成值, 分值, published 得分)
    ("产出指标", "数量指标", "完成中型灌区节水改造项目数量", "正向", 1, 1, 10, 10),
    ("产出指标", "数量指标", "完成农业综合水价改革项目", "正向", 1, 1, 10, 10),
    ("产出指标", "质量指标", "工程质量合格", "是否", None, None, 10, 10),
    ("产出指标", "时效指标", "年度资金支付完成率100%", "是否", None, None, 10, 10),
    ("产出指标", "成本指标", "资金执行在预算范围内", "是否", None, None, 10, 10),
    ("效益指标", "经济效益指标", "全市安全度汛", "是否", None, None, 10, 10),
    ("效益指标", "社会效益指标", "保护全市人口财产不受损失", "是否", None, None, 10, 10),
    ("效益指标", "可持续影响指标", "已建工程良性运行", "是否", None, None, 10, 10),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "正向", 90, 100, 10, 10),
]


def test_tianchang_2022_full_marks_total(tmp_path, capsys):
    """Published 总分 100 100: nine rows at full marks and the budget line 880 / 880 / 880 → 10.
    Rows the table states without values (工程质量合格 …) are typed 是否 with 是 / 是."""
    rows = [ind(l1, l2, l3, pts, m, t, a, **(YES if m == "是否" else {})) for l1, l2, l3, m, t, a, pts, _ in TIANCHANG_ROWS]
    units = [{"单位名称": "天长市水利局", "年初预算": 880, "实际到位": 880, "实际支出": 880}]
    code, data = evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020"}, rows, units, "tianchang.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in TIANCHANG_ROWS}
    assert data["budget_score"] == 10 and data["total"] == 100 and data["grade"] == "优"


# ---------------------------------------------------------------- 8. 四川 德阳 中江县 (inconsistent)
ZHONGJIANG_URL = "https://chacewang.com/newsdetail/news242266.html"  # 中江县水利局 2022年 绩效目标自评表 (小型水库水标尺制作安装项目), a copy of the county's notice
ZHONGJIANG_ROWS = [  # (一级, 二级, 三级, method, 年度指标值, 全年实际值, 分值, published 得分)
    ("产出指标", "数量指标", "安装坡面水标尺", "正向", 266, 266, 10, 10),  # ≥266米
    ("产出指标", "数量指标", "水标尺宽度", "正向", 50, 50, 10, 10),  # ≥50厘米
    ("产出指标", "质量指标", "项目（工程）验收合格率", "正向", 100, 100, 20, 20),
    ("产出指标", "时效指标", "及时（按期）开工率", "正向", 90, 90, 10, 10),
    ("产出指标", "时效指标", "及时（按期）完工率", "正向", 90, 90, 10, 10),
    ("产出指标", "成本指标", "项目计划总投资", "反向", 20, 20, 10, 10),  # 20万元
    ("效益指标", "社会效益指标", "受益脱贫（含监测对象）户人口数", "正向", 1000, 1000, 10, 10),
    ("效益指标", "社会效益指标", "群众生产生活条件改善状况", "是否", None, None, 10, 10),  # 显著提升
    ("满意度指标", "服务对象满意度指标", "受益脱贫（含监测对象）户满意度", "正向", 95, 95, 10, 10),
]


def test_zhongjiang_2022_points_do_not_add_up(tmp_path, capsys):
    """Published 总分 100 100, but its rows carry 产出70 + 效益20 + 满意度10 = 100 points *and* the
    budget line (20万元, 20 / 20, 100%) 10 more: 110 points under a 总分 of 100.  The tool refuses
    (三级指标分值之和 100 应为 90), and with 总分 110 it gives 110, not the published 100."""
    rows = [ind(l1, l2, l3, pts, m, t, a, **(YES if m == "是否" else {})) for l1, l2, l3, m, t, a, pts, _ in ZHONGJIANG_ROWS]
    units = [{"单位名称": "中江县水利局", "年初预算": 20, "实际到位": 20, "实际支出": 20}]
    code, data = evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020"}, rows, units, "zj.xlsx")
    assert code == 2 and data["total"] is None
    assert "三级指标分值之和100应为90" in data["errors"][0]["message"]
    code, data = evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", "总分": 110}, rows, units, "zj110.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in ZHONGJIANG_ROWS}
    assert data["total"] == 110  # published: 100


# ---------------------------------------------------------------- 9. 山西 运城 稷山县 (inconsistent total)
JISHAN_URL = "https://keke.chddh.cn/archives/bqg98jldqdz7y2xm7pe6.html"  # 稷山县项目支出绩效自评表（2020年度）建档立卡个人缴费县级配套资金 (稷山县医疗保障局), a copy of the county's xlsx
JISHAN_ROWS = [  # (一级, 二级, 三级, method, 年度指标值, 实际完成值, 分值, published 得分, the table's 偏差原因 or None)
    ("产出指标", "数量指标", "全县参合人数", "正向", 8755, 8676, 15, 13, "建档立卡中有新增死亡人员，导致有偏差"),
    ("产出指标", "质量指标", "资金是否全部纳入医保统筹", "正向", 100, 100, 15, 15, None),
    ("产出指标", "时效指标", "资金是否全部及时纳入", "正向", 100, 100, 10, 10, None),
    ("产出指标", "成本指标", "配套资金每人每年", "等于", 75, 75, 10, 10, None),  # 75元
    ("效益指标", "社会效益指标", "是否解决建档立卡人员看病难贵问题", "正向", 95, 95, 30, 27, None),
    ("满意度指标", "服务对象满意度指标", "是否满意", "正向", 95, 95, 10, 9, None),
]
JISHAN_UNITS = [{"单位名称": "稷山县医疗保障局", "年初预算": 65.66, "实际到位": 65.66, "实际支出": 65.07}]


def _jishan_rows():
    out = []
    for l1, l2, l3, m, t, a, pts, published, why in JISHAN_ROWS:
        rule = pts if a >= t else None  # met rows: the rule gives full points
        cells = {}
        if rule is None or published != rule:  # a score the rule does not give is the evaluator's
            reason = why or f"原表自评得分{published:g}分，未写偏差原因（实际完成值达到指标值）"
            cells = {"评定得分": published, "调整原因": reason}
        out.append(ind(l1, l2, l3, pts, m, t, a, **cells))
    return out


def test_jishan_2020_rows_reproduced_total_is_not_their_sum(tmp_path, capsys):
    """The budget line (65.66 / 65.07, 99%) scores 9: 10 × 99.10% = 9.91 cut to whole points
    (得分精度 0, 截尾).  全县参合人数 (8755 → 8676, 15 × 99.1% = 14.87) is published as 13 with the
    table's own reason, typed as 评定得分 13 + that 调整原因; the two met rows published at 27/30 and
    9/10 have no reason in the table (see _jishan_rows).  Every row is reproduced, but the published
    总分 is 94 while its own rows add up to 9 + 13 + 15 + 10 + 10 + 27 + 9 = 93, which the tool gives."""
    code, data = evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", "得分精度": 0, "取舍方式": "截尾"},
                          _jishan_rows(), JISHAN_UNITS, "jishan.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[7] for r in JISHAN_ROWS}
    assert data["budget"]["execution_rate"] == 99.1 and data["budget_score"] == 9
    row = next(i for i in data["indicators"] if i["l3"] == "全县参合人数")
    assert row["formula_score"] == 14 and row["adjustment_reason"] == JISHAN_ROWS[0][-1]
    assert data["total"] == 93  # published: 94


# ---------------------------------------------------------------- 10. 云南 保山市
BAOSHAN_VETERANS_URL = "https://alkalih2o.com/info/7798/9446904.htm"  # 保山市退役军人事务局 2022年度项目支出绩效自评表 (春节走访慰问经费), a copy of the city's page
BAOSHAN_ROWS = [  # (一级, 二级, 三级, method, 年初目标值, 实际完成值, 分值, published 得分)
    ("产出指标", "数量指标", "慰问伤残军人、烈士遗属等重点优抚对象及驻保部队", "正向", 100, 100, 20, 20),  # 100% / 100%
    ("产出指标", "质量指标", "补助经费足额拨付率", "正向", 100, 100, 20, 20),
    ("产出指标", "时效指标", "春节前完成走访慰问", "是否", None, None, 20, 20),  # 按时限完成 / 100%
    ("效益指标", "社会效益指标", "重点优抚对象等总体保持稳定，年内无群体性事件发生", "反向", 5, 0, 10, 10),  # 小于5次 / 无上访
    ("满意度指标", "服务对象满意度指标", "重点优抚对象、企业军转干部等满意率", "正向", 100, 100, 10, 10),
]


def test_baoshan_veterans_2022_form_20_80_total(tmp_path, capsys):
    """Published 总分(100分) 100, 自评等级 优, on the 20/80 form: 产出60 + 效益10 + 满意度10 and the
    budget line 34.64 / 34.64 → 20 × 100% = 20.  The form prints 得分 but no per-row 分值; every row
    is at full marks, so each row's 分值 is its 得分 (and they add up to the form's 80)."""
    rows = [ind(l1, l2, l3, pts, m, t, a, **(YES if m == "是否" else {})) for l1, l2, l3, m, t, a, pts, _ in BAOSHAN_ROWS]
    units = [{"单位名称": "保山市退役军人事务局", "年初预算": 34.64, "实际到位": 34.64, "实际支出": 34.64}]
    code, data = evaluate(tmp_path, capsys, {"评价方案": "self-eval-20-80"}, rows, units, "baoshan.xlsx")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in BAOSHAN_ROWS}
    assert data["budget_score"] == 20 and data["total"] == 100 and data["grade"] == "优"


# ---------------------------------------------------------------- 11. 湖南 永州 零陵区 (rows; budget line inconsistent)
LINGLING_URL = "http://admin.yzcity.gov.cn:8888/llqlinyj/gknb/202204/cd04d310d5364b2f9983a7843fb6a17d.shtml"  # 零陵区林业局 2021年 部门整体支出绩效自评表
LINGLING_ROWS = [  # (一级, 二级, 三级, method, 年度指标值, 实际完成值, 分值, published 得分)
    ("产出指标", "数量指标", "造林面积（万亩）", "正向", 1.2, 1.2, 10, 10),
    ("产出指标", "数量指标", "病虫害防治面积（万亩）", "正向", 3.45, 3.45, 7, 7),
    ("产出指标", "数量指标", "森林经营面积（万亩）", "正向", 16.3, 16.3, 7, 7),
    ("产出指标", "质量指标", "造林成活率", "正向", 85, 85, 7, 7),
    ("产出指标", "时效指标", "当期完成", "正向", 90, 100, 7, 7),
    ("产出指标", "成本指标", "造林补助（元/亩）", "等于", 300, 300, 6, 6),
    ("产出指标", "成本指标", "育补助（元/亩）", "等于", 100, 100, 6, 6),  # 原文如此
    ("效益指标", "经济效益指标", "木材销售收入（万元）", "正向", 1100, 1093, 6, 5),
    ("效益指标", "经济效益指标", "林产品收入（亿元）", "正向", 2.6, 2.45, 6, 5),
    ("效益指标", "社会效益指标", "提高就业率", "是否", None, None, 6, 6),  # 显著 / 显著
]
LINGLING_UNITS = [{"单位名称": "零陵区林业局", "年初预算": 4753.66, "实际到位": 4753.66, "实际支出": 3824.26}]


def _lingling(tmp_path, capsys, name, **params):
    rows = [ind(l1, l2, l3, pts, m, t, a, **(YES if m == "是否" else {})) for l1, l2, l3, m, t, a, pts, _ in LINGLING_ROWS]
    return evaluate(tmp_path, capsys, {"评价方案": "self-eval-2020", "总分": 78, **params}, rows, LINGLING_UNITS, name)


def test_lingling_2021_rows_truncated_budget_line_inconsistent(tmp_path, capsys):
    """木材销售收入 (1100 → 1093万元) and 林产品收入 (2.6 → 2.45亿元) score 5 of 6: 5.96 and 5.65 cut to
    whole points (得分精度 0, 截尾; 四舍五入 gives 6 and 6).  The stored copy stops inside 效益指标
    after 提高就业率, so 总分 is 78 (产出50 + the 18 效益 points shown + 预算执行10).  The published
    budget line is inconsistent with its own figures: 4753.66 budgeted, 3824.26 spent is 80.45%,
    which gives 8 (截尾), but the table prints 执行率 100% and 得分 10."""
    code, data = _lingling(tmp_path, capsys, "lingling.xlsx", 得分精度=0, 取舍方式="截尾")
    assert code == 0, data["errors"]
    assert by_name(data) == {r[2]: r[-1] for r in LINGLING_ROWS}
    assert data["budget"]["execution_rate"] == 80.45 and data["budget_score"] == 8  # published: 100%, 10
    code, data = _lingling(tmp_path, capsys, "rounded.xlsx", 得分精度=0)
    assert by_name(data)["木材销售收入（万元）"] == 6 and by_name(data)["林产品收入（亿元）"] == 6
