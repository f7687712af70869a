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
    for many in (b"\n" * 40, b"\t" * 40, b"\r\n" * 20):  # past the bounded look at each place
        assert sheetinfo._spaced_equals(many + data) == any(x in many + data for x in SPACED)
        assert sheetinfo._spaced_equals(data + many) == any(x in data + many for x in SPACED)
    assert sheetinfo._opens_formula(data) == any(x in data for x in FORMULA)
    assert sheetinfo._opens_formula(data, b":") == any(b":" + x[1:] in data for x in FORMULA)
    from dtg_xl.xlsx.patch import _ANY_FORMULA as patch_formula  # the pattern the patch decides prefixes by

    for pattern in (sheetinfo._ANY_FORMULA, patch_formula):
        assert sheetinfo.has_formula(data, pattern) == (pattern.search(data) is not None)
    many_fs = b"<t>" + b"f" * 100 + b"</t>" + data  # past the bounded walk over f's
    assert sheetinfo._opens_formula(many_fs) == any(x in many_fs for x in FORMULA)
    assert sheetinfo._opens_formula(many_fs, b":") == any(b":" + x[1:] in many_fs for x in FORMULA)


def test_number_formats_kept_by_the_style_part_bytes(example_path, tmp_path):
    """Forms from one master share their style part: its codes are parsed once, and every caller
    still gets its own list, the same as a fresh parse; other bytes, other codes; a broken part
    is refused every time."""
    import zipfile

    import pytest
    from lxml import etree

    with zipfile.ZipFile(example_path) as zf:
        styles = zf.read("xl/styles.xml")
        first = sheetinfo.read_number_formats(zf, "xl/styles.xml")
        assert first == list(sheetinfo._number_formats(styles)) and "0.00%" in first
        first.append("mutated")
        assert sheetinfo.read_number_formats(zf, "xl/styles.xml") == first[:-1]
    other = styles.replace(b'formatCode="0.00%"', b'formatCode="0.000%"', 1)
    broken = styles[: len(styles) // 2]
    for body, expected in ((other, "0.000%"), (broken, None), (broken, None)):
        path = tmp_path / "s.xlsx"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/styles.xml", body)
        with zipfile.ZipFile(path) as zf:
            if expected is None:
                with pytest.raises(etree.XMLSyntaxError):
                    sheetinfo.read_number_formats(zf, "xl/styles.xml")
            else:
                assert expected in sheetinfo.read_number_formats(zf, "xl/styles.xml")


def test_sheet_map_kept_by_the_bytes_of_workbook_and_relationships(example_path, tmp_path):
    """The same for the sheet map: a fresh parse's answer, each caller its own dict; a renamed
    sheet in other bytes is seen; a broken relationships part is refused every time."""
    import zipfile

    import pytest
    from lxml import etree

    with zipfile.ZipFile(example_path) as zf:
        workbook, rels = zf.read("xl/workbook.xml"), zf.read("xl/_rels/workbook.xml.rels")
        first, styles = sheetinfo.package_parts(zf)
        assert (first, styles) == sheetinfo._package_parts(workbook, rels) and "指标体系" in first
        first["指标体系"] = "mutated"
        assert sheetinfo.package_parts(zf)[0]["指标体系"].startswith("xl/worksheets/")
    renamed = workbook.replace('name="指标体系"'.encode(), 'name="指标"'.encode(), 1)
    for wb, rl, expected in ((renamed, rels, "指标"), (workbook, rels[: len(rels) // 2], None),
                             (workbook, rels[: len(rels) // 2], None)):
        path = tmp_path / "w.xlsx"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/workbook.xml", wb)
            z.writestr("xl/_rels/workbook.xml.rels", rl)
        with zipfile.ZipFile(path) as zf:
            if expected is None:
                with pytest.raises(etree.XMLSyntaxError):
                    sheetinfo.package_parts(zf)
            else:
                sheets, _ = sheetinfo.package_parts(zf)
                assert expected in sheets and "指标体系" not in sheets
