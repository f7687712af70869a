"""Every rule at its boundaries, single-indicator and vectorised paths agreeing."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtg_xl.core import rules
from dtg_xl.core.engine import score_table
from dtg_xl.core.rules import RuleError, RuleErrors, score_one


@pytest.mark.parametrize("target, actual, expected", [
    (100, 100, 5.0),      # exactly at target
    (100, 120, 5.0),      # above: full, no over-achievement deduction by default
    (100, 96, 4.8),
    (100, 0, 0.0),
    (100, -20, 0.0),      # negative actual counts as 0
    (0, 0, 5.0),          # zero target: anything ≥ 0 meets it
    (3, 1, 1.67),         # 5 × 1/3 = 1.666… → 1.67
])
def test_positive(target, actual, expected):
    assert score_one("正向", 5, target, actual) == expected
    assert score_one("positive", 5, target, actual) == expected


@pytest.mark.parametrize("target, actual, expected", [
    (10, 10, 5.0),        # at target
    (10, 5, 5.0),
    (10, 15, 2.5),        # halfway to 2 × target
    (10, 19.99, 0.01),    # 5 × (1 − 9.99/10) = 0.005 → half away from zero: 0.01
    (10, 20, 0.0),        # exactly 2 × target
    (10, 25, 0.0),
    (10, -3, 5.0),        # negative → 0 ≤ target
    (0, 0, 5.0),
    (0, 0.1, 0.0),
])
def test_reverse(target, actual, expected):
    assert score_one("反向", 5, target, actual) == expected


def test_reverse_rounding_at_the_edge():
    # 10 × (1 − 9.9/10) = 0.1 exactly in decimal
    assert score_one("反向", 10, 10, 19.9) == 0.1


@pytest.mark.parametrize("target, actual, expected", [
    (10, 10, 5.0), (10, 8, 5.0), (10, 20, 2.5), (10, 40, 1.25), (10, 30, 1.67), (0, 0, 5.0), (0, 5, 0.0),
])
def test_reverse_ratio(target, actual, expected):
    assert score_one("反向比值", 5, target, actual) == expected
    assert score_one("reverse_ratio", 5, target, actual) == expected


@pytest.mark.parametrize("target, actual, expected", [
    (0, 0, 4.0), (0, -1, 4.0), (0, 0.01, 0.0), (10, 10, 4.0), (10, 5, 2.0), (10, 12, 4.0),
])
def test_equal(target, actual, expected):
    assert score_one("等于", 4, target, actual) == expected


@pytest.mark.parametrize("level, given, ok", [
    ("达成年度指标", 5, True), ("达成年度指标", 4, True), ("达成年度指标", 3.99, False),
    ("部分达成年度指标并具有一定效果", 4, False), ("部分达成年度指标并具有一定效果", 3.99, True),
    ("部分达成年度指标并具有一定效果", 3, True), ("部分达成年度指标并具有一定效果", 2.99, False),
    ("未达成年度指标且效果较差", 2.99, True), ("未达成年度指标且效果较差", 0, True),
    ("未达成年度指标且效果较差", 3, False), ("达成年度指标", 5.01, False),
])
def test_qualitative_bands(level, given, ok):
    if ok:
        assert score_one("定性", 5, level=level, given=given) == given
    else:
        with pytest.raises(RuleError) as err:
            score_one("定性", 5, level=level, given=given)
        assert err.value.field == "given" and "之间" in str(err.value)


def test_qualitative_unknown_level():
    with pytest.raises(RuleError) as err:
        score_one("qualitative", 5, level="很好", given=5)
    assert err.value.field == "level"


@pytest.mark.parametrize("points, deducted, expected", [
    (3, 0.75, 2.25), (5, 1, 4.0), (4, 0.6, 3.4), (4, 0, 4.0), (4, None, 4.0), (2, 3, 0.0),
])
def test_deduction_floors_at_zero(points, deducted, expected):
    assert score_one("扣分", points, deducted=deducted) == expected


def test_deduction_negative_is_an_error():
    with pytest.raises(RuleError) as err:
        score_one("扣分", 2, deducted=-1)
    assert err.value.field == "deduction"


BANDS = "≥95:100%；≥90:80%；≥80:60%"


@pytest.mark.parametrize("actual, expected", [
    (95, 5.0), (99, 5.0), (94.99, 4.0), (90, 4.0), (89.999, 3.0), (80, 3.0), (79.99, 0.0), (-5, 0.0),
])
def test_tiered_inclusive_lower_bounds(actual, expected):
    assert score_one("分档", 5, actual=actual, bands=BANDS) == expected


def test_tiered_other_spellings():
    assert rules.parse_bands("95:1; 90:0.8;80:0.6") == rules.parse_bands(BANDS)
    assert rules.parse_bands(">=95：100%\n>=90：80%") == rules.parse_bands("95:1;90:0.8")


@pytest.mark.parametrize("bad", ["", "≥95", "≥95:120%", "九十:1"])
def test_tiered_bad_bands(bad):
    with pytest.raises(RuleError) as err:
        score_one("分档", 5, actual=90, bands=bad)
    assert err.value.field == "criteria"


@pytest.mark.parametrize("target, actual, expected", [
    ("是", "是", 2.0), ("是", "否", 0.0), ("否", "否", 2.0), (None, "是", 2.0), ("是", True, 2.0),
])
def test_yes_no(target, actual, expected):
    assert score_one("是否", 2, target, actual) == expected


def test_yes_no_bad_answer():
    with pytest.raises(RuleError) as err:
        score_one("是否", 2, "是", "大概")
    assert err.value.field == "actual"


@pytest.mark.parametrize("target, actual, expected", [(3, 1, 5.0), (3, 3, 5.0), (3, 4, 0.0)])
def test_rank(target, actual, expected):
    assert score_one("排名", 5, target, actual) == expected


def test_rank_below_one_is_an_error():
    with pytest.raises(RuleError):
        score_one("排名", 5, 3, 0)


@pytest.mark.parametrize("target, actual, expected", [(5, 5, 3.0), (5, 4, 2.4), (5, 0, 0.0), (3, 2, 2.0)])
def test_checkpoints(target, actual, expected):
    assert score_one("要素", 3, target, actual) == expected


@pytest.mark.parametrize("target, actual", [(0, 0), (5, 6)])
def test_checkpoints_bad(target, actual):
    with pytest.raises(RuleError):
        score_one("要素", 3, target, actual)


@pytest.mark.parametrize("kwargs, field", [
    (dict(method="正向", points=5, target="abc", actual=1), "target"),
    (dict(method="正向", points=5, target=1, actual=None), "actual"),
    (dict(method="正向", points=-1, target=1, actual=1), "points"),
    (dict(method="正向", points=5, target=-1, actual=1), "target"),
])
def test_bad_numbers_name_their_field(kwargs, field):
    with pytest.raises(RuleError) as err:
        score_one(**kwargs)
    assert err.value.field == field


@pytest.mark.parametrize("kwargs, fields", [
    (dict(method="正向", points="五", target="abc", actual=None), ["points", "target", "actual"]),
    (dict(method="正向", points=5, target=-1, actual="x"), ["target", "actual"]),
    (dict(method="是否", points=2, target="也许", actual="大概"), ["target", "actual"]),
    (dict(method="分档", points=2, actual="高", bands="九十以上满分"), ["criteria", "actual"]),
    (dict(method="定性", points="x", level="优秀", given="y"), ["points", "given", "level"]),
    (dict(method="阶梯扣分", points=5, target="t", actual="a", bands="起扣线=90；步长=5"), ["criteria", "actual", "target"]),
    (dict(method="偏离度", points=5, target=0, actual="a", bands="±10%:100%"), ["actual", "target"]),
    (dict(method="公式", points=5, target="t", actual="a", bands="=MIN(分值, 分值*实际值/目标值"),
     ["criteria", "target", "actual"]),
    (dict(method="正向", points=5, target="t", actual=1, given=-1), ["target", "given", "adjust_reason"]),
    (dict(method="加权", points="x", target=1, actual=1), ["points", None]),
])
def test_every_bad_input_of_a_row_is_reported_with_its_field(kwargs, fields):
    """A row with several independent bad inputs: one RuleErrors holding each problem with its own field (cell),
    not only the first; its message (what a UDF shows) names every one."""
    with pytest.raises(RuleErrors) as err:
        score_one(**kwargs)
    assert sorted(e.field or "" for e in err.value.errors) == sorted(f or "" for f in fields)
    for e in err.value.errors:
        assert str(e) in str(err.value)


def test_a_single_bad_input_is_a_plain_rule_error():
    with pytest.raises(RuleError) as err:
        score_one("正向", 5, "abc", 1)
    assert not isinstance(err.value, RuleErrors) and err.value.field == "target"


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(RuleError) as err:
        score_one("加权", 5, 1, 1)
    assert "正向" in str(err.value) and "要素" in str(err.value)


def test_percent_text_reads_as_number():
    assert score_one("正向", 5, "100%", "96%") == 4.8


# ---------------------------------------------------------------- properties
numeric_methods = st.sampled_from(["正向", "反向", "反向比值", "等于", "排名", "要素"])
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def numeric_rows(draw):
    method = draw(numeric_methods)
    points = draw(st.floats(min_value=0, max_value=100, allow_nan=False))
    target = draw(st.floats(min_value=0, max_value=1e6, allow_nan=False))
    actual = draw(finite)
    if method == "排名":
        target, actual = max(target, 1.0), max(abs(actual), 1.0)
    if method == "要素":
        target = max(round(target), 1.0)
        actual = float(draw(st.integers(min_value=0, max_value=int(target))))
    return method, points, target, actual


@settings(max_examples=1500, deadline=None)
@given(numeric_rows())
def test_score_within_zero_and_points(row):
    method, points, target, actual = row
    score = score_one(method, points, target, actual)
    assert 0 <= score <= points + 1e-9 or math.isclose(score, points, abs_tol=0.005)


@settings(max_examples=150, deadline=None)
@given(st.lists(numeric_rows(), min_size=1, max_size=40))
def test_vectorised_table_equals_single_indicator_loop(rows):
    table = {
        "method": np.array([r[0] for r in rows], dtype=object),
        "points": np.array([r[1] for r in rows]),
        "target": np.array([r[2] for r in rows]),
        "actual": np.array([r[3] for r in rows]),
        "given": np.full(len(rows), np.nan), "deduction": np.zeros(len(rows)),
        "bands": np.empty(len(rows), dtype=object),
    }
    assert score_table(table).tolist() == [score_one(*r) for r in rows]


def test_method_spellings_are_remembered_only_when_they_resolve():
    # canonical_method remembers a cell's exact text once it resolved; what did not resolve is
    # refused every time, and a formula or error cell showing a method's name is never taken for it
    from dtg_xl.xlsx.cells import CellError, Uncalculated

    assert rules.canonical_method(" Positive ") == rules.canonical_method(" Positive ") == "正向"
    for _ in range(2):
        with pytest.raises(rules.RuleError, match="未知的评分方法“正 向”"):
            rules.canonical_method("正 向")
    assert rules._SPELLINGS[" Positive "] == "正向" and "正 向" not in rules._SPELLINGS
    rules.canonical_method("反向")
    with pytest.raises(rules.RuleError, match="公式尚未计算"):
        rules.canonical_method(Uncalculated("反向"))
    with pytest.raises(rules.RuleError, match="错误值"):
        rules.canonical_method(CellError("#N/A"))
