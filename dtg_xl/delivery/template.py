"""Generate the evaluation workbook (XlsxWriter): 说明, 参数, 指标体系, 单位填报, 汇总.

``build_template`` fills an open ``xlsxwriter.Workbook`` so that the Excel workbook build
(`workbook/dtg.xlsm`) can add its own sheets and VBA to the very same sheets.
"""
from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path

from dtg_xl.results import layout
from dtg_xl.errors import DtgError
from dtg_xl.xlsx.atomic import atomic_output, close_xlsxwriter
from dtg_xl.xlsx.cells import DEFAULT_ROW_POINTS, fitted_row_height
from dtg_xl.core.profiles import available_profiles, load_profile
from dtg_xl.core.policy import CAPPED, HINTS, ROUND_DOWN, ROUND_HALF_UP, UNCAPPED
from dtg_xl.core.rules import LEVELS, METHODS
from dtg_xl.core.schema import POLICY_PARAMS, REPORT_TEXT, SHEET_REPORT_TEXT
from dtg_xl.core.schema import EXPERT_METHODS, SATISFACTION_BASES, SHEET_BASELINES, SHEET_EXPERTS, SHEET_SURVEY
from dtg_xl.core.schema import (EXECUTION_BASES, INDICATOR_COLUMNS, PARAMS, SHEET_GUIDE, SHEET_INDICATORS,
                     SHEET_PARAMS, SHEET_SUMMARY, SHEET_UNITS, TEMPLATE_VERSION, UNIT_COLUMNS,
                     WEIGHTING_FLAT, WEIGHTING_NESTED)

FIXED_DATE = datetime(2021, 1, 1)  # document date: a rebuild gives the same bytes
INPUT_ROWS = 300  # formatted, validated input rows on 指标体系
UNIT_ROWS = 60
DEFAULT_WORKLOAD = ("监管船舶艘次", "出入境人员（万人次）", "货运量（万吨）", "报关单量（万票）", "上年评价得分")
COLUMN_WIDTHS = {"一级指标": 8, "一级权重": 7, "二级指标": 10, "二级分值": 7, "三级指标": 26, "分值": 6,
                 "评分方法": 8, "评分标准": 36, "目标值": 9, "实际值": 9, "计量单位": 8, "定性等级": 16,
                 "评定得分": 8, "扣分": 6, "扣分原因": 36, "偏差原因": 30, "改进措施": 30, "得分": 8,
                 "公式得分": 8, "调整原因": 30}
OUTPUT_COLUMNS = ("得分", "公式得分")  # written by the program

GUIDE = [
    "绩效评价工作簿 使用说明",
    "",
    "1. 在“参数”表选择评价方案（等级划分）和计分方式，填写项目名称、评价年度。",
    "2. 在“指标体系”表每行填写一个三级指标：一级/二级/三级指标、分值、评分方法及所需数据。",
    "   · 正向（≥）、反向（≤）、反向比值、等于、排名、要素：填写目标值和实际值。",
    "   · 定性：选择定性等级并填写评定得分（达成80%–100%，部分达成60%–80%，未达成0–60%）。",
    "   · 扣分：填写扣分及扣分原因，扣完为止。",
    "   · 分档：在评分标准中写“≥95:100%；≥90:80%；≥80:60%”，并填写实际值。",
    "   · 是否：目标值、实际值填“是”或“否”。",
    "   · 阶梯扣分：在评分标准中写“起扣线=90；步长=5；每步扣分=1”（可加“；方向=反向”“；不足一步=舍去/进一/按比例”，默认舍去），并填写实际值。",
    "   · 偏离度：在评分标准中写“±10%:100%；±15%:60%；±20%:20%”，填写目标值和实际值；超出最后一档得0分。",
    "   · 公式：在评分标准中写Excel公式，如“=MIN(分值, 分值*实际值/目标值*0.25)”，可用分值、目标值、实际值、扣分。",
    "   · 评价人调整：非定性指标填写“评定得分”即以其为最终得分，须在“调整原因”列说明；程序在“公式得分”列保留按规则计算的得分，",
    "     汇总表“评价调整”列出每项调整。",
    "   · 分层权重方式下还须填写一级权重（%）和二级分值（同一一级指标下二级分值合计100）。",
    "   · 定量指标（定性、扣分以外）未得满分时，请填写偏差原因和改进措施；未填写的，计算后在汇总表列为“提示”。",
    "3. 在“单位填报”表填写各单位年初预算、追加预算、实际到位、实际支出及业务量。",
    "   · 实际值（及目标值、评定得分）可填引用，由程序计算取值，不必重复填写：单位:监管船舶艘次:合计（或平均、最大、最小、加权平均）、",
    "     预算:执行率（或到位率、实际支出等）、基准对比:指标名、问卷:合计（或题目）、专家:三级指标；取值来源列在汇总表“实际值来源”。",
    "   · 满意度问卷填入“问卷”表（可用 dtg-xl survey-import 导入问卷星导出文件），多位专家的定性评分填入“专家评分”表。",
    "4. 点击按钮（Excel）或运行 dtg-xl evaluate 文件名（命令行），结果写入“指标体系”的得分列和“汇总”表。",
    "   “得分”列和“汇总”表由程序填写，请勿手工修改。",
    "5. 发现问题时，汇总表右侧列出每个问题所在的工作表和单元格，修改后重新计算。",
    "6. 汇总表列出距本等次下限、距上一等次的分数，以及单独挽回即可改变等次的失分。",
    "7. 模拟：在“模拟”表填写工作表、单元格和模拟值（如 指标体系 / J12 / 95），计算后右侧显示模拟得分和变动的指标，",
    "   其他工作表不会被修改。命令行：dtg-xl whatif 文件名 --set 指标体系!J12=95。",
    "8. 同比：dtg-xl compare 上年文件 本年文件，结果写入“同比”表。",
    "9. 计分规则：“参数”表的得分精度、取舍方式、超额完成、超额提示、定性档次、预算执行分值留空即按评价方案，填写则覆盖评价方案。",
]


def load_example(name: str) -> dict:
    """A packaged example by name (``dtg-2020``) or a TOML file of the same shape."""
    if name.endswith(".toml") and Path(name).is_file():
        return tomllib.loads(Path(name).read_text(encoding="utf-8"))
    item = resources.files("dtg_xl") / "examples" / f"{name}.toml"
    if not item.is_file():
        names = sorted(p.name[:-5] for p in (resources.files("dtg_xl") / "examples").iterdir()
                       if p.name.endswith(".toml"))
        raise DtgError(f"未知的示例“{name}”，可用：{'、'.join(names)}")
    return tomllib.loads(item.read_text(encoding="utf-8"))


def write_template(path: str | Path, profile: str | None = None, example: str | None = None,
                   data: dict | None = None) -> Path:
    """Write a new template to path (.xlsx), filled with an example (name or TOML path) or with
    ``data`` of the same shape ({"params": {...}, "indicators": [...], "units": [...]})."""
    import xlsxwriter

    path = Path(path)
    with atomic_output(path) as tmp:
        # strings_to_formulas off: text a user supplied (example/consolidated data) that starts
        # with "=" stays text, never a formula (formula injection)
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False})
        try:
            build_template(wb, profile=profile, example=example, data=data)
        except BaseException:
            wb.close()  # the error is the build's; this write is thrown away
            raise
        close_xlsxwriter(wb, path)
    return path


def build_template(wb, profile: str | None = None, example: str | None = None, data: dict | None = None) -> None:
    data = data if data is not None else load_example(example) if example else {}
    params = dict(data.get("params", {}))
    if profile:
        params["评价方案"] = profile
    chosen = load_profile(params.get("评价方案"))  # fails early on an unknown profile
    params.setdefault("评价方案", chosen.name)
    params.setdefault("计分方式", chosen.weighting)
    params.setdefault("总分", chosen.full_marks)
    params.setdefault("预算执行率口径", chosen.execution_base)
    params["模板版本"] = TEMPLATE_VERSION

    wb.set_properties({"title": "项目支出绩效评价", "created": FIXED_DATE, "author": "dtg_xl"})
    f = _formats(wb)
    _guide(wb.add_worksheet(SHEET_GUIDE), f)
    _params(wb.add_worksheet(SHEET_PARAMS), f, params)
    _indicators(wb.add_worksheet(SHEET_INDICATORS), f, data.get("indicators", []))
    _units(wb.add_worksheet(SHEET_UNITS), f, data.get("units", []))
    _summary(wb.add_worksheet(SHEET_SUMMARY), f)
    from dtg_xl.results import compare
    from dtg_xl.results import whatif  # their sheets live with the code that fills them

    whatif.build_simulation_sheet(wb.add_worksheet(whatif.SHEET_SIMULATION), f)
    compare.build_compare_sheet(wb.add_worksheet(compare.SHEET_COMPARE), f)
    _report_text(wb.add_worksheet(SHEET_REPORT_TEXT), f, data.get("report_text", {}))
    from dtg_xl.units import allocate
    from dtg_xl.core import baselines  # their sheets live with the code that reads them

    baselines.write_sheet(wb.add_worksheet(SHEET_BASELINES), f, data.get("baselines", []))
    from dtg_xl.core import experts, survey

    survey.write_sheet(wb.add_worksheet(SHEET_SURVEY), f, data.get("survey"))
    experts.write_sheet(wb.add_worksheet(SHEET_EXPERTS), f, rows=data.get("experts", []))
    allocate.write_sheets(wb, f, data.get("allocation", {}), _workload_names(data.get("units", [])), chosen)


def _formats(wb) -> dict:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}

    def fmt(**kw):
        return wb.add_format({**base, **kw})

    return {
        "title": fmt(bold=True, font_size=14),
        "header": fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True, align="center"),
        "text": fmt(border=1, text_wrap=True),
        "number": fmt(border=1, num_format="0.00"),
        "general": fmt(border=1),
        "output": fmt(border=1, num_format="0.00", bg_color="#F2F2F2"),
        "output_text": fmt(border=1, bg_color="#F2F2F2", text_wrap=True),
        "output_pct": fmt(border=1, num_format="0.00%", bg_color="#F2F2F2"),
        # 汇总 facts (merged B:G): read left to right, one line (a wrapped sentence would overrun the fixed row)
        "fact": fmt(border=1, bg_color="#F2F2F2", align="left"),
        "fact_number": fmt(border=1, num_format="0.00", bg_color="#F2F2F2", align="left"),
        "label": fmt(bold=True, border=1, bg_color="#DDEBF7"),
        "note": fmt(font_color="#595959", text_wrap=True),
        "plain": fmt(),
    }


def _guide(ws, f):
    ws.set_column("A:A", 100)
    for r, line in enumerate(GUIDE):
        ws.write(r, 0, line, f["title"] if r == 0 else f["plain"])


def _params(ws, f, params: dict):
    notes = {
        "评价方案": "等级划分：" + "；".join(f"{n}：{load_profile(n).title}" for n in available_profiles()),
        "计分方式": f"{WEIGHTING_FLAT}：三级分值逐级累加；{WEIGHTING_NESTED}：一级权重×（一级得分/100）",
        "预算执行率口径": "预算执行率 = 实际支出 ÷ 实际到位（或调整后预算）",
        "模板版本": "由程序填写，请勿修改",
        "满意度口径": "问卷满意率 =（非常满意+满意[+基本满意]）÷ 有效答案，或加权平均（100/80/60/30/0）；留空按评价方案",
        "专家评分方式": "专家评分表：平均，或去掉最高最低（不少于5位专家时）；留空按评价方案",
    }
    for label in POLICY_PARAMS:  # 计分规则: what it means, and each profile's value
        each = "；".join(f"{n}：{load_profile(n).policy.values()[label] or '空'}" for n in available_profiles())
        notes[label] = f"{HINTS[label]}。留空=按评价方案（{each}）"
    ws.set_column("A:A", 16)
    ws.set_column("B:B", 40)
    ws.set_column("C:C", 80)
    ws.write_row(0, 0, ["参数", "值", "说明"], f["header"])
    labels = [*PARAMS, "数据说明"]
    for r, label in enumerate(labels, start=1):
        ws.write(r, 0, label, f["label"])
        value = params.get(label)
        ws.write(r, 1, value if value is not None else "", f["text"])
        ws.write(r, 2, notes.get(label, ""), f["note"])
        _fit_row(ws, r, [(value, 40), (notes.get(label, ""), 80)])
    rows = {label: r for r, label in enumerate(labels, start=1)}
    ws.data_validation(rows["评价方案"], 1, rows["评价方案"], 1, {"validate": "list", "source": available_profiles(),
                                                             "error_type": "warning"})
    ws.data_validation(rows["计分方式"], 1, rows["计分方式"], 1, {"validate": "list", "source": [WEIGHTING_FLAT, WEIGHTING_NESTED]})
    ws.data_validation(rows["预算执行率口径"], 1, rows["预算执行率口径"], 1, {"validate": "list", "source": list(EXECUTION_BASES)})
    ws.data_validation(rows["满意度口径"], 1, rows["满意度口径"], 1, {"validate": "list", "source": list(SATISFACTION_BASES)})
    ws.data_validation(rows["专家评分方式"], 1, rows["专家评分方式"], 1, {"validate": "list", "source": list(EXPERT_METHODS)})
    for label, choices in (("得分精度", ["0", "1", "2"]), ("取舍方式", [ROUND_HALF_UP, ROUND_DOWN]),
                           ("超额完成", [CAPPED, UNCAPPED]), ("定性档次", ["80/60", "80/50"])):
        ws.data_validation(rows[label], 1, rows[label], 1, {"validate": "list", "source": choices,
                                                            "error_type": "warning" if label == "定性档次" else "stop"})
    ws.freeze_panes(1, 1)


def _indicators(ws, f, rows: list[dict]):
    headers = list(INDICATOR_COLUMNS)
    col = {h: i for i, h in enumerate(headers)}
    for h, i in col.items():
        ws.set_column(i, i, COLUMN_WIDTHS.get(h, 10))
    ws.write_row(0, 0, headers, f["header"])
    ws.set_row(0, 30)
    numeric = {"一级权重", "二级分值", "分值", "目标值", "实际值", "评定得分", "扣分"}
    for r in range(1, max(INPUT_ROWS, len(rows)) + 1):
        data = rows[r - 1] if r <= len(rows) else {}
        for h, c in col.items():
            value = data.get(h)
            style = f["output"] if h in OUTPUT_COLUMNS else f["number"] if h in numeric else f["text"]
            if value is None or h in OUTPUT_COLUMNS:
                ws.write_blank(r, c, None, style)
            else:
                ws.write(r, c, value, style)
        _fit_row(ws, r, [(data.get(h), COLUMN_WIDTHS.get(h, 10)) for h in headers if h not in numeric])
    last = max(INPUT_ROWS, len(rows))
    ws.data_validation(1, col["评分方法"], last, col["评分方法"],
                       {"validate": "list", "source": list(METHODS),
                        "input_title": "评分方法", "input_message": "从列表选择；也可填英文别名"[:255]})
    ws.data_validation(1, col["定性等级"], last, col["定性等级"], {"validate": "list", "source": list(LEVELS)})
    ws.freeze_panes(1, col["三级指标"] + 1)
    ws.autofilter(0, 0, last, len(headers) - 1)
    _print_setup(ws, repeat_rows=True)


def _fit_row(ws, r: int, cells) -> None:
    """Give row r (0-based) the height its wrapped text needs; rows of one line keep the default."""
    height = fitted_row_height(cells)
    if height > DEFAULT_ROW_POINTS:
        ws.set_row(r, height)


def _workload_names(units: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for u in units for k in u if k not in UNIT_COLUMNS)) or list(DEFAULT_WORKLOAD)


def _units(ws, f, units: list[dict]):
    workload = _workload_names(units)
    headers = ["序号", *UNIT_COLUMNS, *workload, "备注"]
    ws.write_row(0, 0, headers, f["header"])
    ws.set_row(0, 30)
    ws.set_column(0, 0, 5)
    ws.set_column(1, 1, 26)
    ws.set_column(2, len(headers) - 1, 12)
    for r in range(1, max(UNIT_ROWS, len(units)) + 1):
        unit = units[r - 1] if r <= len(units) else {}
        for c, h in enumerate(headers):
            value = r if (h == "序号" and unit) else unit.get(h)
            style = f["text"] if h in ("单位名称", "单位类别", "备注") else f["number"] if h != "序号" else f["general"]
            ws.write(r, c, value, style) if value is not None else ws.write_blank(r, c, None, style)
    ws.freeze_panes(1, 2)
    _print_setup(ws, repeat_rows=True)


def _summary(ws, f):
    ws.write(0, 0, "绩效评价结果汇总（由程序填写，请勿手工修改）", f["title"])
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 14)
    ws.set_column(2, 2, 24)
    ws.set_column(3, 5, 12)
    ws.set_column(6, 6, 50)  # 失分明细.原因
    ws.set_column(7, 8, 12)
    ws.set_column(10, 11, 10)
    ws.set_column(12, 12, 60)
    for label, r in layout.FACT_ROW.items():
        ws.write(r - 1, 0, label, f["label"])
        style = f["fact_number"] if label == "综合得分" else f["fact"]
        # facts such as the grade margin are sentences: the value cell B spans B:G, left-aligned
        ws.merge_range(r - 1, 1, r - 1, 6, None, style)
    for block in layout.SUMMARY_BLOCKS:
        ws.write(block.header_row - 2, block.col - 1, block.title, f["title"])
        ws.write_row(block.header_row - 1, block.col - 1, block.headers, f["header"])
        pct = layout.PERCENT_COLUMNS.get(block, ())
        for r in range(block.first_row - 1, block.last_row):
            for i in range(block.width):
                style = f["output_pct"] if i in pct else f["output"]
                ws.write_blank(r, block.col - 1 + i, None, style)
    _print_setup(ws, repeat_rows=False)


def _report_text(ws, f, texts: dict):
    """报告文字: one row per free-text part of the Word report (dtg-xl report); blank ones
    become marked placeholders there.  Users may add rows for their own labels."""
    ws.set_column("A:A", 20)
    ws.set_column("B:B", 100)
    ws.set_column("C:C", 36)
    ws.write_row(0, 0, ["项目", "内容（可分多段，段间换行）", "说明"], f["header"])
    labels = [*REPORT_TEXT, *(k for k in texts if k not in REPORT_TEXT)]  # e.g. 指标分析-<其他一级>
    for r, label in enumerate(labels, start=1):
        ws.write(r, 0, label, f["label"])
        text = texts.get(label, "")
        ws.write(r, 1, text.strip(), f["text"]) if text.strip() else ws.write_blank(r, 1, None, f["text"])
        ws.write(r, 2, REPORT_TEXT.get(label, ""), f["note"])
        _fit_row(ws, r, [(text.strip(), 100), (REPORT_TEXT.get(label, ""), 36)])
    ws.freeze_panes(1, 1)


def _print_setup(ws, repeat_rows: bool):
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    if repeat_rows:
        ws.repeat_rows(0)
