"""What-if: re-score a workbook with some input cells changed, without touching the file.

``PatchedBook`` is a read-only view of any book whose ``sheet_values`` returns the patched
values; the same read_model → evaluate runs on it, so a simulated score is exactly what a
re-evaluation of an edited copy would give.  Two doors:
- ``dtg-xl whatif IN --set 指标体系!J12=95 …`` (``run_whatif``), and
- the ``模拟`` sheet: the user lists 工作表 | 单元格 | 模拟值; every evaluation (CLI or the
  Excel button, both through ``pipeline.evaluate_book``) writes the simulated result beside it
  (``simulation_blocks``).  The rows of other sheets are never changed by a simulation.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from dtg_xl.errors import DtgError
from dtg_xl.core.engine import Result, evaluate
from dtg_xl.core.excel_round import excel_round
from dtg_xl.results.layout import losses
from dtg_xl.xlsx.cells import cell_ref
from dtg_xl.core.model import read_model
from dtg_xl.core.schema import HEADER_ROW, SHEET_ALLOCATION, SHEET_INDICATORS, SHEET_PARAMS, SHEET_SUMMARY, SHEET_UNITS
from dtg_xl.xlsx.cells import col_number

SHEET_SIMULATION = "模拟"
OUTPUT_SHEETS = (SHEET_SUMMARY, SHEET_SIMULATION, "同比", SHEET_ALLOCATION)  # written by the program, not inputs
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})$")
MAX_COL, MAX_ROW = 16384, 1048576  # Excel's sheet limits


class WhatIfError(DtgError):
    """Bad simulation input; ``problems`` lists every one (message for the user)."""

    def __init__(self, problems: list[str]):
        super().__init__("；".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Change:
    sheet: str
    row: int
    col: int
    value: object  # float, str, or None for a blank

    @property
    def ref(self) -> str:
        return f"{self.sheet}!{cell_ref(self.row, self.col)}"


# ---------------------------------------------------------------- the patched view
class PatchedBook:
    """Read-only view of ``book`` with cells replaced; writes are discarded, nothing is saved."""

    def __init__(self, book, changes: list[Change]):
        self._book = book
        self._changes: dict[str, dict[tuple[int, int], object]] = {}
        for c in changes:
            self._changes.setdefault(c.sheet, {})[(c.row, c.col)] = c.value

    def sheet_names(self) -> list[str]:
        return self._book.sheet_names()

    def sheet_values(self, name: str) -> list[list]:
        rows = self._book.sheet_values(name)
        cells = self._changes.get(name)
        if not cells:
            return rows
        rows = list(rows)  # a new outer list; touched rows are copied, the book's cache stays as read
        for (r, c), value in cells.items():
            if r > len(rows):
                rows.extend([[]] * (r - len(rows)))  # shared empty rows, never written to
            line = list(rows[r - 1])
            line.extend([""] * (c - len(line)))
            line[c - 1] = "" if value is None else value
            rows[r - 1] = line
        return rows  # rows may differ in length; readers index with a bounds check

    def write(self, sheet, row, col, values) -> None:
        pass


# ---------------------------------------------------------------- parsing changes
def parse_value(text):
    """A typed value: number if it reads as one, blank for '', otherwise text."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return None if isinstance(text, float) and math.isnan(text) else float(text)
    s = str(text).strip()
    if not s:
        return None
    try:
        value = float(s.replace(",", "").replace("，", ""))
    except ValueError:
        return s
    return value if math.isfinite(value) else s


def _cell(text: str) -> tuple[int, int] | None:
    m = _CELL.match(text.strip())
    if not m:
        return None
    col = col_number(m.group(1).upper())
    row = int(m.group(2))
    return (row, col) if col <= MAX_COL and row <= MAX_ROW else None


def parse_ref(ref: str) -> tuple[str, int, int] | str:
    """'指标体系!J12' (sheet may be quoted) -> (sheet, row, col), or an error message."""
    if "!" not in ref:
        return f"“{ref}”缺少工作表名，应写成 工作表!单元格，如 指标体系!J12"
    sheet, cell = ref.rsplit("!", 1)
    sheet = sheet.strip().strip("'").strip()
    where = _cell(cell)
    if not sheet:
        return f"“{ref}”缺少工作表名，应写成 工作表!单元格，如 指标体系!J12"
    if where is None:
        return f"“{ref}”中的单元格“{cell.strip()}”格式不对，应如 J12"
    return sheet, where[0], where[1]


def parse_set(text: str) -> tuple[str, int, int, object] | str:
    """'指标体系!J12=95' -> (sheet, row, col, value), or an error message."""
    if "=" not in text:
        return f"“{text}”缺少“=”，应写成 工作表!单元格=值，如 指标体系!J12=95"
    ref, value = text.split("=", 1)
    parsed = parse_ref(ref)
    if isinstance(parsed, str):
        return parsed
    if value.strip().startswith("="):
        return f"{ref.strip()}：模拟值不能是公式"
    return (*parsed, parse_value(value))


def check_changes(book, items: list[tuple[str, int, int, object]]) -> tuple[list[Change], list[str]]:
    """Turn parsed (sheet, row, col, value) into Changes; every bad reference becomes a message."""
    names = book.sheet_names()
    problems, changes = [], []
    score_col = _score_column(book) if SHEET_INDICATORS in names else None
    for sheet, row, col, value in items:
        ref = f"{sheet}!{cell_ref(row, col)}"
        if sheet not in names:
            problems.append(f"{ref}：工作簿中没有工作表“{sheet}”（现有：{'、'.join(names)}）")
        elif sheet in OUTPUT_SHEETS:
            problems.append(f"{ref}：“{sheet}”由程序填写，不能作为模拟输入")
        elif sheet in (SHEET_INDICATORS, SHEET_UNITS) and row <= HEADER_ROW:
            problems.append(f"{ref}：第{row}行是表头，不能模拟")
        elif sheet == SHEET_INDICATORS and col == score_col:
            problems.append(f"{ref}：“得分”列由程序计算，请改目标值、实际值等输入")
        else:
            changes.append(Change(sheet, row, col, value))
    return changes, problems


def _score_column(book) -> int | None:
    rows = book.sheet_values(SHEET_INDICATORS)
    header = rows[HEADER_ROW - 1] if rows else []
    for c, v in enumerate(header, start=1):
        if str(v).replace("\n", "").strip() == "得分":
            return c
    return None


def cell_value(book, change: Change):
    rows = book.sheet_values(change.sheet)
    if change.row <= len(rows) and change.col <= len(rows[change.row - 1]):
        value = rows[change.row - 1][change.col - 1]
        return None if value == "" else value
    return None


# ---------------------------------------------------------------- running
@dataclass
class WhatIf:
    before: Result
    after: Result
    changes: list[Change]
    old_values: list[object]
    moved: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.before.ok and self.after.ok


def _evaluate(book, profile: str | None) -> Result:
    model = read_model(book, profile=profile)
    return Result(model=None, errors=model) if isinstance(model, list) else evaluate(model)


def simulate(book, changes: list[Change], profile: str | None = None, before: Result | None = None) -> WhatIf:
    """Score the book as it is (unless ``before`` is that result already) and with the changes;
    list every indicator whose score moved."""
    before = before if before is not None else _evaluate(book, profile)
    after = _evaluate(PatchedBook(book, changes), profile)
    w = WhatIf(before, after, changes, [cell_value(book, c) for c in changes])
    if w.ok:
        w.moved = moved_indicators(before, after)
    return w


def _scores_by_row(result: Result) -> dict[int, tuple]:
    t = result.model.indicators
    return {int(t["row"][i]): (t["l1"][i], t["l2"][i], t["l3"][i], float(result.scores[i]))
            for i in range(len(t["row"]))}


def moved_indicators(before: Result, after: Result) -> list[dict]:
    """Indicators (by 指标体系 row) whose score differs, including rows that appeared/vanished."""
    a, b = _scores_by_row(before), _scores_by_row(after)
    out = []
    for row in sorted(set(a) | set(b)):
        old, new = a.get(row), b.get(row)
        s_old = old[3] if old else None
        s_new = new[3] if new else None
        if s_old == s_new:
            continue
        names = new or old
        change = float(excel_round(s_new - s_old, 2)) if old and new else None  # clears float noise
        out.append({"row": row, "l1": names[0], "l2": names[1], "l3": names[2],
                    "before": s_old, "after": s_new, "change": change})
    return out


def whatif_json(w: WhatIf) -> dict:
    def side(r: Result) -> dict:
        return {"total": r.total, "grade": r.grade,
                "categories": [{"name": c.name, "score": c.score} for c in r.categories],
                "losses": losses(r) if r.ok else [],
                "errors": [p.as_dict() for p in r.errors],
                "warnings": [p.as_dict() for p in r.warnings]}

    delta = float(excel_round(w.after.total - w.before.total, 2)) if w.ok else None
    return {
        "changes": [{"cell": c.ref, "before": o, "after": c.value} for c, o in zip(w.changes, w.old_values)],
        "before": side(w.before), "after": side(w.after), "change": delta,
        "grade_changed": w.ok and w.before.grade != w.after.grade,
        "moved": w.moved,
    }


def run_whatif(book, sets: list[str], profile: str | None = None) -> WhatIf:
    """The CLI verb: parse ``--set`` texts, check them against the book, simulate."""
    parsed, problems = [], []
    for text in sets:
        item = parse_set(text)
        (problems.append if isinstance(item, str) else parsed.append)(item)
    changes, bad = check_changes(book, parsed)
    problems += bad
    refs = [c.ref for c in changes]
    problems += [f"{ref}：指定了{refs.count(ref)}次，请只保留一个模拟值" for ref in dict.fromkeys(refs) if refs.count(ref) > 1]
    if problems:
        raise WhatIfError(problems)
    if not changes:
        raise WhatIfError(["请用 --set 工作表!单元格=值 指定至少一个模拟值，如 --set 指标体系!J12=95"])
    return simulate(book, changes, profile)


def format_whatif(w: WhatIf) -> list[str]:
    lines = [f"模拟修改：{c.ref}  {_show(o)} → {_show(c.value)}" for c, o in zip(w.changes, w.old_values)]
    if not w.before.ok:
        lines.append(f"工作簿本身有{len(w.before.errors)}个问题，无法模拟：")
        lines += [f"  {p}" for p in w.before.errors]
        return lines
    if not w.after.ok:
        lines.append(f"修改后有{len(w.after.errors)}个问题，无法计分：")
        lines += [f"  {p}" for p in w.after.errors]
        return lines
    b, a = w.before, w.after
    lines.append(f"综合得分 {b.total:g} → {a.total:g}（{a.total - b.total:+.2f}），"
                 f"等次 {b.grade} → {a.grade}{'（等次改变）' if a.grade != b.grade else ''}")
    if w.moved:
        lines.append("得分变动的指标：")
        for m in w.moved:
            lines.append(f"  第{m['row']}行 {m['l1']}/{m['l2']}/{m['l3']}：{_show(m['before'])} → "
                         f"{_show(m['after'])}" + (f"（{m['change']:+.2f}）" if m["change"] is not None else ""))
    else:
        lines.append("没有指标的得分变动")
    return lines


def _show(value) -> str:
    if value is None or value == "":
        return "（空）"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- the 模拟 sheet
SIM_HEADER_ROW = 3
SIM_FIRST_ROW = 4
SIM_ROWS = 50
SIM_INPUT_HEADERS = ("工作表", "单元格", "模拟值", "原值", "问题")  # 原值/问题 written by the program
SIM_FACTS_COL = 7  # G
SIM_FACTS = ("当前综合得分", "模拟综合得分", "变化", "当前等次", "模拟等次", "模拟状态")
SIM_MOVED_HEADER_ROW = 12
SIM_MOVED_ROWS = 100
SIM_MOVED_HEADERS = ("行号", "一级指标", "二级指标", "三级指标", "当前得分", "模拟得分", "变化")
SIM_TITLE = ("模拟（假设分析）：在左表填写要改变的单元格和模拟值（如 指标体系 / J12 / 95），"
             "计算后右侧显示模拟结果。模拟不会修改任何工作表；模拟值留空的行不参与。")


def read_simulation(book) -> tuple[list[tuple[int, tuple]], list[tuple[int, str]]]:
    """Rows of the 模拟 sheet: ([(sheet row, (sheet, row, col, value))], [(sheet row, problem)])."""
    rows = book.sheet_values(SHEET_SIMULATION)
    items, problems = [], []
    for r in range(SIM_FIRST_ROW, min(len(rows), SIM_FIRST_ROW + SIM_ROWS - 1) + 1):
        line = list(rows[r - 1]) + ["", "", ""]
        sheet, cell = str(line[0]).strip(), str(line[1]).strip()
        value = parse_value(line[2])
        if value is None:
            continue  # 模拟值留空 = row not used
        if "!" in cell:
            parsed = parse_ref(cell)
        elif not sheet or not cell:
            parsed = "请填写工作表和单元格"
        else:
            parsed = parse_ref(f"{sheet}!{cell}")
        if isinstance(parsed, str):
            problems.append((r, parsed))
        elif isinstance(value, str) and value.startswith("="):
            problems.append((r, "模拟值不能是公式"))
        else:
            items.append((r, (*parsed, value)))
    return items, problems


def simulation_blocks(book, profile: str | None = None, base: Result | None = None) -> list[tuple[str, int, int, list[list]]]:
    """What an evaluation writes on 模拟: 原值/问题 per input row, the result facts, moved indicators."""
    items, problems = read_simulation(book)
    _, bad = check_changes(book, [item for _, item in items])
    bad_by_ref = {msg.split("：", 1)[0]: msg.split("：", 1)[1] for msg in bad}
    per_row: dict[int, list] = {r: [None, msg] for r, msg in problems}
    ok_changes, seen = [], {}
    for r, item in items:
        ref = f"{item[0]}!{cell_ref(item[1], item[2])}"
        if ref in bad_by_ref:
            per_row[r] = [None, bad_by_ref[ref]]
        elif ref in seen:  # two values for one cell: which one was meant is unclear
            per_row[r] = [None, f"与第{seen[ref]}行模拟同一单元格"]
        else:
            seen[ref] = r
            change = Change(*item)
            ok_changes.append(change)
            per_row[r] = [_cell_display(cell_value(book, change)), None]
    n_bad = sum(1 for v in per_row.values() if v[1])
    facts = [None] * len(SIM_FACTS)
    moved_rows = []
    if base is not None and base.ok:
        facts[0], facts[3] = base.total, base.grade
    if n_bad:
        facts[-1] = f"模拟输入有{n_bad}个问题，见左表“问题”列，未模拟"
    elif not ok_changes:
        facts[-1] = "未填写模拟值"
    else:
        w = simulate(book, ok_changes, profile, before=base)
        if not w.before.ok:
            facts[-1] = "工作簿有校验问题，未模拟（见“汇总”）"
        elif not w.after.ok:
            facts[-1] = "模拟后有问题：" + "；".join(str(p) for p in w.after.errors[:5])
            facts[0], facts[3] = w.before.total, w.before.grade
        else:
            b, a = w.before, w.after
            facts = [b.total, a.total, float(excel_round(a.total - b.total, 2)), b.grade, a.grade,
                     f"已模拟{len(ok_changes)}处修改" + ("，等次改变" if a.grade != b.grade else "")]
            moved_rows = [[m["row"], m["l1"], m["l2"], m["l3"], m["before"], m["after"], m["change"]]
                          for m in w.moved]
    input_block = [per_row.get(r, [None, None]) for r in range(SIM_FIRST_ROW, SIM_FIRST_ROW + SIM_ROWS)]
    if len(moved_rows) > SIM_MOVED_ROWS:
        moved_rows = moved_rows[: SIM_MOVED_ROWS - 1] + [[f"……另有{len(moved_rows) - SIM_MOVED_ROWS + 1}行未列出"]]
    moved_rows = [r + [None] * (len(SIM_MOVED_HEADERS) - len(r)) for r in moved_rows]
    moved_rows += [[None] * len(SIM_MOVED_HEADERS) for _ in range(SIM_MOVED_ROWS - len(moved_rows))]
    return [
        (SHEET_SIMULATION, SIM_FIRST_ROW, 4, input_block),
        (SHEET_SIMULATION, SIM_FIRST_ROW, SIM_FACTS_COL + 1, [[v] for v in facts]),
        (SHEET_SIMULATION, SIM_MOVED_HEADER_ROW + 1, SIM_FACTS_COL, moved_rows),
    ]


def _cell_display(value):
    return "（空）" if value is None else value


def build_simulation_sheet(ws, f) -> None:
    """The 模拟 sheet of the template (XlsxWriter worksheet, template formats ``f``)."""
    ws.merge_range(0, 0, 0, SIM_FACTS_COL + 5, SIM_TITLE, f["note"])
    ws.set_row(0, 30)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 3, 12)
    ws.set_column(4, 4, 30)
    ws.set_column(SIM_FACTS_COL - 1, SIM_FACTS_COL - 1, 14)
    ws.set_column(SIM_FACTS_COL, SIM_FACTS_COL + 1, 12)
    ws.set_column(SIM_FACTS_COL + 2, SIM_FACTS_COL + 2, 30)
    ws.set_column(SIM_FACTS_COL + 3, SIM_FACTS_COL + 5, 10)
    ws.write_row(SIM_HEADER_ROW - 1, 0, SIM_INPUT_HEADERS, f["header"])
    for r in range(SIM_FIRST_ROW - 1, SIM_FIRST_ROW - 1 + SIM_ROWS):
        for c in range(3):
            ws.write_blank(r, c, None, f["text"])
        ws.write_blank(r, 3, None, f["output_text"])
        ws.write_blank(r, 4, None, f["output_text"])
    ws.data_validation(SIM_FIRST_ROW - 1, 0, SIM_FIRST_ROW + SIM_ROWS - 2, 0,
                       {"validate": "list", "source": [SHEET_INDICATORS, SHEET_UNITS, SHEET_PARAMS],
                        "error_type": "warning"})
    ws.write(SIM_HEADER_ROW - 1, SIM_FACTS_COL - 1, "模拟结果（由程序填写）", f["title"])
    for i, label in enumerate(SIM_FACTS):
        ws.write(SIM_FIRST_ROW - 1 + i, SIM_FACTS_COL - 1, label, f["label"])
        ws.write_blank(SIM_FIRST_ROW - 1 + i, SIM_FACTS_COL, None,
                       f["output"] if i < 3 else f["output_text"])
    ws.write(SIM_MOVED_HEADER_ROW - 2, SIM_FACTS_COL - 1, "得分变动的指标", f["title"])
    ws.write_row(SIM_MOVED_HEADER_ROW - 1, SIM_FACTS_COL - 1, SIM_MOVED_HEADERS, f["header"])
    for r in range(SIM_MOVED_HEADER_ROW, SIM_MOVED_HEADER_ROW + SIM_MOVED_ROWS):
        for c in range(len(SIM_MOVED_HEADERS)):
            ws.write_blank(r, SIM_FACTS_COL - 1 + c, None, f["output"] if c >= 4 else f["output_text"])
    ws.freeze_panes(SIM_HEADER_ROW, 0)
    ws.set_landscape()
    ws.set_paper(9)  # A4, one page wide like the other sheets
    ws.fit_to_pages(1, 0)
