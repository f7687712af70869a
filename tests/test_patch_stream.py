"""The streamed sheet patch (issue 16) writes what the whole-tree patch writes.

``_patch_stream`` parses only runs of the rows written and copies the other bytes; ``_patch_tree``
parses the whole part.  For real sheets (every written sheet of the 2020 example as the pipeline
writes it, an openpyxl-made copy) and for hand-made edge cases (rows or cells without r, new rows
before, between and after the existing ones, an empty <sheetData/>, a prefixed namespace, a new
cell needing a column style, overwritten formulas), both give the same document (canonical XML)
and the same overwritten formulas.  Sheets the byte patterns cannot read safely take the tree.
Runs of flat rows of plain cells taking numbers and blanks are spliced without parsing: the same
bytes as parsing them (compared), and every other row shape or value goes through lxml.
"""
from __future__ import annotations

import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from dtg_xl.results.layout import format_reset
from dtg_xl.results.pipeline import evaluate_book
from dtg_xl.xlsx import patch
from dtg_xl.xlsx.books import FileBook

NS = patch.NS


def canonical(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


def both(xml: bytes, cells: dict, sheet: str = "表") -> tuple[bytes, set]:
    """Patch both ways; assert they agree and that the streamed path really streamed."""
    assert patch._split_sheet(xml) is not None, "this case must take the streamed path"
    streamed, dropped_s = patch._patch_stream(xml, patch._split_sheet(xml), cells, sheet, None)
    tree, dropped_t = patch._patch_tree(xml, cells, sheet, None)
    assert canonical(streamed) == canonical(tree)
    assert dropped_s == dropped_t
    return streamed, dropped_s


def sheet(rows: str, head: str = "", root_attrs: str = "", prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet {xmlns}{root_attrs}>'
            f'{head}<{p}sheetData>{rows}</{p}sheetData></{p}worksheet>').encode()


def test_every_sheet_the_pipeline_writes_streams_to_the_same_document(example_path):
    EXAMPLE = example_path
    book = FileBook(EXAMPLE)
    evaluate_book(book)
    with zipfile.ZipFile(EXAMPLE) as zf:
        parts = patch.sheet_parts(zf)
        for name, cells in book.writes.items():
            xml = zf.read(parts[name])
            both(xml, cells, name)


def test_openpyxl_made_sheets_stream_to_the_same_document(example_path, tmp_path):
    EXAMPLE = example_path
    import openpyxl

    copy = tmp_path / "openpyxl.xlsx"
    openpyxl.load_workbook(EXAMPLE).save(copy)
    book = FileBook(copy)
    evaluate_book(book)
    with zipfile.ZipFile(copy) as zf:
        parts = patch.sheet_parts(zf)
        for name, cells in book.writes.items():
            both(zf.read(parts[name]), cells, name)


@pytest.mark.parametrize("prefix", ["", "x"])
def test_new_rows_before_between_and_after(prefix):
    p = f"{prefix}:" if prefix else ""
    rows = (f'<{p}row r="3"><{p}c r="A3"><{p}v>1</{p}v></{p}c></{p}row>\n'
            f'<{p}row r="7" spans="1:2"><{p}c r="B7" s="1"/></{p}row>\n')
    xml = sheet(rows, head=f'<{p}dimension ref="A3:B7"/>', prefix=prefix)
    out, _ = both(xml, {(1, 1): "前", (5, 2): 2.5, (7, 2): "写入", (9, 3): 9.0, (8, 1): None})
    root = etree.fromstring(out)
    assert [r.get("r") for r in root.iter(f"{{{NS}}}row")] == ["1", "3", "5", "7", "9"]
    assert root.find(f"{{{NS}}}dimension").get("ref") == "A1:C9"
    assert b"spans" not in out  # the written row's stale spans hint is gone


def test_rows_and_cells_without_r():
    rows = '<row><c><v>1</v></c><c><v>2</v></c></row><row><c t="s"><v>0</v></c><c/></row>'
    out, _ = both(sheet(rows), {(2, 2): "二", (1, 1): 5.0})
    cells = {c.get("r"): c for c in etree.fromstring(out).iter(f"{{{NS}}}c")}
    assert cells["B2"].get("t") == "inlineStr" and cells["A1"].findtext(f"{{{NS}}}v") == "5"


def test_empty_sheet_data_gets_rows():
    xml = f'<?xml version="1.0"?><worksheet xmlns="{NS}"><sheetData/></worksheet>'.encode()
    out, _ = both(xml, {(2, 3): 1.5, (1, 1): "甲"})
    assert [c.get("r") for c in etree.fromstring(out).iter(f"{{{NS}}}c")] == ["A1", "C2"]
    untouched, _ = both(xml, {(2, 3): None})  # only a blank: nothing to create
    assert canonical(untouched) == canonical(xml)


def test_new_cell_takes_the_column_style_and_formulas_are_reported():
    head = '<cols><col min="2" max="4" style="7"/></cols>'
    rows = '<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="E2"><v>5</v></c></row>'
    out, dropped = both(sheet(rows, head=head), {(2, 1): 3.0, (2, 3): 4.0})
    cells = {c.get("r"): c for c in etree.fromstring(out).iter(f"{{{NS}}}c")}
    assert dropped == {"A2"} and cells["C2"].get("s") == "7"
    assert [c.get("r") for c in etree.fromstring(out).iter(f"{{{NS}}}c")] == ["A2", "C2", "E2"]


def test_untouched_rows_keep_their_bytes():
    rows = "".join(f'<row r="{r}"><c r="A{r}" s="1"><v>{r}</v></c></row>' for r in range(1, 2000))
    xml = sheet(rows).replace(b'<c r="A1500" s="1">', b"<c  r='A1500'   s='1'>")  # odd but valid spacing
    out, _ = both(xml, {(3, 2): 1.0})
    assert b"<c  r='A1500'   s='1'>" in out  # not re-serialised


def test_rows_written_far_apart_are_parsed_in_runs(monkeypatch):
    monkeypatch.setattr(patch, "CHUNK_ROWS", 3)
    rows = "".join(f'<row r="{r}"><c r="A{r}"/><c r="B{r}"/></row>' for r in range(1, 40))
    both(sheet(rows), {(r, 2): float(r) for r in range(1, 40, 2)} | {(r, 1): "x" for r in range(5, 15)})


def test_a_damaged_row_number_is_refused_on_both_paths():
    for rows in ('<row r="0"><c r="A1"/></row>', '<row r="2"/><row r="2"/>', '<row r="x1"/>', '<row r="1048577"/>',
                 '<row r="2"/><row r=\'2\'/>', '<row r="3"/><row spans="1:2" r="3"/>'):
        xml = sheet(rows)
        with pytest.raises(patch.PatchError, match="文件已损坏"):
            patch._patch_stream(xml, patch._split_sheet(xml), {(1, 1): 1.0}, "表", None)
        with pytest.raises(patch.PatchError, match="文件已损坏"):
            patch._patch_tree(xml, {(1, 1): 1.0}, "表", None)


@pytest.mark.parametrize("text", [
    '<row r="1"><c r="A1"><f t="shared" ref="A1:A2" si="0">1</f></c></row>',  # shared formula
    '<row r="1"><c r="A1"><f t="array" ref="A1:B1">1</f></c></row>',  # array formula
    '<!-- <row r="9"/> --><row r="1"/>',  # a comment could fake a row
    '<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[<row>]]></t></is></c></row>',
    '<row r="&#49;"><c r="A1"/></row>',  # a character reference inside a tag
])
def test_sheets_the_byte_patterns_cannot_read_take_the_tree(text):
    assert patch._split_sheet(sheet(text)) is None


def test_number_formats_are_reset_the_same_way_on_both_paths(example_path):
    """The format reset runs inside the patch, on the cells written, whichever path."""
    EXAMPLE = example_path
    book = FileBook(EXAMPLE)
    evaluate_book(book)
    with zipfile.ZipFile(EXAMPLE) as zf:
        name = "汇总"
        # every cell to the unstyled style 0 (General): the blocks' 0.00 cells must get their format back
        xml = re.sub(rb' s="\d+"', b' s="0"', zf.read(patch.sheet_parts(zf)[name]))
        outs = []
        for run in ("stream", "tree"):
            fmt = patch._Formats(zf, format_reset, patch.package_parts(zf)[1])
            fmt.sheet = name
            if run == "stream":
                out, _ = patch._patch_stream(xml, patch._split_sheet(xml), book.writes[name], name, fmt)
            else:
                out, _ = patch._patch_tree(xml, book.writes[name], name, fmt)
            outs.append((canonical(out), dict(fmt.requests)))
        assert outs[0] == outs[1] and outs[0][1]  # and some cell did get its format back


def test_rows_with_another_prefix_take_the_tree():
    """<row> written with a prefix bound to the same namespace: the byte pattern would not see them."""
    text = f'<x:row xmlns:x="{NS}" r="1"><x:c r="A1"/></x:row>'
    assert patch._split_sheet(sheet(text)) is None


def test_a_run_the_parser_reads_otherwise_falls_back_to_the_tree():
    """A row nested in a row (damaged): the pattern cuts between two rows where the parser sees
    one; the streamed path gives up and the tree decides (here: it refuses the damaged sheet)."""
    xml = sheet('<row r="1"><c r="A1"/><row r="2"><c r="A2"/></row></row><row r="3"><c r="A3"/></row>')
    split = patch._split_sheet(xml)
    assert split is not None
    with pytest.raises(patch._NotStreamable):
        patch._patch_stream(xml, split, {(1, 1): 5.0}, "表", None)
    with pytest.raises(patch.PatchError, match="单元格引用“A2”（第1行）无效"):
        patch._patch_sheet(xml, {(1, 1): 5.0}, "表", None)
    # a row whose r the pattern reads otherwise than the parser: the run is handed to the tree too
    xml = sheet('<row r="1"><c r="A1"/></row><row r="2"><c r="A2"/></row>')
    split = list(patch._split_sheet(xml))
    body = xml[split[1]:split[2]].replace(b'<row r="2">', b'<row  r="2" >')
    xml2 = xml[:split[1]] + body + xml[split[2]:]
    out, _ = patch._patch_sheet(xml2, {(2, 1): 7.0}, "表", None)
    assert canonical(out) == canonical(patch._patch_tree(xml2, {(2, 1): 7.0}, "表", None)[0])


@pytest.mark.parametrize("shape", [
    '<c r="B2"><v>1</v></c>',                      # a number
    '<c r="B2" s="3" t="s"><v>0</v></c>',          # a shared string: the type goes
    '<c r="B2" t="str" cm="1"><v>x</v></c>',       # more attributes than r and s
    '<c r="B2">\n  <v>1</v>\n</c>',                # pretty-printed: the <v> has a tail
    '<c r="B2"><v xml:space="preserve">1</v></c>',  # an attribute on <v>
    '<c r="B2"><f>A1</f><v>1</v></c>',             # a formula
    '<c r="B2"><is><t>a</t></is></c>',             # an inline string
    '<x:c xmlns:x="%s" r="B2"><x:v>1</x:v></x:c>' % NS,
])
@pytest.mark.parametrize("value", [2.0, 2.5, -0.1])
def test_a_number_over_a_value_gives_the_bytes_of_the_general_path(shape, value):
    """A float into a cell holding one plain <v> reuses that <v> (consolidation writes 9,000 such
    cells); numpy's float64 takes the general path, which removes the old value and adds a new
    one.  Both give the same bytes and the same formula report, whatever the cell held."""
    import numpy as np

    wrapped = f'<sheetData xmlns="{NS}"><row r="2">{shape}</row></sheetData>'
    fast, general = (etree.fromstring(wrapped)[0][0] for _ in range(2))
    assert patch._set_value(fast, value) == patch._set_value(general, np.float64(value))
    assert etree.tostring(fast) == etree.tostring(general)
    assert fast.find(patch._V).text == ("2" if value == 2.0 else repr(value))


# ---------------------------------------------------------------- the byte splice of simple rows
def spliced_and_parsed(xml: bytes, cells: dict, monkeypatch, fmt_factory=None) -> tuple[bytes, bytes, list]:
    """The streamed patch as it is (splicing the rows it can) and with every run parsed by lxml."""
    outs, calls = [], []
    real = patch._splice_run

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out

    for splice in (spy, lambda *args: None):
        monkeypatch.setattr(patch, "_splice_run", splice)
        fmt = fmt_factory() if fmt_factory else None
        out, dropped = patch._patch_stream(xml, patch._split_sheet(xml), cells, "表", fmt)
        outs.append((out, dropped, dict(fmt.requests) if fmt else None))
    (spliced, d1, r1), (parsed, d2, r2) = outs
    assert d1 == d2 and r1 == r2
    return spliced, parsed, calls


EXCEL_ROWS = "".join(
    f'<row r="{r}" spans="1:5" ht="30.75" customHeight="1" x14ac:dyDescent="0.25">'
    f'<c r="A{r}" s="5" t="s"><v>{r}</v></c><c r="B{r}" s="7"/><c r="C{r}" s="7"><v>0.125</v></c>'
    f'<c r="D{r}" t="str"><v>x</v></c><c r="E{r}" s="8"/></row>' for r in range(1, 1200))
X14AC = ' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'


def test_simple_rows_are_spliced_to_the_bytes_lxml_would_give(monkeypatch):
    """Rows as Excel and XlsxWriter write them (shared strings, numbers, blank formatted cells):
    numbers and blanks go straight into the bytes, and the part is byte for byte what parsing and
    re-serialising the runs gives, which is also the tree's document."""
    xml = sheet(EXCEL_ROWS, root_attrs=X14AC)
    cells = {(r, c): v for r in range(2, 1100, 3) for c, v in ((2, 1.5), (3, None), (1, 7.0), (4, -0.1), (5, 2.0))}
    cells |= {(r, 6): None for r in range(2, 1100, 3)}  # a blank where no cell exists: nothing to clear
    spliced, parsed, calls = spliced_and_parsed(xml, cells, monkeypatch)
    assert calls and all(calls), "every run of these rows must be spliced"
    assert spliced == parsed
    assert canonical(spliced) == canonical(patch._patch_tree(xml, cells, "表", None)[0])
    row5 = re.search(rb'<row r="5".*?</row>', spliced).group(0)
    assert row5 == (b'<row r="5" ht="30.75" customHeight="1" x14ac:dyDescent="0.25"><c r="A5" s="5"><v>7</v></c>'
                    b'<c r="B5" s="7"><v>1.5</v></c><c r="C5" s="7"/><c r="D5"><v>-0.1</v></c>'
                    b'<c r="E5" s="8"><v>2</v></c></row>')


def test_the_splice_resets_formats_as_the_parsed_path_does(monkeypatch, example_path):
    with zipfile.ZipFile(example_path) as zf:
        styles = patch.package_parts(zf)[1]

        def fmt():
            f = patch._Formats(zf, lambda sheet, r, c, code, value: "0.00" if c == 2 else None, styles)
            f.sheet = "表"
            return f

        xml = sheet(EXCEL_ROWS, root_attrs=X14AC)
        cells = {(r, c): 3.25 for r in range(1, 600, 2) for c in (1, 2, 3)}
        spliced, parsed, calls = spliced_and_parsed(xml, cells, monkeypatch, fmt)
        new_style = len(fmt().codes)
    assert all(calls) and spliced == parsed
    assert b'<c r="B3" s="%d"><v>3.25</v></c>' % new_style in spliced  # a new style for column B


@pytest.mark.parametrize("row, value", [
    ('<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="B2"/></row>', 1.0),  # an inline string
    ('<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2"/></row>', 1.0),                # a formula
    ("<row r='2'><c r='A2'/><c r='B2'/></row>", 1.0),                                     # single quotes
    ('<row r="2"><c r="A2" s="1" t="s" cm="1"><v>0</v></c><c r="B2"/></row>', 1.0),       # more attributes
    ('<row r="2"><c r="B2"><v>1</v></c><c r="B2"><v>2</v></c></row>', 1.0),               # the same cell twice
    ('<row r="2"><c r="A2"/></row>', 1.0),                                                # a cell to insert
    ('<row r="2"><c r="A2"/><c r="B2"/></row>', "文字"),                                   # text
    ('<row r="2"><c r="A2"/><c r="B2"/></row>', True),                                    # a logical value
    ('<row r="2"><c r="A2"/>\n  <c r="B2"/></row>', 1.0),                                 # whitespace between cells
    ('<row r="2"><c r="A2"></c><c r="B2"/></row>', 1.0),                                  # <c></c>: lxml writes <c/>
    ('<row r="2"><c r="A2"><v>&amp;</v></c><c r="B2"/></row>', 1.0),                      # a reference in a value
    ('<row r="2"><c r="A2"><v></v></c><c r="B2"/></row>', 1.0),                           # an empty <v>
    ('<row r="2"><c r="A2"><v>1\r</v></c><c r="B2"/></row>', 1.0),                      # a parser reads \r as \n
    ('<row r="2" x="a&gt;b"><c r="A2"/><c r="B2"/></row>', 1.0),                          # a reference in an attribute
    ('<row><c r="A2"/><c r="B2"/></row>', 1.0),                                           # a row without r
])
def test_rows_the_splice_cannot_read_whole_are_parsed(row, value, monkeypatch):
    """Anything but a flat row of plain cells, or a value other than a float or blank, sends the
    run through lxml; the document is the tree's either way."""
    xml = sheet('<row r="1"><c r="A1"/></row>' + row + '<row r="3"><c r="A3"/></row>')
    cells = {(2, 2): value, (1, 1): 4.0}
    spliced, parsed, calls = spliced_and_parsed(xml, cells, monkeypatch)
    assert calls == [False] and spliced == parsed
    assert canonical(spliced) == canonical(patch._patch_tree(xml, cells, "表", None)[0])


def test_a_spliced_row_keeps_the_bytes_of_its_other_cells(monkeypatch):
    """lxml would write the row's non-ASCII attribute as a character reference; the splice keeps
    the bytes of everything it does not write."""
    xml = sheet('<row r="1" x14ac:note="行"><c r="A1" s="2"><v>1</v></c><c r="B1"/></row>', root_attrs=X14AC)
    spliced, parsed, calls = spliced_and_parsed(xml, {(1, 2): 0.5}, monkeypatch)
    assert calls == [True] and 'x14ac:note="行"'.encode() in spliced and b"&#34892;" in parsed
    assert canonical(spliced) == canonical(parsed)


def test_the_example_s_sheets_stream_to_the_same_bytes_spliced_or_parsed(example_path, monkeypatch):
    book = FileBook(example_path)
    evaluate_book(book)
    with zipfile.ZipFile(example_path) as zf:
        parts = patch.sheet_parts(zf)
        spliced_any = False
        for name, cells in book.writes.items():
            spliced, parsed, calls = spliced_and_parsed(zf.read(parts[name]), cells, monkeypatch)
            assert spliced == parsed, name
            spliced_any |= any(calls)
    assert spliced_any  # 指标体系's score columns


_SHAPES = [  # how a cell may be written; the first five are plain (the splice may write them)
    '<c r="{ref}"/>', '<c r="{ref}" s="3"/>', '<c r="{ref}" s="4" t="s"><v>7</v></c>', '<c r="{ref}"><v>0.25</v></c>',
    '<c r="{ref}" t="str"><v>x</v></c>',
    '<c r="{ref}" t="str"><v>a&amp;b</v></c>', '<c r="{ref}"><f>1+1</f><v>2</v></c>', '<c r="{ref}" s="3"></c>',
    '<c r="{ref}" t="inlineStr"><is><t>字</t></is></c>', "<c r='{ref}'/>", None,  # None: no such cell
]


@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_any_mix_of_rows_is_spliced_to_the_parsed_bytes(example_path, data):
    """Random rows of plain and other cells, random values written (with a format reset asked for
    column B): the splice, where it is taken, gives byte for byte what parsing the runs gives, with
    the same overwritten formulas and style requests, and the tree's document."""
    rows, plain = [], data.draw(st.booleans())  # half the cases: only plain cells, which the splice takes
    for r in range(1, data.draw(st.integers(1, 12)) + 1):
        attrs = data.draw(st.sampled_from(['', ' spans="1:6"', ' spans="1:6" ht="20" customHeight="1"']))
        shapes = data.draw(st.lists(st.sampled_from(_SHAPES[:5] if plain else _SHAPES), min_size=6, max_size=6))
        cells = "".join(s.format(ref=f"{'ABCDEF'[i]}{r}") for i, s in enumerate(shapes) if s)
        rows.append(f'<row r="{r}"{attrs}>{cells}</row>')
    xml = sheet("".join(rows))
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=False), st.none()) if plain else \
        st.one_of(st.floats(allow_nan=True, allow_infinity=False), st.none(), st.sampled_from(["文字", True, 3]))
    cells = data.draw(st.dictionaries(st.tuples(st.integers(1, len(rows)), st.integers(1, 6)), value, max_size=20))
    outs, tree = _spliced_parsed_and_tree(example_path, xml, cells)
    assert outs[0] == outs[1]
    assert canonical(outs[0][0]) == canonical(tree[0]) and tree[1:] == outs[0][1:]


def _spliced_parsed_and_tree(example_path, xml: bytes, cells: dict):
    """(document, overwritten formulas, format requests) of the stream with the splice, of the stream
    parsing every run, and of the tree; column B's written cells ask for the format 0.00."""
    with zipfile.ZipFile(example_path) as zf:
        def fmt():
            f = patch._Formats(zf, lambda sheet, r, c, code, v: "0.00" if c == 2 else None, patch.package_parts(zf)[1])
            f.sheet = "表"
            return f

        outs = []
        for splice in (patch._splice_run, lambda *args: None):
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(patch, "_splice_run", splice)
                f = fmt()
                out, dropped = patch._patch_stream(xml, patch._split_sheet(xml), cells, "表", f)
                outs.append((out, dropped, f.requests))
        f = fmt()
        tree, dropped = patch._patch_tree(xml, cells, "表", f)
    return outs, (tree, dropped, f.requests)


def test_new_cell_formats_are_numbered_in_row_order_whichever_path_a_row_takes(example_path):
    """Found by the test above: row 3 needs a cell inserted (the lxml path for its run), row 5 does
    not; both ask for a new format.  The stream once numbered row 5's first (its rows without
    insertions went first), the tree row 3's: same document, other style numbers.  Now every path
    numbers them as the tree does, row by row."""
    rows = []
    for r in range(1, 9):
        shapes = ['<c r="{ref}"/>'] * 6
        if r == 3:
            shapes[4] = None  # E3 missing: written below, so inserted
        if r == 5:
            shapes[1] = '<c r="{ref}" s="3"/>'
        rows.append(f'<row r="{r}">' + "".join(s.format(ref=f"{'ABCDEF'[i]}{r}") for i, s in enumerate(shapes) if s)
                    + "</row>")
    xml = sheet("".join(rows))
    cells = {(3, 2): None, (3, 5): 0.0, (4, 1): 0.0, (5, 2): 0.0}
    outs, tree = _spliced_parsed_and_tree(example_path, xml, cells)
    assert outs[0] == outs[1] and canonical(outs[0][0]) == canonical(tree[0]) and outs[0][2] == tree[2]
    assert list(tree[2]) == [(0, "0.00"), (3, "0.00")]  # B3's (no style) first, then B5's
