"""Chinese report number conventions (dtg_xl.delivery.cnfmt)."""
from __future__ import annotations

import math

import pytest

from dtg_xl.delivery import cnfmt
from dtg_xl.core.profiles import load_profile


@pytest.mark.parametrize("value, text", [(4241, "4241万元"), (2307.5, "2307.5万元"), (6548.50, "6548.5万元"),
                                         (0.1 + 0.2, "0.3万元"), (1234.56789, "1234.56789万元"), (0, "0万元"),
                                         (math.nan, "—"), (None, "—")])
def test_amount_keeps_the_decimals_the_data_has(value, text):
    assert cnfmt.amount(value) == text


@pytest.mark.parametrize("value, text", [(96.65, "96.65"), (19.4, "19.4"), (25.0, "25"), (0.005, "0.01"),
                                         (1.005, "1.01"), (-0.0, "0")])
def test_score_at_most_two_decimals_excel_rounded(value, text):
    assert cnfmt.score(value) == text


@pytest.mark.parametrize("value, text", [(100, "100.00%"), (86.25, "86.25%"), (97.0, "97.00%"), (0.285, "0.29%")])
def test_percent_two_decimals(value, text):
    assert cnfmt.percent(value) == text


def test_grade_bands_of_each_profile():
    q = load_profile("qingdao-2020")
    assert cnfmt.grade_bands(q.grades, q.full_marks) == "90（含）-100分为优、80（含）-90分为良、70（含）-80分为中、70分以下为差"
    m = load_profile("mof-2020")
    assert cnfmt.grade_bands(m.grades, m.full_marks) == "90（含）-100分为优、80（含）-90分为良、60（含）-80分为中、60分以下为差"


@pytest.mark.parametrize("n, text", [(1, "一"), (4, "四"), (10, "十"), (11, "十一"), (20, "二十"), (23, "二十三")])
def test_chinese_ordinals(n, text):
    assert cnfmt.cn_ordinal(n) == text
