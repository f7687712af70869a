"""Year over year: match last year's indicators to this year's and show what changed.

Matching, in this order, each indicator used once:
1. same name: equal (一级, 二级, 三级);
2. renamed by position: same 一级 and 二级, same ordinal inside that 二级 group, same points
   and same scoring method, different 三级 name (a re-worded indicator kept in its slot);
3. renamed by similarity: same 一级, 三级 names with difflib ratio ≥ ``FUZZY_RATIO`` (best
   pairs first) — catches re-worded names that also changed points or moved to another 二级
   (then ``last_l2`` names the old 二级; an unchanged name moved to another 二级 is matched here);
4. the rest: 删除 (last year only) and 新增 (this year only).
Changes are this year − last year for 目标值, 实际值 and 得分 per indicator, and for 分值 and
得分 per 一级 and for the total.  Both years are scored by the same engine first.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.core.engine import Result, evaluate
from dtg_xl.core.excel_round import excel_round
from dtg_xl.core.model import read_model

SHEET_COMPARE = "同比"
FUZZY_RATIO = 0.6
SAME, RENAMED, ADDED, REMOVED = "不变", "更名", "新增", "删除"


class CompareError(DtgError):
    """A workbook that cannot be compared; the message is for the user."""


@dataclass
class Side:
    """One year's evaluated indicators as plain records."""
    label: str
    result: Result
    items: list[dict] = field(default_factory=list)


def _side(label: str, book, profile: str | None) -> Side:
    model = read_model(book, profile=profile)
    result = Result(model=None, errors=model) if isinstance(model, list) else evaluate(model)
    if not result.ok:
        problems = "\n  ".join(str(p) for p in result.errors[:20])
        more = f"\n  ……共{len(result.errors)}个问题" if len(result.errors) > 20 else ""
        raise CompareError(f"{label}有校验问题，无法对比（先用 dtg-xl evaluate 查看并修改）：\n  {problems}{more}")
    t = result.model.indicators
    side = Side(label, result)
    ordinal: dict[tuple, int] = {}
    for i in range(len(t["row"])):
        group = (t["l1"][i], t["l2"][i])
        ordinal[group] = ordinal.get(group, -1) + 1
        side.items.append({"row": int(t["row"][i]), "l1": t["l1"][i], "l2": t["l2"][i], "l3": t["l3"][i],
                           "method": t["method"][i], "points": _num(t["points"][i]),
                           "target": _num(t["target"][i]), "actual": _num(t["actual"][i]),
                           "score": float(result.scores[i]), "ordinal": ordinal[group],
                           "adjustment": _adjustment(result, i)})
    return side


def _adjustment(result: Result, i: int) -> str:
    """“公式得分10→评定得分7（原因）” for a row the evaluator adjusted, else ''."""
    t = result.model.indicators
    if "adjusted" not in t or math.isnan(t["adjusted"][i]) or result.formula_scores is None:
        return ""
    return f"公式得分{float(result.formula_scores[i]):g}→评定得分{float(result.scores[i]):g}（{t['adjust_reason'][i]}）"


def _num(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _diff(new, old, digits=6):
    if new is None or old is None:
        return None
    return float(excel_round(new - old, digits))  # kill float noise such as 65.69999999


def match(last: list[dict], this: list[dict]) -> list[tuple[dict | None, dict | None, str]]:
    """Pairs (last, this, status) in this year's order, then the removed ones."""
    pairs: dict[int, tuple[int, str]] = {}  # this index -> (last index, status)
    used_last: set[int] = set()
    by_key = {(x["l1"], x["l2"], x["l3"]): i for i, x in enumerate(last)}
    for j, y in enumerate(this):
        i = by_key.get((y["l1"], y["l2"], y["l3"]))
        if i is not None and i not in used_last:
            pairs[j] = (i, SAME)
            used_last.add(i)
    for j, y in enumerate(this):  # same slot, same points and method, new name
        if j in pairs:
            continue
        for i, x in enumerate(last):
            if i not in used_last and (x["l1"], x["l2"], x["ordinal"], x["points"], x["method"]) == \
                    (y["l1"], y["l2"], y["ordinal"], y["points"], y["method"]):
                pairs[j] = (i, RENAMED)
                used_last.add(i)
                break
    candidates = []  # similar names inside one 一级
    for j, y in enumerate(this):
        if j in pairs:
            continue
        for i, x in enumerate(last):
            if i not in used_last and x["l1"] == y["l1"]:
                ratio = difflib.SequenceMatcher(None, x["l3"], y["l3"]).ratio()
                if ratio >= FUZZY_RATIO:
                    candidates.append((-ratio, j, i))
    for _, j, i in sorted(candidates):
        if j not in pairs and i not in used_last:
            pairs[j] = (i, RENAMED)
            used_last.add(i)
    out = []
    for j, y in enumerate(this):
        i, status = pairs.get(j, (None, ADDED))
        out.append((last[i] if i is not None else None, y, status))
    out += [(x, None, REMOVED) for i, x in enumerate(last) if i not in used_last]
    return out


def compare_results(last: Side, this: Side) -> dict:
    """The comparison as plain data (the --json contract and what the 同比 sheet shows)."""
    indicators = []
    for x, y, status in match(last.items, this.items):
        cur = y or x
        rec = {"status": status, "l1": cur["l1"], "l2": cur["l2"], "l3": cur["l3"],
               "last_name": x["l3"] if x and status == RENAMED else None,
               "last_l2": x["l2"] if x and status == RENAMED and x["l2"] != cur["l2"] else None,
               "last_row": x["row"] if x else None, "this_row": y["row"] if y else None}
        for key in ("points", "target", "actual", "score"):
            old = x[key] if x else None
            new = y[key] if y else None
            rec[key] = {"last": old, "this": new, "change": _diff(new, old, 2 if key == "score" else 6)}
        rec["adjustment"] = {"last": x["adjustment"] if x else "", "this": y["adjustment"] if y else ""}
        indicators.append(rec)
    cats_last = {c.name: c for c in last.result.categories}
    cats_this = {c.name: c for c in this.result.categories}
    categories = []
    for name in [*cats_this, *(n for n in cats_last if n not in cats_this)]:
        a, b = cats_last.get(name), cats_this.get(name)
        status = SAME if a and b else ADDED if b else REMOVED
        categories.append({
            "name": name, "status": status,
            "points": {"last": a.points if a else None, "this": b.points if b else None,
                       "change": _diff(b.points if b else None, a.points if a else None, 2)},
            "score": {"last": a.score if a else None, "this": b.score if b else None,
                      "change": _diff(b.score if b else None, a.score if a else None, 2)},
        })
    counts = {s: sum(1 for r in indicators if r["status"] == s) for s in (SAME, RENAMED, ADDED, REMOVED)}
    return {
        "last": {"file": last.label, "year": _year(last),
                 "total": last.result.total, "grade": last.result.grade},
        "this": {"file": this.label, "year": _year(this),
                 "total": this.result.total, "grade": this.result.grade},
        "total_change": _diff(this.result.total, last.result.total, 2),
        "counts": counts,
        "categories": categories,
        "indicators": indicators,
        "added": [r["l3"] for r in indicators if r["status"] == ADDED],
        "removed": [r["l3"] for r in indicators if r["status"] == REMOVED],
        "renamed": [{"last": r["last_name"], "this": r["l3"], "last_l2": r["last_l2"],
                     "this_l2": r["l2"] if r["last_l2"] else None}
                    for r in indicators if r["status"] == RENAMED],
    }


def _year(side: Side):
    year = side.result.model.params.get("year")
    return int(year) if isinstance(year, float) and year.is_integer() else year


def compare_books(last_book, this_book, last_label: str, this_label: str, profile: str | None = None,
                  paths: tuple | None = None) -> dict:
    data = compare_results(_side(last_label, last_book, profile), _side(this_label, this_book, profile))
    data["warnings"] = compare_warnings(data, paths)
    return data


def compare_warnings(data: dict, paths: tuple | None = None) -> list[str]:
    """What makes a comparison meaningless or backwards: one workbook twice, years reversed."""
    out = []
    if paths is not None:
        import hashlib

        from dtg_xl.xlsx.atomic import same_file

        a, b = paths
        same = same_file(a, b) or (hashlib.sha256(Path(a).read_bytes()).digest()
                                   == hashlib.sha256(Path(b).read_bytes()).digest())
        if same:
            out.append(f"上年文件“{data['last']['file']}”与本年文件“{data['this']['file']}”是同一个工作簿，"
                       "对比结果全部“不变”没有意义；请确认选择了两个年度的文件")
    y0, y1 = _year_number(data["last"]["year"]), _year_number(data["this"]["year"])
    if y0 is not None and y1 is not None:
        if y0 > y1:
            out.append(f"上年文件的评价年度（{y0}）晚于本年文件（{y1}）：两个文件可能放反了，"
                       "用法为 dtg-xl compare 上年工作簿 本年工作簿")
        elif y0 == y1 and not out:
            out.append(f"两个文件的评价年度相同（{y0}），同比对比通常应选择相邻的两个年度")
    return out


def _year_number(value):
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


# ---------------------------------------------------------------- the 同比 sheet
FACTS_ROW = 3  # labels in A, values in B
FACTS = ("上年文件", "本年文件", "上年综合得分", "本年综合得分", "综合得分变化", "上年等次", "本年等次", "指标匹配")
CAT_HEADER_ROW = 13
CAT_ROWS = 12
CAT_HEADERS = ("一级指标", "状态", "上年分值", "本年分值", "分值变化", "上年得分", "本年得分", "得分变化")
IND_HEADER_ROW = 28
IND_ROWS = 300
IND_HEADERS = ("状态", "一级指标", "二级指标", "三级指标", "上年名称", "上年分值", "本年分值",
               "上年目标值", "本年目标值", "目标值变化", "上年实际值", "本年实际值", "实际值变化",
               "上年得分", "本年得分", "得分变化", "评价调整")
ADJUSTMENT_COL = len(IND_HEADERS)  # 1-based: 公式得分→评定得分（原因） of either year, as the text and JSON say
TITLE = "同比分析（由 dtg-xl compare 填写，请勿手工修改）"


def _trio(d: dict) -> list:
    return [d["last"], d["this"], d["change"]]


def _fill(rows: list[list], capacity: int, width: int) -> list[list]:
    if len(rows) > capacity:
        rows = rows[: capacity - 1] + [[f"……另有{len(rows) - capacity + 1}行未列出"]]
    rows = [r + [None] * (width - len(r)) for r in rows]
    return rows + [[None] * width for _ in range(capacity - len(rows))]


def compare_blocks(data: dict) -> list[tuple[str, int, int, list[list]]]:
    c = data["counts"]
    facts = [data["last"]["file"], data["this"]["file"], data["last"]["total"], data["this"]["total"],
             data["total_change"], data["last"]["grade"], data["this"]["grade"],
             f"不变{c[SAME]}项，更名{c[RENAMED]}项，新增{c[ADDED]}项，删除{c[REMOVED]}项"]
    cats = [[x["name"], x["status"], *_trio(x["points"]), *_trio(x["score"])] for x in data["categories"]]
    inds = [[r["status"], r["l1"], r["l2"], r["l3"],
             f"{r['last_l2']}/{r['last_name']}" if r["last_l2"] else r["last_name"],
             r["points"]["last"], r["points"]["this"],
             *_trio(r["target"]), *_trio(r["actual"]), *_trio(r["score"]), _adjustments_text(r) or None]
            for r in data["indicators"]]
    return [
        (SHEET_COMPARE, FACTS_ROW, 2, [[v] for v in facts]),
        (SHEET_COMPARE, CAT_HEADER_ROW + 1, 1, _fill(cats, CAT_ROWS, len(CAT_HEADERS))),
        # the header too: a workbook made from a template before this column existed gets it labelled
        (SHEET_COMPARE, IND_HEADER_ROW, ADJUSTMENT_COL, [[IND_HEADERS[-1]]]),
        (SHEET_COMPARE, IND_HEADER_ROW + 1, 1, _fill(inds, IND_ROWS, len(IND_HEADERS))),
    ]


def _adjustments_text(r: dict) -> str:
    """“上年：…；本年：公式得分10→评定得分8（原因）” for an indicator adjusted in either year, else ''."""
    adjustment = r.get("adjustment", {})
    return "；".join(f"{side}：{adjustment[key]}" for side, key in (("上年", "last"), ("本年", "this"))
                    if adjustment.get(key))


def build_compare_sheet(ws, f) -> None:
    """The 同比 sheet of the template (XlsxWriter worksheet, template formats ``f``)."""
    ws.write(0, 0, TITLE, f["title"])
    ws.set_column(0, 0, 14)
    ws.set_column(1, 2, 12)
    ws.set_column(3, 4, 30)
    ws.set_column(5, 15, 10)
    ws.set_column(ADJUSTMENT_COL - 1, ADJUSTMENT_COL - 1, 40)
    for i, label in enumerate(FACTS):
        ws.write(FACTS_ROW - 1 + i, 0, label, f["label"])
        # value cell B merged to E so file names and the match counts fit on one line
        ws.merge_range(FACTS_ROW - 1 + i, 1, FACTS_ROW - 1 + i, 4, None,
                       f["output"] if 2 <= i <= 4 else f["output_text"])
    for header_row, capacity, headers, title in (
            (CAT_HEADER_ROW, CAT_ROWS, CAT_HEADERS, "一级指标同比"),
            (IND_HEADER_ROW, IND_ROWS, IND_HEADERS, "三级指标同比（变化 = 本年 − 上年）")):
        ws.write(header_row - 2, 0, title, f["title"])
        ws.write_row(header_row - 1, 0, headers, f["header"])
        text_cols = {0, 1} if headers is CAT_HEADERS else {0, 1, 2, 3, 4, ADJUSTMENT_COL - 1}
        for r in range(header_row, header_row + capacity):
            for c in range(len(headers)):
                ws.write_blank(r, c, None, f["output_text"] if c in text_cols else f["output"])
    ws.freeze_panes(IND_HEADER_ROW, 4)
    ws.set_landscape()
    ws.set_paper(9)  # A4, one page wide like the other sheets
    ws.fit_to_pages(1, 0)


def default_output(this_path: Path) -> Path:
    return this_path.with_name(f"{this_path.stem}-同比{this_path.suffix}")


def format_compare(data: dict) -> list[str]:
    """Plain-text report of a comparison (the CLI's default output)."""
    a, b, c = data["last"], data["this"], data["counts"]
    lines = [f"上年 {a['total']:g} 分（{a['grade']}） → 本年 {b['total']:g} 分（{b['grade']}），"
             f"变化 {data['total_change']:+.2f}",
             f"指标：不变{c[SAME]}项，更名{c[RENAMED]}项，新增{c[ADDED]}项，删除{c[REMOVED]}项"]
    lines += [f"  更名：{r['last_l2']}/{r['last']} → {r['this_l2']}/{r['this']}" if r["last_l2"] else
              f"  更名：{r['last']} → {r['this']}" for r in data["renamed"]]
    lines += [f"  新增：{name}" for name in data["added"]]
    lines += [f"  删除：{name}" for name in data["removed"]]
    lines += [f"提示：{w}" for w in data.get("warnings", [])]
    lines.append("一级指标得分：")
    for x in data["categories"]:
        s = x["score"]
        if x["status"] == SAME:
            lines.append(f"  {x['name']} {s['last']:g} → {s['this']:g}（{s['change']:+.2f}）")
        else:
            lines.append(f"  {x['name']}（{x['status']}）{_show(s['last'])} → {_show(s['this'])}")
    changed = [r for r in data["indicators"] if r["status"] in (SAME, RENAMED) and any(
        r[k]["change"] for k in ("points", "target", "actual", "score"))]
    if changed:
        lines.append("有变化的指标（上年 → 本年）：")
        for r in changed:
            parts = [f"{label} {_show(r[k]['last'])}→{_show(r[k]['this'])}"
                     for k, label in (("points", "分值"), ("target", "目标值"), ("actual", "实际值"), ("score", "得分"))
                     if r[k]["change"] or (r[k]["last"] is None) != (r[k]["this"] is None)]
            notes = [f"{side}评价调整：{r['adjustment'][key]}" for side, key in (("上年", "last"), ("本年", "this"))
                     if r.get("adjustment", {}).get(key)]
            lines.append(f"  {r['l1']}/{r['l2']}/{r['l3']}：" + "，".join(parts) + (f"（{'；'.join(notes)}）" if notes else ""))
    return lines


def _show(value) -> str:
    return "—" if value is None else f"{value:g}"
