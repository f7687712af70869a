"""One input workbook per unit (`dtg-xl unit-forms MASTER -o DIR`).

Each form holds the master's 单位填报 header and that unit's row only (other units' figures are
absent).  The unit's input cells are unlocked and yellow; the header, 序号, 单位名称, 单位类别 and
上年评价得分 are locked, and the sheets are protected (no password: protection prevents slips,
the signature catches the rest).  A hidden, protected 表单信息 sheet stamps the template
version, the unit, the master's file name and row, 项目名称 and 评价年度, the editable columns, the
master key's id and an HMAC signature of all that and the locked cells, made with the key kept
only in the master (``dtg_xl.units.formkey``); ``dtg_xl.units.consolidate`` checks it with the
master's key.

Written with XlsxWriter (not a copy of the master) so a form carries nothing but the unit's row.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import col_letter
from dtg_xl.xlsx.atomic import atomic_output, close_xlsxwriter, refuse_input_as_output, safe_filename
from dtg_xl.core.schema import HEADER_ROW, LAST_SCORE_COLUMN, PARAMS, SHEET_PARAMS, SHEET_UNITS, TEMPLATE_VERSION

SHEET_FORM_GUIDE = "填报说明"
SHEET_STAMP = "表单信息"
FORM_ROW = HEADER_ROW + 1  # the unit's row in a form
LOCKED_COLUMNS = ("序号", "单位名称", "单位类别", LAST_SCORE_COLUMN)  # set by the master, not the unit
TEXT_COLUMNS = ("备注",)
REQUIRED_COLUMNS = ("年初预算", "实际到位", "实际支出")
# 表单信息: label -> row (value in column B)
STAMP_LABELS = ("表单类型", "模板版本", "单位名称", "主表文件", "主表行号", "项目名称", "评价年度", "可填列", "生成时间",
                "密钥编号", "签名")
STAMP_ROW = {label: i + 2 for i, label in enumerate(STAMP_LABELS)}  # row 1 is the header
FORM_KIND = "dtg-xl 单位填报表"


class UnitFormError(DtgError):
    """The master cannot give unit forms; the message is for the user."""


@dataclass
class MasterUnits:
    """What the forms are cut from: the master's 单位填报 header and unit rows."""
    header: list[str]  # trimmed header texts, column 1 = A
    rows: dict[str, tuple[int, list]]  # unit name -> (Excel row, row values)
    name_col: int  # 1-based
    template_version: str
    project: str = ""  # 参数 项目名称 / 评价年度, canonical text
    year: str = ""

    @property
    def editable(self) -> list[str]:
        return [h for h in self.header if h and h not in LOCKED_COLUMNS]


def canon(value) -> str:
    """A cell value as comparable text: 1500 and 1500.0 are the same, blanks are ''."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return ""
        return format(float(value), ".15g")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def locked_values(master: MasterUnits, unit: str) -> dict[str, str]:
    _, values = master.rows[unit]
    return {h: canon(values[c] if c < len(values) else None)
            for c, h in enumerate(master.header) if h in LOCKED_COLUMNS}


def signed_fields(stamp: dict[str, str], header: list[str], locked: dict[str, str]) -> dict:
    """What a form's 签名 covers: every stamp entry but the signature, the header and the locked
    cells, all canonical text (the same dict from the master when cutting and from the form when
    checking)."""
    return {"stamp": {k: canon(stamp.get(k)) for k in STAMP_LABELS if k != "签名"},
            "header": [canon(h) for h in header], "locked": {k: canon(v) for k, v in sorted(locked.items())}}


def read_master(book) -> MasterUnits:
    """The master's units; UnitFormError (all problems at once) when it cannot give forms."""
    names = book.sheet_names()
    problems = [f"缺少工作表“{s}”" for s in (SHEET_PARAMS, SHEET_UNITS) if s not in names]
    if problems:
        raise UnitFormError("主表" + "；".join(problems))
    labels = {v: k for k, v in PARAMS.items()}
    params = {}
    for row in book.sheet_values(SHEET_PARAMS):
        if row and canon(row[0]) in (labels["template_version"], labels["project"], labels["year"]):
            params.setdefault(canon(row[0]), canon(row[1]) if len(row) > 1 else "")
    version = params.get(labels["template_version"], "")
    if version != TEMPLATE_VERSION:
        problems.append(f"主表的模板版本为“{version or '（空）'}”，本程序为“{TEMPLATE_VERSION}”")
    rows = book.sheet_values(SHEET_UNITS)
    header = [canon(v) for v in (rows[HEADER_ROW - 1] if len(rows) >= HEADER_ROW else [])]
    while header and not header[-1]:
        header.pop()
    if "单位名称" not in header:
        raise UnitFormError("主表单位填报!1:1缺少表头“单位名称”")
    name_col = header.index("单位名称") + 1
    units: dict[str, tuple[int, list]] = {}
    for r, values in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1):
        name = canon(values[name_col - 1]) if name_col - 1 < len(values) else ""
        if not name:
            continue
        if name in units:
            problems.append(f"单位填报!{col_letter(name_col)}{r}：单位“{name}”与第{units[name][0]}行重复")
            continue
        units[name] = (r, list(values[:len(header)]) + [None] * (len(header) - len(values)))
    if not units:
        problems.append("主表单位填报中没有单位")
    if problems:
        raise UnitFormError("主表不能生成单位填报表：" + "；".join(problems))
    return MasterUnits(header, units, name_col, version, params.get(labels["project"], ""),
                       params.get(labels["year"], ""))


def form_filename(index: int, width: int, unit: str) -> str:
    return f"{index:0{width}d}-{safe_filename(unit, '单位')}.xlsx"


def write_unit_forms(master_path: str | Path, out_dir: str | Path, force: bool = False,
                     when: datetime | None = None) -> list[Path]:
    """Write one form per unit of the master into out_dir; returns the paths in master order.

    The first run on a master saves a new form key into it (``formkey.ensure_key``).  When a
    form cannot be written (a full disk …) the forms this run wrote, and the folder if this run
    made it, are removed again: a folder of forms is complete or absent."""
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.units.formkey import ensure_key

    master_path, out_dir = Path(master_path), Path(out_dir)
    book = FileBook(master_path)  # its BookError is a DtgError: the doors report it as it is
    try:
        master = read_master(book)
    finally:
        book.close()
    if out_dir.exists() and not out_dir.is_dir():
        raise UnitFormError(f"输出位置不是文件夹：{out_dir}")
    width = max(2, len(str(len(master.rows))))
    targets = [(unit, out_dir / form_filename(i, width, unit)) for i, unit in enumerate(master.rows, start=1)]
    for _, path in targets:
        refuse_input_as_output(path, [master_path], what="填报表", hint="请换一个输出文件夹")
    names = [p.name.casefold() for _, p in targets]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:  # two units whose names differ only in characters a file name cannot hold
        raise UnitFormError(f"有单位名称转成文件名后相同：{'、'.join(clash[:5])}；请在主表中修改单位名称")
    existing = [p.name for _, p in targets if p.exists()]
    if existing and not force:
        raise UnitFormError(f"文件夹中已有同名填报表（覆盖请加 --force）：{'、'.join(existing[:5])}"
                            + (f" 等{len(existing)}个" if len(existing) > 5 else ""))
    key, _ = ensure_key(master_path)
    made_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp_time = (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    written: list[Path] = []
    try:
        for unit, path in targets:
            write_form(path, master, unit, master_path.name, stamp_time, key)
            written.append(path)
    except BaseException:
        for path in written:  # a folder of half the forms would be sent out as if complete
            try:
                path.unlink()
            except OSError:
                pass
        if made_dir:
            try:
                os.rmdir(out_dir)
            except OSError:
                pass
        raise
    return [p for _, p in targets]


def form_stamp(master: MasterUnits, unit: str, master_name: str, stamp_time: str, key) -> dict:
    """表单信息 of one form, 签名 included."""
    row_no, _ = master.rows[unit]
    info = {
        "表单类型": FORM_KIND,
        "模板版本": TEMPLATE_VERSION,
        "单位名称": unit,
        "主表文件": master_name,
        "主表行号": str(row_no),
        "项目名称": master.project,
        "评价年度": master.year,
        "可填列": "|".join(master.editable),
        "生成时间": stamp_time,
        "密钥编号": key.key_id,
    }
    info["签名"] = key.sign(signed_fields(info, master.header, locked_values(master, unit)))
    return info


def write_form(path: Path, master: MasterUnits, unit: str, master_name: str, stamp_time: str, key) -> Path:
    import xlsxwriter

    row_no, values = master.rows[unit]
    info = form_stamp(master, unit, master_name, stamp_time, key)
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"in_memory": True, "strings_to_formulas": False})  # user text stays text
        try:
            _build_form(wb, master, unit, row_no, values, master_name, stamp_time, info)
        finally:
            close_xlsxwriter(wb, path)
    return path


def _build_form(wb, master: MasterUnits, unit: str, row_no: int, values: list, master_name: str, stamp_time: str,
                info: dict):
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
    header_f = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "align": "center"})
    locked_f = wb.add_format({**base, "bg_color": "#F2F2F2", "num_format": "0.00"})
    locked_text = wb.add_format({**base, "bg_color": "#F2F2F2"})
    input_f = wb.add_format({**base, "bg_color": "#FFF2CC", "num_format": "0.00", "locked": False})
    input_text = wb.add_format({**base, "bg_color": "#FFF2CC", "locked": False, "text_wrap": True})
    plain = wb.add_format({"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"})
    title = wb.add_format({"font_name": "宋体", "font_size": 14, "bold": True})
    wb.set_properties({"title": f"{unit} 单位填报表", "author": "dtg_xl", "comments": f"{FORM_KIND} {TEMPLATE_VERSION}"})

    ws = wb.add_worksheet(SHEET_UNITS)
    ws.write_row(HEADER_ROW - 1, 0, master.header, header_f)
    ws.set_row(HEADER_ROW - 1, 30)
    ws.set_column(0, 0, 5)
    ws.set_column(1, 1, 26)
    ws.set_column(2, max(2, len(master.header) - 1), 13)
    r = FORM_ROW - 1
    for c, h in enumerate(master.header):
        value = values[c] if c < len(values) else None
        value = None if canon(value) == "" else value
        if h in LOCKED_COLUMNS or not h:
            style = locked_text if h in ("单位名称", "单位类别", "序号") else locked_f
        else:
            style = input_text if h in TEXT_COLUMNS else input_f
        ws.write(r, c, value, style) if value is not None else ws.write_blank(r, c, None, style)
        if h and h not in LOCKED_COLUMNS and h not in TEXT_COLUMNS:
            ws.data_validation(r, c, r, c, {"validate": "decimal", "criteria": ">=", "value": 0,
                                            "error_title": "请输入数字", "error_message": f"{h}应为不小于0的数字"})
    ws.freeze_panes(HEADER_ROW, 2)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.protect("", {"format_columns": True, "format_rows": True})
    ws.activate()

    guide = wb.add_worksheet(SHEET_FORM_GUIDE)
    guide.set_column(0, 0, 100)
    lines = [
        f"{unit} 单位填报表",
        "",
        f"1. 请在“{SHEET_UNITS}”表第{FORM_ROW}行的黄色单元格填写本单位数据（金额单位：万元）。",
        "2. 灰色单元格（表头、序号、单位名称、单位类别、上年评价得分）由评价组填写，已锁定，请勿修改；"
        "也请勿在其他行、其他列填写内容。",
        "3. 请勿删除或修改隐藏的“表单信息”表：汇集时据此核对单位、主表和签名（文件名可以修改）。",
        "4. 填好后保存为 .xlsx 并交回评价组，由其运行 dtg-xl consolidate 汇集。",
        "",
        f"单位：{unit}    模板版本：{TEMPLATE_VERSION}    主表：{master_name}    生成时间：{stamp_time}",
    ]
    for i, line in enumerate(lines):
        guide.write(i, 0, line, title if i == 0 else plain)
    guide.fit_to_pages(1, 0)
    guide.protect("")

    stamp = wb.add_worksheet(SHEET_STAMP)
    stamp.set_column(0, 0, 12)
    stamp.set_column(1, 1, 60)
    stamp.write_row(0, 0, ["项目", "值"], header_f)
    for label, row in STAMP_ROW.items():
        stamp.write(row - 1, 0, label, locked_text)
        stamp.write(row - 1, 1, info[label], locked_text)
    stamp.protect("")
    stamp.hide()
