"""Whole-table properties through the real reader and engine: totals stay within [0, 100]."""
from hypothesis import given, settings
from hypothesis import strategies as st

from dtg_xl.core.engine import evaluate
from dtg_xl.core.model import read_model
from dtg_xl.core.schema import INDICATOR_COLUMNS, UNIT_COLUMNS


class ListBook:
    """The book interface over plain lists (what FileBook gives after reading a file)."""

    def __init__(self, sheets: dict[str, list[list]]):
        self.sheets = sheets

    def sheet_names(self):
        return list(self.sheets)

    def sheet_values(self, name):
        return self.sheets[name]


HEADERS = list(INDICATOR_COLUMNS)


@st.composite
def tables(draw):
    """A flat 100-point table: 4 一级 with random points split over random methods."""
    n = draw(st.integers(min_value=4, max_value=30))
    cents = sorted(draw(st.lists(st.integers(min_value=1, max_value=9999), min_size=n - 1, max_size=n - 1,
                                 unique=True)))
    points = [(b - a) / 100 for a, b in zip([0, *cents], [*cents, 10000])]
    rows = []
    for i, p in enumerate(points):
        method = draw(st.sampled_from(["正向", "反向", "反向比值", "等于", "扣分", "定性", "分档", "是否"]))
        row = dict.fromkeys(HEADERS, "")
        row.update({"一级指标": f"一级{i % 4}", "二级指标": f"二级{i}", "三级指标": f"指标{i}", "分值": p,
                    "评分方法": method})
        target = draw(st.floats(min_value=0, max_value=1000, allow_nan=False))
        actual = draw(st.floats(min_value=-100, max_value=3000, allow_nan=False))
        if method == "扣分":
            row.update({"扣分": draw(st.floats(min_value=0, max_value=p)), "扣分原因": "问题"})
        elif method == "定性":
            row.update({"定性等级": "达成年度指标", "评定得分": p})
        elif method == "分档":
            row.update({"评分标准": "≥90:100%；≥60:50%", "实际值": actual})
        elif method == "是否":
            row.update({"目标值": "是", "实际值": draw(st.sampled_from(["是", "否"]))})
        else:
            row.update({"目标值": target, "实际值": actual})
        rows.append([row[h] for h in HEADERS])
    return [HEADERS, *rows]


@settings(max_examples=200, deadline=None)
@given(tables())
def test_total_within_0_and_100_and_equals_sum_of_rounded_scores(indicator_rows):
    book = ListBook({"参数": [["评价方案", "mof-2020"]], "指标体系": indicator_rows,
                     "单位填报": [list(UNIT_COLUMNS)]})
    model = read_model(book)
    assert not model.errors, model.errors
    result = evaluate(model)
    assert 0 <= result.total <= 100
    assert all(0 <= s <= p + 1e-9 for s, p in zip(result.scores, model.indicators["points"]))
    assert abs(result.total - sum(c.score for c in result.categories)) < 1e-9
    assert result.grade == model.profile.grade(result.total)
