"""The Word report: structure, every number against the engine, prose from 报告文字, and a
LibreOffice tier (docx → PDF → page-1 PNG, text layer holds the conclusion sentence)."""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
from docx import Document
from helpers import ROOT, edit_cells, engine_result, run_cli

from dtg_xl.delivery import cnfmt
from dtg_xl.results.layout import losses
from dtg_xl.delivery.report import ReportError, write_report

SENTENCE = "经综合评价，该项目综合得分96.65分，等次：优。"
H1 = ["一、基本情况", "二、绩效评价工作开展情况", "三、综合评价情况及评价结论", "四、绩效评价指标分析",
      "五、主要经验及做法", "六、相关建议", "附件：2020年度口岸大通关补助资金项目支出指标体系"]
H2 = ["（一）项目概况", "（二）项目绩效目标", "（一）绩效评价目的、对象和范围",
      "（二）绩效评价原则、评价指标体系、评价方法及标准", "（三）绩效评价工作过程", "（一）评价结论",
      "（二）各明细项目预算执行情况", "（三）各明细项目评价得分情况", "（一）项目决策情况", "（二）项目过程情况",
      "（三）项目产出和效益情况"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, example_path):
    out = tmp_path_factory.mktemp("report") / "报告.docx"
    info = write_report(example_path, out)
    return out, info, Document(str(out)), engine_result(example_path)


def paragraphs(doc) -> list[str]:
    return [p.text for p in doc.paragraphs]


def headings(doc, level: int) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style.name == f"Heading {level}"]


def test_structure_of_the_2020_report(built):
    _, info, doc, _ = built
    assert headings(doc, 1) == H1
    assert headings(doc, 2) == H2
    title = [p.text for p in doc.paragraphs if p.style.name == "Title"]
    assert title == ["2020年度口岸大通关补助资金绩效评价报告"]
    assert info.placeholders == []  # the example fills every 报告文字 row
    assert not any("待填写" in t for t in paragraphs(doc))


def test_conclusion_sentence_is_the_engines(built):
    _, info, doc, result = built
    assert (result.total, result.grade) == (96.65, "优")
    assert info.result.total == result.total
    assert SENTENCE in paragraphs(doc)
    i = paragraphs(doc).index("（一）评价结论")
    assert paragraphs(doc)[i + 1] == SENTENCE


def test_budget_paragraph_and_unit_table(built):
    _, _, doc, result = built
    b = result.budget
    text = "\n".join(paragraphs(doc))
    expected = (f"年初预算{cnfmt.amount(b.initial)}，追加预算{cnfmt.amount(b.added)}，调整后预算{cnfmt.amount(b.adjusted)}；"
                f"实际到位{cnfmt.amount(b.in_place)}，实际支出{cnfmt.amount(b.spent)}。资金到位率{cnfmt.percent(b.in_place_rate)}，"
                f"预算执行率{cnfmt.percent(b.execution_rate)}")
    assert expected in text
    # the conventions: 万元 with the data's decimals, percentages to 2 dp
    assert "年初预算4241万元，追加预算2307.5万元，调整后预算6548.5万元" in text
    assert "预算执行率100.00%" in text
    table = next(t for t in doc.tables if t.rows[0].cells[1].text == "单位名称")
    assert len(table.rows) == 1 + len(result.units) + 1
    for row, unit in zip(table.rows[1:], result.units):
        cells = [c.text for c in row.cells]
        assert cells[1] == unit["name"]
        assert cells[2:7] == [cnfmt.amount(unit[k], "") for k in ("initial", "added", "adjusted", "in_place", "spent")]
        assert cells[7] == cnfmt.percent(unit["execution_rate"])
    total = [c.text for c in table.rows[-1].cells]
    assert total[1:5] == ["合计", "4241", "2307.5", "6548.5"]


def test_weights_and_grade_bands_from_data(built):
    _, _, doc, result = built
    text = paragraphs(doc)
    for i, c in enumerate(result.categories, start=1):
        assert any(t.startswith(f"（{i}）{c.name}指标（{cnfmt.score(c.points)}分）。") for t in text)
    assert [c.points for c in result.categories] == [20, 20, 25, 35]
    assert any("等级划分为四档：90（含）-100分为优、80（含）-90分为良、70（含）-80分为中、70分以下为差" in t
               for t in text)


def test_every_category_score_and_deduction_with_reason(built):
    _, _, doc, result = built
    text = paragraphs(doc)
    for i, c in enumerate(result.categories, start=1):
        assert f"{i}.{c.name}指标（{cnfmt.score(c.points)}分）：得分{cnfmt.score(c.score)}分。" in text
    lost = losses(result)
    assert [(x["l3"], x["lost"]) for x in lost] == [("绩效目标合理性", 0.75), ("预算编制科学性", 1.0),
                                                    ("资金分配合理性", 1.0), ("制度执行有效性", 0.6)]
    for x in lost:
        line = f"{x['l3']}（{cnfmt.score(x['points'])}分）扣{cnfmt.score(x['lost'])}分。原因：{x['reason']}"
        assert line in text
        assert x["reason"]
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "一级指标" and len(t.columns) == 5)
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert rows[:-1] == [[c.name, cnfmt.score(c.points), cnfmt.score(c.score),
                          cnfmt.percent(c.raw_score / c.raw_points * 100),
                          cnfmt.score(sum(x["lost"] for x in lost if x["l1"] == c.name))] for c in result.categories]
    assert rows[-1][:3] == ["合计", "100", "96.65"]


def test_attachment_is_the_full_indicator_table(built):
    _, _, doc, result = built
    t = result.model.indicators
    table = doc.tables[-1]
    assert [c.text for c in table.rows[0].cells][:4] == ["一级指标", "二级指标", "三级指标", "分值"]
    assert len(table.rows) == 1 + len(t["row"]) + 1  # header, one per 三级 indicator, 合计
    for i, row in enumerate(table.rows[1:-1]):
        cells = [c.text for c in row.cells]
        assert cells[2] == t["l3"][i]
        assert cells[3] == cnfmt.score(t["points"][i])
        assert cells[8] == cnfmt.score(result.scores[i])
    by_l3 = {x["l3"]: x["reason"] for x in losses(result)}
    for row in table.rows[1:-1]:
        cells = [c.text for c in row.cells]
        assert cells[9] == by_l3.get(cells[2], "")
    assert [c.text for c in table.rows[-1].cells][8] == "96.65"
    # the attachment sits in its own landscape section
    assert doc.sections[-1].page_width > doc.sections[-1].page_height


def test_prose_comes_from_the_report_text_sheet(built):
    _, _, doc, _ = built
    data = tomllib.loads((ROOT / "dtg_xl/examples/dtg-2020.toml").read_text(encoding="utf-8"))["report_text"]
    text = paragraphs(doc)
    first = data["经验做法"].splitlines()[0]
    assert first in text
    i = text.index("五、主要经验及做法")
    assert text[i + 1] == first
    assert "1.评价目的：" + data["评价目的"] in text
    assert data["相关建议"].splitlines()[-1] in text


def test_charts_are_embedded(built):
    _, info, doc, _ = built
    assert info.charts == ["一级指标得分", "各单位预算执行", "一级指标得分率"]
    assert len(doc.inline_shapes) == 3
    captions = [p.text for p in doc.paragraphs if p.text.startswith("图")]
    assert captions == ["图1  各单位预算执行情况", "图2  一级指标得分", "图3  一级指标得分率"]


def test_east_asian_fonts_are_explicit(built):
    path = built[0]
    import zipfile

    styles = zipfile.ZipFile(path).read("word/styles.xml").decode()
    normal = re.search(r'w:styleId="Normal".*?</w:style>', styles, re.S).group(0)
    assert 'w:eastAsia="宋体"' in normal and "eastAsiaTheme" not in normal
    heading = re.search(r'w:styleId="Heading1".*?</w:style>', styles, re.S).group(0)
    assert 'w:eastAsia="黑体"' in heading and "Theme" not in heading.split("<w:rFonts")[1].split("/>")[0]
    assert 'w:eastAsia="zh-CN"' in styles


def test_empty_prose_becomes_marked_placeholders(example_copy, tmp_path):
    # blank 经验做法 (row 14) and 相关建议 (row 15) on 报告文字
    edit_cells(example_copy, {"报告文字": {"B14": None, "B15": "  "}})
    info = write_report(example_copy, tmp_path / "r.docx")
    assert info.placeholders == ["经验做法", "相关建议"]
    text = paragraphs(Document(str(tmp_path / "r.docx")))
    i = text.index("五、主要经验及做法")
    assert text[i + 1] == "【待填写：主要经验及做法】"
    assert text[text.index("六、相关建议") + 1] == "【待填写：相关建议】"
    assert not any("一是压实责任" in t for t in text)  # nothing invented or left over


def test_grade_bands_follow_the_profile(example_copy, tmp_path):
    edit_cells(example_copy, {"参数": {"B4": "mof-2020"}})
    write_report(example_copy, tmp_path / "r.docx", charts=False)
    doc = Document(str(tmp_path / "r.docx"))
    text = "\n".join(paragraphs(doc))
    assert "90（含）-100分为优、80（含）-90分为良、60（含）-80分为中、60分以下为差" in text
    assert SENTENCE in text
    assert len(doc.inline_shapes) == 0


def test_workbook_with_errors_gives_no_report(example_copy, tmp_path):
    edit_cells(example_copy, {"指标体系": {"F2": "abc"}})
    out = tmp_path / "r.docx"
    with pytest.raises(ReportError) as exc:
        write_report(example_copy, out)
    assert "指标体系!F2" in str(exc.value)
    assert not out.exists()
    assert not list(tmp_path.glob(".r.*"))  # no temp file left behind


def test_cli_report(example_path, tmp_path, capsys):
    out = tmp_path / "报告.docx"
    code, stdout, _ = run_cli(["report", example_path, "-o", out], capsys)
    assert code == 0
    assert "已生成报告" in stdout and "96.65" in stdout
    assert SENTENCE in paragraphs(Document(str(out)))
    code, _, err = run_cli(["report", tmp_path / "missing.xlsx", "-o", out], capsys)
    assert code == 2 and "找不到文件" in err


# ---------------------------------------------------------------- LibreOffice tier
@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext") and shutil.which("pdftoppm")),
                    reason="needs LibreOffice (soffice) and poppler-utils (pdftotext, pdftoppm)")
def test_libreoffice_renders_the_report(built, tmp_path):
    docx = built[0]
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(docx)], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / (docx.stem + ".pdf")
    assert pdf.exists()
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "80", "-png", "-singlefile", str(pdf),
                    str(artifacts / "report-page1")], check=True, timeout=60)
    assert (artifacts / "report-page1.png").stat().st_size > 10_000
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode("utf-8")
    # LibreOffice 7.4 ignores w:autoSpaceDE=0 and puts its 1/4-em gap between Chinese and
    # digits, which pdftotext reads as a space; Word honours the setting.  So compare without
    # whitespace: every character of the sentence is in the text layer, in order.
    flat = re.sub(r"\s+", "", text)
    assert SENTENCE in flat
    assert "附件：2020年度口岸大通关补助资金项目支出指标体系" in flat
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, timeout=60).stdout.decode()
    assert re.search(r"CJK|Song|Hei|Ming|Han", fonts), fonts  # a CJK font did the Chinese glyphs


def test_self_evaluation_profile_reports_the_budget_score(tmp_path):
    from test_evaluate import load_example, write_template

    data = load_example("dtg-2020")
    dropped = ("落实国家降费政策", "集装箱进口环节通关成本较2017年下降")
    data["indicators"] = [r for r in data["indicators"] if r["三级指标"] not in dropped]
    for row in data["indicators"]:
        row.pop("一级权重", None)
    data["params"]["评价方案"] = "self-eval-2020"
    data["params"].pop("预算执行率口径")
    data["units"][0]["实际支出"] = 2400 - 654.85
    path = tmp_path / "self.xlsx"
    write_template(path, data=data)
    info = write_report(path, tmp_path / "r.docx", charts=False)
    # the 预算执行率 indicator (预算:执行率) follows the budget too: 4 × 90% = 3.6, so 95.65 − 0.4
    assert (info.result.total, info.result.budget_score) == (95.25, 9)
    text = paragraphs(Document(str(tmp_path / "r.docx")))
    assert "5.预算执行（10分）：得分9分。" in text
    assert "经综合评价，该项目综合得分95.25分，等次：优。" in text
    assert any("预算执行率90.00%" in t for t in text)


def test_nested_weighting_and_other_categories(tmp_path):
    from test_evaluate import nested_data, write_template

    data = nested_data()
    data["report_text"] = {"指标分析-预算绩效": "预算绩效分析文字。"}
    path = tmp_path / "nested.xlsx"
    write_template(path, data=data)
    info = write_report(path, tmp_path / "r.docx")
    doc = Document(str(tmp_path / "r.docx"))
    text = paragraphs(doc)
    assert "经综合评价，该项目综合得分92.85分，等次：优。" in text
    assert "1.预算绩效指标（权重50%）：得分43.85分。" in text
    assert headings(doc, 2)[-2:] == ["（一）预算绩效指标情况", "（二）履职效能指标情况"]
    assert "预算绩效分析文字。" in text
    assert "【待填写：指标分析-履职效能】" in text
    assert "工作簿未填写单位预算数据。" in text
    assert info.charts == ["一级指标得分"]  # no units, fewer than three 一级: no budget chart, no radar


def test_workbook_without_report_text_sheet(example_copy, tmp_path):
    import openpyxl

    wb = openpyxl.load_workbook(example_copy)
    del wb["报告文字"]
    wb.save(example_copy)
    info = write_report(example_copy, tmp_path / "r.docx", charts=False)
    assert info.warnings == ["工作簿没有“报告文字”表，报告中的文字部分均为待填写"]
    assert "项目概况" in info.placeholders and "相关建议" in info.placeholders
    text = paragraphs(Document(str(tmp_path / "r.docx")))
    assert SENTENCE in text  # the numbers do not depend on the prose
    assert "1.评价目的：【待填写：评价目的】" in text
