"""基准对比: baseline-year vs current-year values → 压缩率, referenced by indicators.

压缩率 = (基准值 − 当年值) / 基准值 × 100, Excel-rounded to 2 dp (domain.md §3.3).  An indicator
whose 实际值 cell holds the text ``基准对比:<指标>`` is scored on that row's 压缩率; the reference is
one kind of the references resolved by ``core/references.py`` before ``rules.prepare``, so every
door (CLI, Excel button, UDF-free remote book) gets the same number.  A formula such as ``=基准对比!F2`` was not used: a workbook
written by XlsxWriter or patched headless carries no cached result for it, so a headless reader
(calamine) would see 0 or nothing.  The pipeline writes the computed 压缩率 back into the sheet
so users see the figure next to its inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import is_blank as _blank
from dtg_xl.core import rules
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.schema import BASELINE_COLUMNS, BASELINE_REF, HEADER_ROW, SHEET_BASELINES


@dataclass
class Baseline:
    row: int
    name: str
    base_year: str
    base: float
    current: float
    unit: str
    rate: float  # percent, 2 dp; nan when the inputs are not usable


@dataclass
class Baselines:
    rows: list[Baseline] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)  # internal name -> 1-based column

    def by_name(self) -> dict[str, Baseline]:
        return {b.name: b for b in self.rows}


def compression_rate(base: float, current: float) -> float:
    """(基准值 − 当年值) / 基准值 × 100, Excel ROUND to 2 dp."""
    return excel_round((base - current) / base * 100, 2)


def read_baselines(book, add) -> Baselines:
    """Read 基准对比; ``add(sheet, cell, message)`` collects problems.  Missing sheet → empty."""
    from dtg_xl.xlsx.cells import cell_ref

    if SHEET_BASELINES not in book.sheet_names():
        return Baselines()
    rows = book.sheet_values(SHEET_BASELINES)
    header = rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else []
    cols = {}
    for c, value in enumerate(header, start=1):
        name = BASELINE_COLUMNS.get(_text(value))
        if name and name not in cols:
            cols[name] = c
    missing = [h for h in ("指标", "基准值", "当年值") if BASELINE_COLUMNS[h] not in cols]
    if missing:
        add(SHEET_BASELINES, f"{HEADER_ROW}:{HEADER_ROW}", f"缺少表头：{'、'.join(missing)}")
        return Baselines(columns=cols)
    out = Baselines(columns=cols)
    seen: dict[str, int] = {}
    for r, row in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1):
        def raw(name):
            c = cols.get(name)
            return row[c - 1] if c and c - 1 < len(row) else None

        name = _text(raw("name"))
        if not name and _blank(raw("base")) and _blank(raw("current")):
            continue
        if not name:
            add(SHEET_BASELINES, cell_ref(r, cols["name"]), "缺少指标名称")
        elif name in seen:
            add(SHEET_BASELINES, cell_ref(r, cols["name"]), f"指标“{name}”与第{seen[name]}行重复")
        seen.setdefault(name, r)
        values = {}
        for key, label in (("base", "基准值"), ("current", "当年值")):
            try:
                values[key] = rules.number(raw(key), label)
            except rules.RuleError as exc:
                add(SHEET_BASELINES, cell_ref(r, cols[key]), str(exc))
                values[key] = math.nan
        base, current = values["base"], values["current"]
        if not math.isnan(base) and base <= 0:
            add(SHEET_BASELINES, cell_ref(r, cols["base"]), "基准值必须大于0（压缩率以基准值为分母）")
            base = math.nan
        if not math.isnan(current) and current < 0:
            add(SHEET_BASELINES, cell_ref(r, cols["current"]), "当年值不能为负数")
            current = math.nan
        rate = math.nan if math.isnan(base) or math.isnan(current) else float(compression_rate(base, current))
        out.rows.append(Baseline(r, name, _text(raw("base_year")), base, current, _text(raw("unit")), rate))
    return out


def rate_blocks(baselines: Baselines | None) -> list[tuple[str, int, int, list[list]]]:
    """The computed 压缩率 column, as (sheet, row, col, rows2d) blocks for the pipeline."""
    if baselines is None or "rate" not in baselines.columns:
        return []
    col = baselines.columns["rate"]
    return [(SHEET_BASELINES, b.row, col, [[None if math.isnan(b.rate) else b.rate]]) for b in baselines.rows]


BASELINE_ROWS = 20  # formatted input rows in the template


def write_sheet(ws, f: dict, rows: list[dict]) -> None:
    """Template sheet 基准对比 (XlsxWriter worksheet, formats of template._formats)."""
    headers = list(BASELINE_COLUMNS)
    widths = {"指标": 24, "基准年": 8, "基准值": 10, "当年值": 10, "计量单位": 8, "压缩率": 10, "说明": 60}
    for c, h in enumerate(headers):
        ws.set_column(c, c, widths.get(h, 10))
    ws.write_row(0, 0, headers, f["header"])
    for r in range(1, max(BASELINE_ROWS, len(rows)) + 1):
        data = rows[r - 1] if r <= len(rows) else {}
        for c, h in enumerate(headers):
            value = data.get(h)
            style = f["output"] if h == "压缩率" else f["number"] if h in ("基准值", "当年值") else f["text"]
            if value is None or h == "压缩率":
                ws.write_blank(r, c, None, style)
            else:
                ws.write(r, c, value, style)
    ws.set_column(len(headers) + 1, len(headers) + 1, 50)
    ws.write(0, len(headers) + 1, "压缩率（%）=（基准值 − 当年值）÷ 基准值 × 100，由程序计算。指标体系中某指标的实际值填"
                          f"“{BASELINE_REF[0]}指标名”即取本表该行的压缩率。", f["note"])
    ws.freeze_panes(1, 1)
