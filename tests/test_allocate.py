"""因素法 allocation: hand-computed cases, exact cents, grade coefficients, and every input
error with its sheet and cell — on real workbooks made by the template code."""
from __future__ import annotations

import copy
import hashlib
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from dtg_xl.units.allocate import (FIXED_HEADERS, TABLE_HEADER_ROW, apply_coefficients, exact, factor_shares,
                             largest_remainder, split)
from dtg_xl.delivery.template import load_example, write_template

from helpers import edit_cells, run_cli, run_json

F = Fraction


# ---------------------------------------------------------------- the method on plain numbers
def test_hand_computed_three_units():
    # factor 1 (w 0.6): 1, 1, 2 → 1/4, 1/4, 1/2;  factor 2 (w 0.4): 3, 0, 1 → 3/4, 0, 1/4
    # shares: 0.6/4 + 0.4·3/4 = 0.45;  0.6/4 = 0.15;  0.6/2 + 0.4/4 = 0.40
    values = [[F(1), F(3)], [F(1), F(0)], [F(2), F(1)]]
    per, shares = factor_shares(values, [F("0.6"), F("0.4")])
    assert per == [[F(1, 4), F(3, 4)], [F(1, 4), F(0)], [F(1, 2), F(1, 4)]]
    assert shares == [F(45, 100), F(15, 100), F(40, 100)]
    assert split(10000, values, [F("0.6"), F("0.4")]) == [4500, 1500, 4000]  # 100.00 万元


def test_hand_computed_grade_coefficients_keep_the_total():
    # coefficients 1, 0.5, 1 → weighted 0.45, 0.075, 0.40 (Σ 0.925) → ×10000:
    # 4864.86…, 810.81…, 4324.32… → floors 9998, the 2 cents go to the two largest remainders
    values = [[F(1), F(3)], [F(1), F(0)], [F(2), F(1)]]
    cents = split(10000, values, [F("0.6"), F("0.4")], [F(1), F(1, 2), F(1)])
    assert cents == [4865, 811, 4324] and sum(cents) == 10000
    assert apply_coefficients([F(1, 2), F(1, 2)], [F(1), F(1)]) == [F(1, 2), F(1, 2)]


def test_thirds_go_to_the_earliest_unit_on_ties():
    assert split(10000, [[F(1)], [F(1)], [F(1)]], [F(1)]) == [3334, 3333, 3333]
    assert largest_remainder([F(10, 3), F(10, 3), F(10, 3)], 10) == [4, 3, 3]


def test_exact_reads_the_typed_decimal():
    assert exact(0.1) == F(1, 10) and exact(0.3) + exact(0.3) + exact(0.4) == 1  # float sums would not
    assert exact("30%") == F(3, 10) and exact("1,200") == 1200 and exact(6548.5) == F(13097, 2)
    with pytest.raises(ValueError):
        exact("很多")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**9), st.lists(st.lists(st.integers(0, 10**6), min_size=2, max_size=2), min_size=1, max_size=30),
       st.lists(st.integers(0, 100), min_size=2, max_size=2).filter(lambda w: sum(w) > 0))
def test_cents_always_add_up_and_stay_within_one_cent(total, rows, raw_weights):
    weights = [F(w, sum(raw_weights)) for w in raw_weights]
    values = [[F(x) for x in row] for row in rows]
    if any(w and not sum(r[k] for r in values) for k, w in enumerate(weights)):
        return  # a zero column with weight is an input error (tested below)
    cents = split(total, values, weights)
    assert sum(cents) == total
    _, shares = factor_shares(values, weights)
    assert all(abs(c - total * s) < 1 for c, s in zip(cents, shares))


# ---------------------------------------------------------------- workbooks
def three_unit_data(**changes) -> dict:
    data = copy.deepcopy(load_example("dtg-2020"))
    base = {"单位类别": "样例", "追加预算": 0}
    data["units"] = [
        {**base, "单位名称": "甲", "年初预算": 40, "实际到位": 40, "实际支出": 40, "业务量A": 1, "业务量B": 3, "上年评价得分": 95},
        {**base, "单位名称": "乙", "年初预算": 30, "实际到位": 30, "实际支出": 30, "业务量A": 1, "业务量B": 0, "上年评价得分": 85},
        {**base, "单位名称": "丙", "年初预算": 30, "实际到位": 30, "实际支出": 30, "业务量A": 2, "业务量B": 1, "上年评价得分": 92},
    ]
    data["allocation"] = {"下年度资金总额": 100,
                          "factors": [{"因素名称": "A", "权重": 0.6, "取值来源列": "业务量A"},
                                      {"因素名称": "B", "权重": 0.4, "取值来源列": "业务量B"}],
                          "coefficients": {}}
    data["allocation"].update(changes)
    return data


def test_three_unit_workbook_matches_the_hand_computation(tmp_path, capsys):
    path = tmp_path / "three.xlsx"
    write_template(path, data=three_unit_data())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, data = run_json(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0, data["errors"]
    assert [(u["name"], u["amount"], u["amount_cents"]) for u in data["units"]] == [
        ("甲", 45.0, 4500), ("乙", 15.0, 1500), ("丙", 40.0, 4000)]
    assert [(u["change"], u["change_pct"]) for u in data["units"]] == [(5.0, 12.5), (-15.0, -50.0), (10.0, 33.33)]
    assert data["sum_cents"] == 10000
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # the 分配建议 sheet shows the same, with this year's split beside it
    rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("分配建议").to_python()
    header = rows[TABLE_HEADER_ROW - 1]
    assert header[:len(FIXED_HEADERS)] == list(FIXED_HEADERS) and header[len(FIXED_HEADERS)] == "占比：A"
    col = {h: i for i, h in enumerate(header)}
    body = rows[TABLE_HEADER_ROW:TABLE_HEADER_ROW + 4]
    assert [(r[0], r[col["本年预算（万元）"]], r[col["建议分配（万元）"]], r[col["增减（万元）"]]) for r in body] == [
        ("甲", 40, 45, 5), ("乙", 30, 15, -15), ("丙", 30, 40, 10), ("合计", 100, 100, 0)]
    assert body[0][col["占比：B"]] == 0.75 and body[0][col["上年等次"]] == "优"


def test_three_unit_workbook_with_grade_coefficients(tmp_path, capsys):
    path = tmp_path / "three.xlsx"
    write_template(path, data=three_unit_data(coefficients={"优": 1, "良": 0.5}))  # 乙 scored 85: 良
    code, data = run_json(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0, data["errors"]
    assert [u["amount_cents"] for u in data["units"]] == [4865, 811, 4324]
    assert [u["grade"] for u in data["units"]] == ["优", "良", "优"]


def test_bad_inputs_are_all_reported_with_cells(tmp_path, capsys):
    path = tmp_path / "bad.xlsx"
    write_template(path, data=three_unit_data())
    # weights 0.6 + 0.3 (not 1); 业务量B all zero; a negative 业务量A
    edit_cells(path, {"分配参数": {"B6": 0.3}, "单位填报": {"I2": 0, "I4": 0, "H3": -1}})  # H 业务量A, I 业务量B
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, data = run_json(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 2 and data["units"] == []
    errors = {(e["sheet"], e["cell"]): e["message"] for e in data["errors"]}
    assert "权重之和应为1" in errors[("分配参数", "B5:B6")] and "0.9" in errors[("分配参数", "B5:B6")]
    assert "不能为负数" in errors[("单位填报", "H3")]
    assert "合计为0" in errors[("单位填报", "I2:I4")]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # the problems are also written to the output's 分配建议 sheet
    rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("分配建议").to_python()
    assert any("权重之和应为1" in str(v) for r in rows for v in r)


def test_more_input_errors(tmp_path, capsys):
    path = tmp_path / "bad.xlsx"
    write_template(path, data=three_unit_data(coefficients={"优": 1}))
    edit_cells(path, {"分配参数": {"B2": 100.005, "C5": "不存在的列"}, "单位填报": {"J3": None, "I4": "多"}})  # J 上年评价得分
    code, out, err = run_cli(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "分配参数!B2：下年度资金总额最多保留两位小数" in err
    assert "分配参数!C5：取值来源列“不存在的列”不是单位填报中的业务量列" in err
    assert "单位填报!J3" in err and "上年评价得分" in err  # coefficients need every unit's score
    assert "单位填报!I4" in err


def test_zero_weight_factor_may_have_an_empty_column(tmp_path, capsys):
    path = tmp_path / "w.xlsx"
    write_template(path, data=three_unit_data())
    edit_cells(path, {"分配参数": {"B5": 1, "B6": 0}, "单位填报": {"I2": 0, "I4": 0}})
    code, data = run_json(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0 and [u["amount_cents"] for u in data["units"]] == [2500, 2500, 5000]


def test_seed_example_adds_up_to_the_cent(example_copy, tmp_path, capsys):
    code, data = run_json(["allocate", example_copy, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0, data["errors"]
    assert data["total"] == 6548.5 and data["sum_cents"] == 654850 and len(data["units"]) == 9
    assert sum(F(u["amount_cents"]) for u in data["units"]) == 654850
    assert abs(sum(u["share"] for u in data["units"]) - 1) < 1e-12
    grades = {u["name"]: u["grade"] for u in data["units"]}
    assert grades["董家口海事局"] == "良" and grades["青岛海关"] == "优"


def test_workbook_without_allocation_sheets(tmp_path, capsys):
    from dtg_xl.units.allocate import read_allocation

    class NoAlloc:
        def sheet_names(self):
            return ["参数", "指标体系", "单位填报"]

    a = read_allocation(NoAlloc())
    assert not a.ok and a.errors[0].sheet == "分配参数" and "缺少工作表" in a.errors[0].message


def test_template_sheets_as_a_user_sees_them(example_path):
    import openpyxl

    wb = openpyxl.load_workbook(example_path)
    ws = wb["分配参数"]
    assert ws["A2"].value == "下年度资金总额（万元）" and ws["B2"].value == 6548.5
    assert [ws.cell(4, c).value for c in range(1, 4)] == ["因素名称", "权重", "取值来源列"]
    assert sum(ws.cell(r, 2).value or 0 for r in range(5, 15)) == pytest.approx(1)
    rule = next(dv for dv in ws.data_validations.dataValidation if "C5" in str(dv.sqref))
    assert "上年评价得分" in rule.formula1 and "监管船舶艘次" in rule.formula1  # 取值来源列 is a dropdown
    assert [ws.cell(r, 1).value for r in range(17, 21)] == ["优", "良", "中", "差"]
    out = wb["分配建议"]
    assert out["A1"].value.startswith("因素法分配建议") and out["A5"].value == "分配方法"
    assert "B5:J5" in {str(r) for r in out.merged_cells.ranges}  # the method text spans the table
    assert out.page_setup.orientation == "landscape"


def test_many_factors_do_not_collide_with_the_problem_list(tmp_path, capsys):
    data = three_unit_data()
    for u in data["units"]:
        u.update({f"量{k}": k + 1 for k in range(7)})
    data["allocation"]["factors"] = [{"因素名称": f"F{k}", "权重": 0.125, "取值来源列": f"量{k}"} for k in range(7)]
    data["allocation"]["factors"].append({"因素名称": "A", "权重": 0.125, "取值来源列": "业务量A"})
    path = tmp_path / "many.xlsx"
    write_template(path, data=data)
    code, result = run_json(["allocate", path, "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 0 and result["sum_cents"] == 10000
    rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("分配建议").to_python()
    header = rows[TABLE_HEADER_ROW - 1]
    assert [h for h in header if str(h).startswith("占比：")] == [f"占比：F{k}" for k in range(7)] + ["占比：A"]
    first = rows[TABLE_HEADER_ROW]
    assert all(first[header.index(f"占比：F{k}")] == 1 / 3 for k in range(7))  # equal values → equal shares
