"""专家评分: several reviewers' scores for one 三级指标 → the row's 评定得分.

The sheet has one row per 三级指标 (column 三级指标, matched by name like compare) and one column per reviewer (any
header other than 序号/一级指标/二级指标/三级指标/分值/评定得分/极差/说明/备注).  The panel score is

- ``平均``: the mean of the reviewers who scored the row, or
- ``去掉最高最低``: with at least 5 reviewers, the mean after dropping one highest and one lowest score (fewer than
  5: the plain mean, said so in the source text),

chosen by 参数 ``专家评分方式`` (or the profile's ``expert_method``) and Excel-rounded to 2 dp.  Each reviewer's
score is checked like a typed 评定得分: inside the band of the row's 定性等级 for a 定性 row, inside [0, 分值]
otherwise; a spread (max − min) above 20% of 分值 is a warning naming the 专家评分 row.  The program writes the panel
score and the spread into the sheet's 评定得分 and 极差 columns.

Interface with 指标体系 (core/model.py): a 定性 row whose 评定得分 is blank takes the panel of the same name; any row
(定性, or a row whose 评定得分 is the evaluator's adjusted final score) can name a panel explicitly with
``专家:<三级指标>`` in 评定得分.  The panel value is handed to the scoring rules as the row's ``given`` (评定得分),
exactly as if it had been typed, so whatever the rules do with a typed 评定得分 they do with a panel's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from dtg_xl.core import rules
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.references import ReferenceProblem, Resolved
from dtg_xl.core.schema import EXPERT_METHODS, HEADER_ROW, SHEET_EXPERTS
from dtg_xl.xlsx.cells import cell_ref, col_letter
from dtg_xl.xlsx.cells import cell_text as _text
from dtg_xl.xlsx.cells import is_blank as _blank

METHODS = EXPERT_METHODS
DEFAULT_METHOD = "平均"
TRIM_MIN_REVIEWERS = 5
SPREAD_SHARE = 0.2  # max − min above this share of 分值 is a warning
NOT_REVIEWERS = ("序号", "一级指标", "二级指标", "三级指标", "分值", "评定得分", "极差", "说明", "备注")


@dataclass
class Panel:
    row: int
    name: str
    scores: list[tuple[int, float]]  # (column, score) of the reviewers who scored the row
    score: float = math.nan  # the panel score, once an indicator resolved it
    spread: float = math.nan


@dataclass
class Panels:
    method: str
    columns: dict[str, int]  # 三级指标, 评定得分, 极差 -> column
    reviewers: dict[int, str]  # column -> reviewer header
    panels: list[Panel] = field(default_factory=list)

    def by_name(self) -> dict[str, Panel]:
        return {p.name: p for p in self.panels}

    def resolve(self, ref, context: dict) -> Resolved:
        """专家:<三级指标> -> the panel score, checked against the referring row (context: points, level, method,
        warn(sheet, cell, message))."""
        name = ":".join(ref.parts).strip()
        panel = self.by_name().get(name)
        if panel is None:
            known = "、".join(p.name for p in self.panels) or "（无）"
            raise ReferenceProblem(f"引用“{ref.text}”：{SHEET_EXPERTS}表中没有三级指标“{name}”（已有：{known}）")
        return self.score(panel, ref.text, context)

    def score(self, panel: Panel, text: str, context: dict) -> Resolved:
        where = f"{SHEET_EXPERTS}!{cell_ref(panel.row, self.columns['name'])}"
        if not panel.scores:
            raise ReferenceProblem(f"引用“{text}”：{where}“{panel.name}”没有专家评分")
        points = context.get("points", math.nan)
        level = str(context.get("level") or "").strip()
        method = context.get("method")
        bad = []
        for col, s in panel.scores:
            cell = f"{SHEET_EXPERTS}!{cell_ref(panel.row, col)}"
            if method == "定性" and level in rules.LEVELS and not math.isnan(points):
                problem = rules.qualitative_problem(points, level, s)
                if problem:
                    bad.append(f"{cell}（{self.reviewers[col]}）{problem}")
            elif not math.isnan(points) and not 0 <= s <= points:
                bad.append(f"{cell}（{self.reviewers[col]}）评分{s:g}应在[0, {points:g}]之间")
        if bad:
            raise ReferenceProblem(f"引用“{text}”的专家评分超出范围：" + "；".join(bad))
        values = sorted(s for _, s in panel.scores)
        n = len(values)
        trimmed = self.method == "去掉最高最低" and n >= TRIM_MIN_REVIEWERS
        used = values[1:-1] if trimmed else values
        panel.score = float(excel_round(sum(used) / len(used), 2))
        panel.spread = float(excel_round(values[-1] - values[0], 6))
        first, last = min(c for c, _ in panel.scores), max(c for c, _ in panel.scores)
        span = f"{SHEET_EXPERTS}!{col_letter(first)}{panel.row}:{col_letter(last)}{panel.row}"
        if trimmed:
            how = f"{n}位专家，去掉最高{values[-1]:g}、最低{values[0]:g}后平均"
        elif self.method == "去掉最高最低":
            how = f"{n}位专家（不足{TRIM_MIN_REVIEWERS}位，不去掉最高最低）平均"
        else:
            how = f"{n}位专家平均"
        warn = context.get("warn")
        if warn and not math.isnan(points) and panel.spread > SPREAD_SHARE * points + 1e-9:
            warn(SHEET_EXPERTS, cell_ref(panel.row, self.columns["name"]),
                 f"“{panel.name}”专家评分相差较大：最高{values[-1]:g}、最低{values[0]:g}，极差{panel.spread:g}"
                 f"超过分值{points:g}的{SPREAD_SHARE:.0%}，请核实")
        return Resolved(text, panel.score, f"{span} {how} = {panel.score:g}", (span,))

    def result_blocks(self) -> list[tuple[str, int, int, list[list]]]:
        """评定得分 and 极差 written beside each panel (blank when no indicator used it)."""
        out = []
        for key, attr in (("given", "score"), ("spread", "spread")):
            col = self.columns.get(key)
            if col:
                for p in self.panels:
                    v = getattr(p, attr)
                    out.append((SHEET_EXPERTS, p.row, col, [[None if math.isnan(v) else v]]))
        return out


def read_panels(book, method: str, add) -> Panels | None:
    """Read 专家评分; None without the sheet or without any scored row.  ``add(sheet, cell, message)``."""
    if SHEET_EXPERTS not in book.sheet_names():
        return None
    rows = book.sheet_values(SHEET_EXPERTS)
    header = rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else []
    columns, reviewers = {}, {}
    for c, value in enumerate(header, start=1):
        text = _text(value).replace("\n", "")
        key = {"三级指标": "name", "评定得分": "given", "极差": "spread"}.get(text)
        if key and key not in columns:
            columns[key] = c
        elif text and text not in NOT_REVIEWERS:
            reviewers[c] = text
    body = [(r, row) for r, row in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1)
            if any(not _blank(row[c - 1]) for c in (*reviewers, columns.get("name", 0)) if 0 < c <= len(row))]
    if not body:
        return None
    if "name" not in columns:
        add(SHEET_EXPERTS, f"{HEADER_ROW}:{HEADER_ROW}", "缺少表头：三级指标")
        return None
    if not reviewers:
        add(SHEET_EXPERTS, f"{HEADER_ROW}:{HEADER_ROW}", "没有专家列（三级指标之后每位专家一列，如 专家1、专家2）")
        return None
    out = Panels(method, columns, reviewers)
    seen: dict[str, int] = {}
    for r, row in body:
        name = _text(row[columns["name"] - 1]) if columns["name"] <= len(row) else ""
        where = cell_ref(r, columns["name"])
        if not name:
            add(SHEET_EXPERTS, where, "缺少三级指标名称")
            continue
        if name in seen:
            add(SHEET_EXPERTS, where, f"三级指标“{name}”与第{seen[name]}行重复")
            continue
        seen[name] = r
        scores = []
        for c in reviewers:
            value = row[c - 1] if c <= len(row) else None
            if _blank(value):
                continue
            try:
                s = rules.number(value, f"{reviewers[c]}评分")
            except rules.RuleError as exc:
                add(SHEET_EXPERTS, cell_ref(r, c), str(exc))
                continue
            if s < 0:
                add(SHEET_EXPERTS, cell_ref(r, c), f"{reviewers[c]}评分不能为负数")
                continue
            scores.append((c, s))
        out.panels.append(Panel(r, name, scores))
    return out


def write_sheet(ws, f: dict, reviewers: int = 5, rows: list[dict] | None = None) -> None:
    """Template sheet 专家评分 (XlsxWriter worksheet, formats of template._formats)."""
    headers = ["三级指标", *(f"专家{i}" for i in range(1, reviewers + 1)), "评定得分", "极差", "说明"]
    ws.set_column(0, 0, 30)
    ws.set_column(1, reviewers + 2, 9)
    ws.set_column(reviewers + 3, reviewers + 3, 30)
    ws.write_row(0, 0, headers, f["header"])
    rows = rows or []
    for r in range(1, max(30, len(rows)) + 1):
        data = rows[r - 1] if r <= len(rows) else {}
        for c, h in enumerate(headers):
            style = f["output"] if h in ("评定得分", "极差") else f["number"] if h.startswith("专家") else f["text"]
            value = data.get(h)
            ws.write(r, c, value, style) if value is not None and h not in ("评定得分", "极差") \
                else ws.write_blank(r, c, None, style)
    note = (f"每行一个三级指标（名称与指标体系一致），每位专家一列，可增减专家列。定性指标的评定得分留空时取本表结果；"
            f"其他行可在评定得分填“专家:三级指标”。参数“专家评分方式”：平均，或去掉最高最低（不少于{TRIM_MIN_REVIEWERS}位专家时）。"
            f"每位专家的评分须在定性等级的分数区间内；极差超过分值{SPREAD_SHARE:.0%}时提示。评定得分、极差由程序计算。")
    ws.set_column(len(headers) + 1, len(headers) + 1, 60)
    ws.write(0, len(headers) + 1, note, f["note"])
    ws.freeze_panes(1, 1)
