"""The portfolio workbook of ``dtg-xl portfolio`` (XlsxWriter, written atomically).

Sheets: 项目一览 (one row per project, an Excel table: sortable and filterable, ranked by
total), 统计 (grade distribution and score histogram with their charts), 结果应用 (what follows
from each project's grade under its profile's table), 未能评价 (files not evaluated, every
problem on its own row, and duplicates).  Numbers are written as numbers (scores with two
decimals, budgets in 万元), never as text, so a reader can sort and sum them.
"""
from __future__ import annotations

from pathlib import Path

from dtg_xl.core.excel_round import excel_round
from dtg_xl.results.portfolio import Portfolio, application, grade_counts, histogram
from dtg_xl.xlsx.atomic import atomic_output

SHEET_PROJECTS = "项目一览"
SHEET_STATS = "统计"
SHEET_USE = "结果应用"
SHEET_FAILED = "未能评价"


def _categories(pf: Portfolio) -> list[str]:
    """一级 names in order of first appearance (profiles may differ between projects)."""
    names: dict[str, None] = {}
    for p in pf.projects:
        for c in p.categories:
            names.setdefault(c["name"], None)
    return list(names)


def write_portfolio_book(pf: Portfolio, path: str | Path) -> Path:
    import xlsxwriter

    path = Path(path)
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"title": "项目支出绩效评价汇总", "comments": "dtg-xl portfolio"})
        fmt = {
            "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                   "valign": "vcenter", "align": "center"}),
            "score": wb.add_format({"num_format": "0.00"}),
            "money": wb.add_format({"num_format": "#,##0.00"}),
            "pct": wb.add_format({"num_format": "0.00"}),
            "int": wb.add_format({"num_format": "0"}),
            "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
            "title": wb.add_format({"bold": True, "font_size": 14}),
        }
        _projects(wb, pf, fmt)
        _stats(wb, pf, fmt)
        _application(wb, pf, fmt)
        _failed(wb, pf, fmt)
        wb.close()
    return path


def _printable(ws, repeat_header: bool = True) -> None:
    """A4 landscape, one page wide: the table prints (and renders to PDF) readable."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    if repeat_header:
        ws.repeat_rows(0)


def _projects(wb, pf: Portfolio, fmt) -> None:
    ws = wb.add_worksheet(SHEET_PROJECTS)
    _printable(ws)
    cats = _categories(pf)
    columns = [("排名", 6, "int"), ("项目名称", 30, None), ("评价年度", 9, None), ("单位", 22, None),
               ("评价方案", 15, None), ("综合得分", 10, "score"), ("等次", 6, None)]
    columns += [(f"{c}得分", 10, "score") for c in cats]
    columns += [("调整后预算（万元）", 14, "money"), ("实际支出（万元）", 14, "money"), ("预算执行率（%）", 12, "pct"),
                ("评价调整数", 10, "int"), ("失分指标数", 10, "int"), ("提示数", 8, "int"), ("源文件", 36, None), ("文件指纹", 34, None),
                ("数据指纹", 34, None)]
    rows = []
    for rank, p in enumerate(pf.projects, start=1):
        by_name = {c["name"]: c["score"] for c in p.categories}
        rows.append([rank, p.name, p.year, p.unit, p.profile, p.total, p.grade]
                    + [by_name.get(c) for c in cats]
                    + [p.budget, p.spent, p.execution_rate, p.adjustments, p.losses, p.warnings, p.file, p.file_fingerprint,
                       p.data_fingerprint or ""])
    last_row = max(1, len(rows))
    ws.add_table(0, 0, last_row, len(columns) - 1, {
        "name": "项目一览", "style": "Table Style Medium 2", "autofilter": True,
        "columns": [{"header": h, "header_format": fmt["head"], **({"format": fmt[f]} if f else {})}
                    for h, _, f in columns],
        "data": [[None if v is None else v for v in row] for row in rows] or [[None] * len(columns)]})
    for i, (_, width, _) in enumerate(columns):
        ws.set_column(i, i, width)
    ws.set_row(0, 30)
    ws.freeze_panes(1, 2)
    ws.print_area(0, 0, last_row, len(columns) - 4)  # printed without file and fingerprints


def _stats(wb, pf: Portfolio, fmt) -> None:
    ws = wb.add_worksheet(SHEET_STATS)
    _printable(ws, repeat_header=False)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 2, 10)
    ws.write(0, 0, "等次分布", fmt["title"])
    ws.write_row(1, 0, ["等次", "项目数", "占比（%）"], fmt["head"])
    counts = grade_counts(pf)
    total = len(pf.projects)
    for i, (grade, n) in enumerate(counts.items(), start=2):
        ws.write(i, 0, grade)
        ws.write_number(i, 1, n)
        ws.write_number(i, 2, excel_round(n / total * 100, 2) if total else 0, fmt["pct"])
    g_end = 1 + len(counts)
    h_top = g_end + 3
    ws.write(h_top, 0, "得分分布", fmt["title"])
    ws.write_row(h_top + 1, 0, ["得分区间", "项目数"], fmt["head"])
    bins = histogram(pf)
    for i, (label, n) in enumerate(bins, start=h_top + 2):
        ws.write(i, 0, label)
        ws.write_number(i, 1, n)
    h_end = h_top + 1 + len(bins)
    summary = h_end + 3
    ws.write(summary, 0, "项目数")
    ws.write_number(summary, 1, total)
    ws.write(summary + 1, 0, "未能评价")
    ws.write_number(summary + 1, 1, len(pf.failures))
    ws.write(summary + 2, 0, "重复")
    ws.write_number(summary + 2, 1, len(pf.duplicates))
    if total:
        scores = [p.total for p in pf.projects]
        ws.write(summary + 3, 0, "平均得分")
        ws.write_number(summary + 3, 1, excel_round(sum(scores) / total, 2), fmt["score"])
    for title, first, last, anchor in (("等次分布", 2, g_end, "E2"), ("得分分布", h_top + 2, h_end, "E20")):
        chart = wb.add_chart({"type": "column"})
        chart.add_series({"name": "项目数", "categories": [SHEET_STATS, first, 0, last, 0],
                          "values": [SHEET_STATS, first, 1, last, 1], "data_labels": {"value": True},
                          "fill": {"color": "#4472C4"}, "gap": 60})
        chart.set_title({"name": title})
        chart.set_legend({"none": True})
        most = max([1] + [ws_n for ws_n in (counts.values() if title == "等次分布" else (n for _, n in bins))])
        chart.set_y_axis({"name": "项目数", "major_gridlines": {"visible": True}, "min": 0,
                          "major_unit": max(1, -(-most // 5)), "num_format": "0"})
        chart.set_size({"width": 480, "height": 288})
        ws.insert_chart(anchor, chart)


def _application(wb, pf: Portfolio, fmt) -> None:
    ws = wb.add_worksheet(SHEET_USE)
    _printable(ws)
    headers = [("排名", 6, "int"), ("项目名称", 30, None), ("评价方案", 15, None), ("综合得分", 10, "score"),
               ("等次", 6, None), ("结果应用", 44, "wrap"), ("下年预算调整（%）", 12, "pct"),
               ("调整后预算（万元）", 14, "money"), ("建议调整金额（万元）", 14, "money")]
    rows = []
    for rank, p in enumerate(pf.projects, start=1):
        use = application(p)
        rows.append([rank, p.name, p.profile, p.total, p.grade, use.get("action") or "（评价方案未规定）",
                     use.get("budget_change"), p.budget, use.get("amount")])
    ws.add_table(0, 0, max(1, len(rows)), len(headers) - 1, {
        "name": "结果应用", "style": "Table Style Medium 4", "autofilter": True,
        "columns": [{"header": h, "header_format": fmt["head"], **({"format": fmt[f]} if f else {})}
                    for h, _, f in headers],
        "data": rows or [[None] * len(headers)]})
    for i, (_, width, _) in enumerate(headers):
        ws.set_column(i, i, width)
    ws.set_row(0, 30)
    ws.freeze_panes(1, 2)
    note = len(rows) + 3
    ws.write(note, 0, "说明", fmt["title"])
    ws.write(note + 1, 0, "结果应用按各项目评价方案中的结果应用表（评价方案 .toml 的 result_use）确定；"
                          "下年预算调整比例为负表示核减，金额 = 调整后预算 × 比例。")


def _failed(wb, pf: Portfolio, fmt) -> None:
    ws = wb.add_worksheet(SHEET_FAILED)
    _printable(ws)
    ws.set_column(0, 0, 36)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 90)
    rows = []
    for f in pf.failures:
        for problem in f.problems or [f.reason]:
            rows.append([f.file, "输入问题" if f.problems else "无法读取", problem])
    for d in pf.duplicates:
        rows.append([d.file, "重复", d.reason])
    ws.add_table(0, 0, max(1, len(rows)), 2, {
        "name": "未能评价", "style": "Table Style Medium 3", "autofilter": True,
        "columns": [{"header": h, "header_format": fmt["head"]} for h in ("源文件", "类别", "原因")],
        "data": rows or [[None, None, None]]})
    ws.freeze_panes(1, 1)
