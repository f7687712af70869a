"""Inputs for the benchmarks, generated reproducibly (fixed seeds) by the project's own code.

- ``example_workbook``: the 2020 example, written by ``dtg_xl.delivery.template.write_template``.
- ``indicator_columns``: n synthetic indicator rows over all ten methods, as raw columns
  (what a user types, what ``score_one`` takes) plus the checked table ``score_table`` takes.
- ``remote_payload``: the JSON an xlwings client sends for a workbook (the remote Book's input).
- ``unit_workbooks``: n unit forms (``dtg-xl unit-forms`` of the example, copied round-robin),
  cached in the work folder between runs.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

BANDS = ("≥95:100%；≥90:80%；≥80:60%", "≥100:100%；≥90:50%", "≥60:100%；≥30:50%；≥0:20%")


def remote_payload(path: Path) -> dict:
    """What an xlwings client (Office.js) sends for a workbook: every sheet's values from A1 ('' for empty
    cells), the JSON ``xw.Book(json=…)`` takes.  Shared by bench/click_bench.py and tests/test_remote_book.py."""
    import xlwings as xw
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    try:
        sheets = [{"name": n, "values": wb.get_sheet_by_name(n).to_python(skip_empty_area=False) or [[""]],
                   "pictures": [], "tables": []} for n in wb.sheet_names]
    finally:
        wb.close()
    return {"client": "Office.js", "version": xw.__version__, "names": [], "sheets": sheets,
            "book": {"name": path.name, "active_sheet_index": 0, "selection": "A1"}}


def example_workbook(workdir: Path) -> Path:
    path = workdir / "dtg-2020.xlsx"
    if not path.exists():
        from dtg_xl.delivery.template import write_template

        write_template(path, example="dtg-2020")
    return path


def indicator_columns(n: int, seed: int = 2020) -> dict[str, np.ndarray]:
    """Raw columns of n valid indicator rows, methods spread evenly over all ten."""
    from dtg_xl.core.excel_round import excel_round
    from dtg_xl.core.rules import LEVELS, METHODS

    rng = np.random.default_rng(seed)
    # the ten methods the published figures were measured on (阶梯扣分/偏离度/公式 came later and
    # need their own 评分标准; keeping the mix fixed keeps bench/results.json comparable)
    names = np.array([m for m in METHODS if m not in ("阶梯扣分", "偏离度", "公式")], dtype=object)
    method = names[rng.integers(0, len(names), n)]
    points = rng.integers(100, 2001, n) / 100  # 1.00 .. 20.00
    target = np.round(rng.uniform(1, 100, n), 2)
    actual = np.round(rng.uniform(0, 150, n), 2)
    is_ = {name: method == name for name in names}
    target[is_["等于"] & (rng.random(n) < 0.3)] = 0.0
    rank_like = is_["排名"] | is_["要素"]
    target[rank_like] = rng.integers(1, 11, int(rank_like.sum()))
    actual[is_["排名"]] = rng.integers(1, 21, int(is_["排名"].sum()))
    actual[is_["要素"]] = np.floor(rng.random(int(is_["要素"].sum())) * (target[is_["要素"]] + 1))
    target[is_["是否"]] = 1.0
    actual[is_["是否"]] = rng.integers(0, 2, int(is_["是否"].sum()))
    actual[is_["分档"]] = np.round(rng.uniform(0, 110, int(is_["分档"].sum())), 1)
    deduction = np.where(is_["扣分"], np.round(rng.uniform(0, 1, n) * points, 2), np.nan)
    bands = np.array(BANDS, dtype=object)[rng.integers(0, len(BANDS), n)]
    # 定性: a level and an evaluator's score inside that level's band (two decimals)
    level_names = np.array(list(LEVELS), dtype=object)
    level = level_names[rng.integers(0, len(level_names), n)]
    which = _index(level_names, level)
    low = np.array([LEVELS[x][0] for x in level_names])[which]
    high = np.array([LEVELS[x][1] for x in level_names])[which]
    lo, hi = excel_round(low * points, 2), excel_round(high * points, 2)
    closed = high == 1.0
    span = np.floor((hi - lo) * 100) - np.where(closed, 0, 1)  # hundredths available in the band
    given = np.round(lo + np.floor(rng.random(n) * (span + 1)) / 100, 2)
    return {"method": method, "points": points, "target": target, "actual": actual,
            "level": level, "given": np.where(is_["定性"], given, np.nan), "deduction": deduction,
            "criteria": np.where(is_["分档"], bands, "")}


def _index(names: np.ndarray, values: np.ndarray) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(names)}
    return np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))


def checked_table(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checked table ``score_table`` takes (what ``read_model`` builds): bands parsed."""
    from dtg_xl.core.rules import parse_bands

    parsed = {text: parse_bands(text) for text in BANDS}
    bands = np.empty(len(cols["method"]), dtype=object)
    tiered = np.flatnonzero(cols["method"] == "分档")
    bands[tiered] = [parsed[t] for t in cols["criteria"][tiered]]
    return {"method": cols["method"], "points": cols["points"], "target": cols["target"],
            "actual": cols["actual"], "given": cols["given"],
            "deduction": np.nan_to_num(cols["deduction"]), "bands": bands}


def raw_rows(cols: dict[str, np.ndarray], idx) -> list[tuple]:
    """Rows as a per-cell UDF gets them: (method, points, target, actual, level, given, deducted, bands);
    是否 answers as 是/否 text, blanks as None."""
    rows = []
    for i in idx:
        m = cols["method"][i]
        target, actual = float(cols["target"][i]), float(cols["actual"][i])
        if m == "是否":
            target, actual = "是", ("是" if actual == 1 else "否")
        rows.append((m, float(cols["points"][i]), target, actual,
                     cols["level"][i] if m == "定性" else None,
                     float(cols["given"][i]) if m == "定性" else None,
                     float(cols["deduction"][i]) if m == "扣分" else None,
                     cols["criteria"][i] if m == "分档" else None))
    return rows


def unit_workbooks(n: int, workdir: Path) -> list[Path]:
    """n unit forms as units send them back: ``dtg-xl unit-forms`` of the 2020 example (9 forms,
    one per unit, made by dtg_xl.units.unitforms) copied round-robin to n files (cached by n)."""
    from dtg_xl.units.unitforms import write_unit_forms

    folder = workdir / f"units-{n}"
    paths = [folder / f"unit-{i:04d}.xlsx" for i in range(n)]
    if folder.is_dir() and all(p.exists() for p in paths):
        return paths
    shutil.rmtree(folder, ignore_errors=True)
    forms = write_unit_forms(example_workbook(workdir), folder / "forms")
    for i, path in enumerate(paths):
        shutil.copyfile(forms[i % len(forms)], path)
    return paths


# 指标体系 rows of the 2020 example whose 实际值 (column J) scale a project's score: row -> target
_SCALED = {8: 100, 9: 100, 13: 9000, 14: 4.2, 15: 1500.05, 16: 100, 18: 100, 19: 50}


def project_variant(src: Path, dst: Path, name: str, fraction: float) -> Path:
    """A distinct project from the 2020 example: its own 项目名称 and 实际值 at ``fraction`` of the
    targets (1.0 = the example's 96.65 优; 0 ≈ 差), written by the product's own FileBook."""
    from dtg_xl.xlsx.books import FileBook

    book = FileBook(src)
    try:
        book.write("参数", 2, 2, [[name]])
        for row, target in _SCALED.items():
            book.write("指标体系", row, 10, [[round(target * fraction, 2)]])
        if fraction < 0.5:
            book.write("指标体系", 20, 10, [["否"]])
            book.write("指标体系", 23, 10, [[20]])
        book.save(dst)
    finally:
        book.close()
    return dst


def project_workbooks(n: int, workdir: Path) -> list[Path]:
    """n distinct seed-sized project workbooks (a portfolio), scores spread over every grade,
    cached by n."""
    folder = workdir / f"projects-{n}"
    paths = [folder / f"project-{i:04d}.xlsx" for i in range(n)]
    if folder.is_dir() and all(p.exists() for p in paths):
        return paths
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    src = example_workbook(workdir)
    for i, path in enumerate(paths):
        project_variant(src, path, f"项目{i:04d}", (i * 37 % 101) / 100)
    return paths


def rows_workbook(n: int, workdir: Path, seed: int = 16) -> Path:
    """A project workbook with n indicator rows (the 2020 example's parameters and units; rows
    in 4 一级 × n/10 二级 groups, 正向 with actual values around the target; points sum to 100),
    written by dtg_xl.delivery.template.write_template and cached by n."""
    import copy

    from dtg_xl.delivery.template import load_example, write_template

    path = workdir / f"rows-{n}.xlsx"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    example = copy.deepcopy(load_example("dtg-2020"))
    l1 = ("决策", "过程", "产出", "效益")
    points = 100 / n
    actual = np.round(rng.uniform(50, 150, n), 2)
    example["indicators"] = [{"一级指标": l1[i * 4 // n], "二级指标": f"二级{i // 10:05d}", "三级指标": f"指标{i:06d}",
                              "分值": points, "评分方法": "正向", "目标值": 100, "实际值": float(actual[i]),
                              "计量单位": "%"} for i in range(n)]
    example.pop("baselines", None)
    write_template(path, data=example)
    return path
