"""sheetinfo's cheap look before parsing a sheet: the literal look-ups that decide whether a
sheet needs lxml at all give the same answers as the plain searches they replace."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from dtg_xl.xlsx import sheetinfo

# the searches before: eight two-byte needles, and six three-byte ones with and without a prefix
SPACED = (b" =", b"\t=", b"\n=", b"\r=", b"= ", b"=\t", b"=\n", b"=\r")
FORMULA = (b"<f>", b"<f ", b"<f/", b"<f\t", b"<f\n", b"<f\r")

pieces = st.lists(st.sampled_from([b"<", b"f", b":", b"=", b" ", b"\t", b"\n", b"\r", b">", b"/", b'"', b"c",
                                   b"x", b's="5"', b"<c r=\"A1\"", b"<x:f>", b"<f t=\"shared\"/>"]), max_size=40)


@settings(max_examples=3000, deadline=None)
@given(pieces)
def test_cheap_looks_answer_as_the_plain_searches(parts):
    data = b"".join(parts)
    assert sheetinfo._spaced_equals(data) == any(x in data for x in SPACED)
    assert sheetinfo._opens_formula(data) == any(x in data for x in FORMULA)
    assert sheetinfo._opens_formula(data, b":") == any(b":" + x[1:] in data for x in FORMULA)
    many_fs = b"<t>" + b"f" * 100 + b"</t>" + data  # past the bounded walk over f's
    assert sheetinfo._opens_formula(many_fs) == any(x in many_fs for x in FORMULA)
    assert sheetinfo._opens_formula(many_fs, b":") == any(b":" + x[1:] in many_fs for x in FORMULA)
