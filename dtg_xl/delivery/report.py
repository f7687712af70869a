"""The evaluation report (.docx) in the structure of the 2020 口岸大通关 report.

Every number, table and the grade bands come from the engine (``read_model`` + ``evaluate``,
the same code the workbook's 汇总 sheet comes from); the prose comes from the workbook's
``报告文字`` sheet.  A prose part left empty is written as a marked placeholder
（【待填写：…】), never made up.  python-docx builds the document; East-Asian fonts are set
on the styles (w:eastAsia, theme fonts removed) so Word and LibreOffice pick a CJK font.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.delivery import cnfmt
from dtg_xl.xlsx.books import FileBook
from dtg_xl.core.engine import Result, evaluate
from dtg_xl.xlsx.atomic import atomic_output
from dtg_xl.results.layout import losses
from dtg_xl.core.model import Problem, read_model
from dtg_xl.core.schema import SHEET_REPORT_TEXT

BODY_FONT = "宋体"  # Chinese Word defaults; LibreOffice substitutes a CJK font (Noto CJK) for them
HEADING_FONT = "黑体"
LATIN_FONT = "Times New Roman"

# placeholder names where the label alone would read oddly in the report
DISPLAY = {"经验做法": "主要经验及做法", "评价结论说明": "评价结论的说明",
           "指标分析-决策": "项目决策情况分析", "指标分析-过程": "项目过程情况分析",
           "指标分析-产出和效益": "项目产出和效益情况分析"}
# 四、绩效评价指标分析: subsection title, the 一级指标 it covers, the 报告文字 label
ANALYSIS = (("项目决策情况", ("决策",), "指标分析-决策"),
            ("项目过程情况", ("过程",), "指标分析-过程"),
            ("项目产出和效益情况", ("产出", "效益"), "指标分析-产出和效益"))


class ReportError(DtgError):
    """The workbook cannot be reported on; the message (Chinese) lists every problem."""


@dataclass
class ReportInfo:
    path: Path
    result: Result
    placeholders: list[str] = field(default_factory=list)  # 报告文字 labels left empty
    charts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    placeholder_count: int = 0  # 【待填写…】 marks in the document (prose and 扣分原因)
    deviation_hints: list[str] = field(default_factory=list)  # indicators missing 偏差原因

    def unfinished_text(self) -> str:
        """'还有N处【待填写】、M条偏差提示' or '' when the report is complete."""
        parts = []
        if self.placeholder_count:
            parts.append(f"还有{self.placeholder_count}处【待填写】")
        if self.deviation_hints:
            parts.append(f"{len(self.deviation_hints)}条偏差提示（未写偏差原因）")
        return "、".join(parts)


# ---------------------------------------------------------------- inputs
def read_report_text(book) -> tuple[dict[str, list[str]], list[str]]:
    """报告文字 label -> paragraphs; and warnings (sheet missing).  Unknown labels are kept
    (a 指标分析-<一级> row is used for a 一级指标 outside the standard four)."""
    if SHEET_REPORT_TEXT not in book.sheet_names():
        return {}, [f"工作簿没有“{SHEET_REPORT_TEXT}”表，报告中的文字部分均为待填写"]
    texts: dict[str, list[str]] = {}
    for row in book.sheet_values(SHEET_REPORT_TEXT)[1:]:
        if not row:
            continue
        label = str(row[0]).strip() if row[0] is not None else ""
        value = row[1] if len(row) > 1 else ""
        if not label or label in texts:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        paragraphs = [p.strip() for p in str(value if value is not None else "").splitlines()]
        texts[label] = [p for p in paragraphs if p]
    return texts, []


def _evaluate(book) -> Result:
    model = read_model(book)
    problems: list[Problem] = model if isinstance(model, list) else []
    result = None
    if not problems:
        result = evaluate(model)
        problems = result.errors
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ReportError(f"工作簿有{len(problems)}个问题，无法生成报告：\n{lines}")
    return result


# ---------------------------------------------------------------- document helpers
def _set_fonts(style_or_run_element, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Explicit fonts on an rPr owner; theme attributes would override w:eastAsia, so drop them."""
    from docx.oxml.ns import qn

    owner = style_or_run_element
    rpr = owner.get_or_add_rPr() if hasattr(owner, "get_or_add_rPr") else owner.find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def _styles(doc) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    # document defaults too: styles without their own fonts fall back to these
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr_default = defaults.find(qn("w:rPrDefault"))
        if rpr_default is not None and rpr_default.find(qn("w:rPr")) is not None:
            _set_fonts(rpr_default, BODY_FONT)
        rpr = rpr_default.find(qn("w:rPr")) if rpr_default is not None else None
        if rpr is not None:
            # Chinese text: LibreOffice's font fallback then prefers the SC (not JP) CJK glyphs
            lang = rpr.find(qn("w:lang"))
            if lang is None:
                lang = rpr.makeelement(qn("w:lang"), {})
                rpr.append(lang)
            lang.set(qn("w:val"), "en-US")
            lang.set(qn("w:eastAsia"), "zh-CN")
    normal = doc.styles["Normal"]
    _set_fonts(normal.element, BODY_FONT)
    # no automatic gap between Chinese and Latin/digits: "96.65分" reads (and extracts) as typed
    ppr = normal.element.get_or_add_pPr()
    for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
        el = ppr.makeelement(qn(tag), {qn("w:val"): "0"})
        ppr.append(el)
    normal.font.size = Pt(12)
    pf = normal.paragraph_format
    pf.first_line_indent = Pt(24)  # two characters
    pf.line_spacing = 1.5
    pf.space_after = Pt(0)
    for name, size in (("Title", 18), ("Heading 1", 15), ("Heading 2", 13), ("Heading 3", 12)):
        style = doc.styles[name]
        _set_fonts(style.element, HEADING_FONT)
        style.font.size = Pt(size)
        style.font.bold = name != "Heading 3"
        style.font.italic = False
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.paragraph_format.first_line_indent = Pt(0)
        style.paragraph_format.space_before = Pt(12 if name != "Heading 3" else 6)
        style.paragraph_format.space_after = Pt(6)
        if name == "Title":
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
            # the default Title has a bottom border; a report title has none
            ppr = style.element.pPr
            if ppr is not None and ppr.find(qn("w:pBdr")) is not None:
                ppr.remove(ppr.find(qn("w:pBdr")))
    table_text = doc.styles.add_style("表格文字", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = normal
    table_text.font.size = Pt(9)
    table_text.paragraph_format.first_line_indent = Pt(0)
    table_text.paragraph_format.line_spacing = 1.0
    caption = doc.styles.add_style("图表标题", WD_STYLE_TYPE.PARAGRAPH)
    caption.base_style = normal
    caption.font.size = Pt(10.5)
    caption.paragraph_format.first_line_indent = Pt(0)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


class _Writer:
    def __init__(self, texts: dict[str, list[str]]):
        from docx import Document
        from docx.shared import Cm

        self.doc = Document()
        self.texts = texts
        self.placeholders: list[str] = []
        self.figures = 0
        self.tables = 0
        _styles(self.doc)
        self.table_style_id = self.doc.styles["表格文字"].style_id
        section = self.doc.sections[0]
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.8)
        section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
        self._page_number(section)

    def heading(self, text: str, level: int):
        return self.doc.add_heading(cnfmt.doc_text(text), level=level)

    def para(self, text: str, style: str | None = None):
        return self.doc.add_paragraph(cnfmt.doc_text(text), style=style)

    def free(self, label: str, lead: str = "") -> None:
        """The 报告文字 paragraphs of a label (the first after ``lead``), or a placeholder."""
        from docx.enum.text import WD_COLOR_INDEX
        from docx.shared import RGBColor

        paragraphs = self.texts.get(label) or []
        if paragraphs:
            self.para(lead + paragraphs[0])
            for text in paragraphs[1:]:
                self.para(text)
            return
        self.placeholders.append(label)
        p = self.para(lead)
        run = p.add_run(f"【待填写：{DISPLAY.get(label, label)}】")
        run.font.color.rgb = RGBColor(0xC0, 0, 0)
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    def table(self, headers: list[str], rows: list[list], widths_cm: list[float] | None = None,
              numeric: set[int] = frozenset()):
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Cm

        table = self.doc.add_table(rows=1 + len(rows), cols=len(headers))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for r, values in enumerate([headers, *rows]):
            for c, value in enumerate(values):
                cell = table.rows[r].cells[c]
                cell.text = cnfmt.doc_text(value)
                for p in cell.paragraphs:
                    p._p.style = self.table_style_id  # by id: the style lookup is slow per cell
                    if r == 0:
                        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                        for run in p.runs:
                            run.font.bold = True
                    elif c in numeric:
                        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if widths_cm:
            table.autofit = False
            for column, width in zip(table.columns, widths_cm):
                column.width = Cm(width)  # w:gridCol, which LibreOffice uses
            for row in table.rows:
                for cell, width in zip(row.cells, widths_cm):
                    cell.width = Cm(width)
        self.tables += 1
        return table

    def caption(self, text: str) -> None:
        self.para(text, style="图表标题")

    def figure(self, png: bytes, title: str, width_cm: float = 14.5) -> None:
        from docx.shared import Cm

        self.figures += 1
        p = self.doc.add_paragraph(style="图表标题")
        p.add_run().add_picture(io.BytesIO(png), width=Cm(width_cm))
        self.caption(f"图{self.figures}  {title}")

    def landscape_section(self):
        from docx.enum.section import WD_ORIENT, WD_SECTION
        from docx.shared import Cm

        section = self.doc.add_section(WD_SECTION.NEW_PAGE)
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21)
        section.left_margin = section.right_margin = Cm(2)
        section.top_margin = section.bottom_margin = Cm(2)
        return section

    @staticmethod
    def _page_number(section) -> None:
        """Footer '- N -' with a PAGE field (python-docx has no field API)."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        p = section.footer.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = 0
        p.add_run("- ")
        run = p.add_run()
        for kind, text in (("begin", None), (None, " PAGE "), ("end", None)):
            if kind:
                el = OxmlElement("w:fldChar")
                el.set(qn("w:fldCharType"), kind)
            else:
                el = OxmlElement("w:instrText")
                el.set(qn("xml:space"), "preserve")
                el.text = text
            run._r.append(el)
        p.add_run(" -")


# ---------------------------------------------------------------- the report
def conclusion_sentence(result: Result) -> str:
    return f"经综合评价，该项目综合得分{cnfmt.score(result.total)}分，等次：{result.grade}。"


def report_title(result: Result) -> tuple[str, str]:
    """(year prefix, project name) from 参数, e.g. ('2020年度', '口岸大通关补助资金')."""
    params = result.model.params
    year = params.get("year")
    year_text = f"{cnfmt.number(year) if isinstance(year, (int, float)) else year}年度" if year else ""
    return year_text, str(params.get("project") or "项目")


def _category_points(result: Result, c) -> str:
    if result.model.weighting == "分层权重":
        return f"权重{cnfmt.score(c.points)}%"
    return f"{cnfmt.score(c.points)}分"


def _losses_by_category(result: Result) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {c.name: [] for c in result.categories}
    for loss in losses(result):
        out.setdefault(loss["l1"], []).append(loss)
    return out


def _rate(c) -> float:
    return c.raw_score / c.raw_points * 100 if c.raw_points else float("nan")


def build_document(result: Result, texts: dict[str, list[str]], charts: dict[str, bytes] | None = None):
    """The python-docx Document for a scored result; returns (document, placeholders)."""
    w = _Writer(texts)
    model = result.model
    year, project = report_title(result)
    lost = _losses_by_category(result)
    charts = charts or {}

    w.doc.add_heading(cnfmt.doc_text(f"{year}{project}绩效评价报告"), level=0)

    w.heading("一、基本情况", 1)
    w.heading("（一）项目概况", 2)
    w.free("项目概况")
    w.heading("（二）项目绩效目标", 2)
    w.free("绩效目标")

    w.heading("二、绩效评价工作开展情况", 1)
    w.heading("（一）绩效评价目的、对象和范围", 2)
    w.free("评价目的", "1.评价目的：")
    w.free("评价对象", "2.评价对象：")
    w.free("评价范围", "3.评价范围：")
    w.heading("（二）绩效评价原则、评价指标体系、评价方法及标准", 2)
    w.para("1.评价原则：")
    w.free("评价原则")
    w.para("2.评价指标体系：")
    t = model.indicators
    for i, c in enumerate(result.categories, start=1):
        mask = t["l1"] == c.name
        level2 = list(dict.fromkeys(t["l2"][mask].tolist()))
        w.para(f"（{i}）{c.name}指标（{_category_points(result, c)}）。包括{'、'.join(level2)}"
               f"{len(level2)}个二级指标，共{int(mask.sum())}个三级指标。")
    if result.budget_score is not None:
        w.para(f"（{len(result.categories) + 1}）预算执行（{cnfmt.score(model.profile.budget_score_points)}分）。"
               "按预算执行率计分。")
    w.para(f"详见附件：{year}{project}项目指标体系。")
    w.para("3.评价方法及标准：")
    grades = model.profile.grades
    w.para(f"采取评分和评级相结合的方式，总分设定为{cnfmt.score(model.full_marks)}分。"
           f"等级划分为{cnfmt.cn_ordinal(len(grades))}档：{cnfmt.grade_bands(grades, model.full_marks)}"
           f"（评价方案：{model.profile.title}）。")
    w.free("评价方法")
    w.heading("（三）绩效评价工作过程", 2)
    w.free("工作过程")

    w.heading("三、综合评价情况及评价结论", 1)
    w.heading("（一）评价结论", 2)
    w.para(conclusion_sentence(result))
    w.free("评价结论说明")
    w.heading("（二）各明细项目预算执行情况", 2)
    if result.budget:
        b = result.budget
        w.para(f"年初预算{cnfmt.amount(b.initial)}，追加预算{cnfmt.amount(b.added)}，"
               f"调整后预算{cnfmt.amount(b.adjusted)}；实际到位{cnfmt.amount(b.in_place)}，"
               f"实际支出{cnfmt.amount(b.spent)}。资金到位率{cnfmt.percent(b.in_place_rate)}，"
               f"预算执行率{cnfmt.percent(b.execution_rate)}（预算执行率口径：实际支出÷{model.execution_base}）。")
        w.caption(f"表{w.tables + 1}  各单位预算执行情况（万元）")
        rows = [[i, u["name"], cnfmt.amount(u["initial"], ""), cnfmt.amount(u["added"], ""),
                 cnfmt.amount(u["adjusted"], ""), cnfmt.amount(u["in_place"], ""), cnfmt.amount(u["spent"], ""),
                 cnfmt.percent(u["execution_rate"])] for i, u in enumerate(result.units, start=1)]
        rows.append(["", "合计", cnfmt.amount(b.initial, ""), cnfmt.amount(b.added, ""),
                     cnfmt.amount(b.adjusted, ""), cnfmt.amount(b.in_place, ""), cnfmt.amount(b.spent, ""),
                     cnfmt.percent(b.execution_rate)])
        w.table(["序号", "单位名称", "年初预算", "追加预算", "调整后预算", "实际到位", "实际支出", "预算执行率"],
                rows, [1.0, 4.6, 1.7, 1.7, 1.8, 1.7, 1.7, 1.8], numeric={2, 3, 4, 5, 6, 7})
        if "各单位预算执行" in charts:
            w.figure(charts["各单位预算执行"], "各单位预算执行情况")
    else:
        w.para("工作簿未填写单位预算数据。")
    w.heading("（三）各明细项目评价得分情况", 2)
    for i, c in enumerate(result.categories, start=1):
        w.para(f"{i}.{c.name}指标（{_category_points(result, c)}）：得分{cnfmt.score(c.score)}分。")
        items = lost.get(c.name, [])
        if not items:
            w.para("各项指标均得满分，未扣分。")
        for x in items:
            reason = f"原因：{x['reason']}" if x["reason"] else "原因：【待填写：扣分原因】"
            w.para(f"{x['l3']}（{cnfmt.score(x['points'])}分）扣{cnfmt.score(x['lost'])}分。{reason}")
    if result.budget_score is not None:
        w.para(f"{len(result.categories) + 1}.预算执行（{cnfmt.score(model.profile.budget_score_points)}分）："
               f"得分{cnfmt.score(result.budget_score)}分。")
    w.caption(f"表{w.tables + 1}  一级指标得分情况")
    rows = []
    for c in result.categories:
        rows.append([c.name, cnfmt.score(c.points), cnfmt.score(c.score), cnfmt.percent(_rate(c)),
                     cnfmt.score(sum(x["lost"] for x in lost.get(c.name, [])))])
    if result.budget_score is not None:
        points = model.profile.budget_score_points
        rows.append(["预算执行", cnfmt.score(points), cnfmt.score(result.budget_score),
                     cnfmt.percent(result.budget_score / points * 100), cnfmt.score(points - result.budget_score)])
    full = sum(c.points for c in result.categories) + (model.profile.budget_score_points
                                                       if result.budget_score is not None else 0)
    rows.append(["合计", cnfmt.score(full), cnfmt.score(result.total), "", ""])
    w.table(["一级指标", "分值（权重）", "得分", "得分率", "失分"], rows, [3, 2.6, 2.4, 2.4, 2.4],
            numeric={1, 2, 3, 4})
    for title in ("一级指标得分", "一级指标得分率"):
        if title in charts:
            w.figure(charts[title], title, width_cm=14.5 if title == "一级指标得分" else 10)

    w.heading("四、绩效评价指标分析", 1)
    by_name = {c.name: c for c in result.categories}
    sections = [(title, [by_name[n] for n in names if n in by_name], label) for title, names, label in ANALYSIS]
    covered = {n for _, names, _ in ANALYSIS for n in names}
    sections += [(f"{c.name}指标情况", [c], f"指标分析-{c.name}") for c in result.categories if c.name not in covered]
    n = 0
    for title, cats, label in sections:
        if not cats:
            continue
        n += 1
        w.heading(f"（{cnfmt.cn_ordinal(n)}）{title}", 2)
        facts = "；".join(f"{c.name}指标{_category_points(result, c)}，得分{cnfmt.score(c.score)}分，"
                         f"得分率{cnfmt.percent(_rate(c))}" for c in cats)
        w.para(facts + "。")
        w.free(label)

    w.heading("五、主要经验及做法", 1)
    w.free("经验做法")
    w.heading("六、相关建议", 1)
    w.free("相关建议")

    w.landscape_section()
    w.heading(f"附件：{year}{project}项目支出指标体系", 1)
    _indicator_table(w, result)
    return w.doc, w.placeholders


def _indicator_table(w: _Writer, result: Result) -> None:
    """Every 三级 indicator with its data and score; 一级/二级 cells merged down their group."""
    t = result.model.indicators
    cats = {c.name: c for c in result.categories}
    reasons = {x["row"]: x["reason"] for x in losses(result)}
    rows = []
    for i in range(len(t["row"])):
        method = t["method"][i]
        target, actual = _value(t, i, "target"), _value(t, i, "actual")
        if method == "定性":
            actual = t["level"][i]
        elif method == "扣分":
            actual = f"扣{cnfmt.score(t['deduction'][i])}分" if t["deduction"][i] else "未扣分"
        rows.append([f"{t['l1'][i]}（{_category_points(result, cats[t['l1'][i]])}）", t["l2"][i], t["l3"][i],
                     cnfmt.score(t["points"][i]), method, t["criteria"][i], target, actual,
                     cnfmt.score(result.scores[i]), reasons.get(int(t["row"][i]), "")])
    full = sum(c.raw_points for c in result.categories)
    raw = sum(c.raw_score for c in result.categories)
    rows.append(["合计", "", "", cnfmt.score(full), "", "", "", "", cnfmt.score(raw), ""])
    table = w.table(["一级指标", "二级指标", "三级指标", "分值", "评分方法", "评分标准", "目标值", "实际值", "得分",
                     "扣分原因"], rows, [2.2, 2.2, 3.6, 1.1, 1.7, 5.7, 1.9, 1.9, 1.2, 4.2], numeric={3, 8})
    _repeat_header(table)
    # merge runs of equal 一级 / (一级, 二级) cells; the text stays in the top cell
    for col, key in ((0, lambda r: r[0]), (1, lambda r: (r[0], r[1]))):
        start = 0
        for r in range(1, len(rows) + 1):
            if r == len(rows) or key(rows[r]) != key(rows[start]) or rows[r][0] == "合计":
                if r - start > 1:
                    top = table.cell(start + 1, col)
                    merged = top.merge(table.cell(r, col))
                    merged.text = cnfmt.doc_text(rows[start][col])
                    for p in merged.paragraphs:
                        p._p.style = w.table_style_id
                start = r


def _repeat_header(table) -> None:
    """The header row repeats on every page of a long table (w:tblHeader)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    trpr = table.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _value(t, i, name: str) -> str:
    """A target/actual as the table shows it: 是/否 for 是否, else the number and its unit."""
    value = t[name][i]
    if cnfmt.is_blank(value):
        return ""
    if t["method"][i] == "是否":
        return "是" if value else "否"
    return f"{cnfmt.number(value)}{t['unit'][i] or ''}"


def write_report(book_or_path, out_path, charts: bool = True) -> ReportInfo:
    """Evaluate a workbook (path or book) and write its report to out_path (.docx, atomic)."""
    book = FileBook(book_or_path) if isinstance(book_or_path, (str, Path)) else book_or_path
    try:
        result = _evaluate(book)
        texts, warnings = read_report_text(book)
    finally:
        if book is not book_or_path:
            book.close()
    images = {}
    if charts:
        from dtg_xl.delivery.charts import result_charts

        images = result_charts(result)
    doc, placeholders = build_document(result, texts, images)
    year, project = report_title(result)
    doc.core_properties.title = cnfmt.doc_text(f"{year}{project}绩效评价报告")
    doc.core_properties.author = "dtg_xl"
    out = Path(out_path)
    with atomic_output(out) as tmp:
        doc.save(str(tmp))
    hints = [str(w) for w in result.warnings if "偏差原因" in str(w)]
    return ReportInfo(out, result, placeholders, list(images), warnings, _count_placeholders(doc), hints)


def _count_placeholders(doc) -> int:
    """Every 【待填写 mark in the body and its tables (merged cells counted once)."""
    from docx.oxml.ns import qn

    return "".join(t.text or "" for t in doc.element.body.iter(qn("w:t"))).count("【待填写")
