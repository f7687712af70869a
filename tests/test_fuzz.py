"""Fuzz tier (slow): 1,156 damaged or strange workbooks through the real CLI.

Three sources of cases, all from real workbooks:
* byte mutations of whole files (flips, truncation, junk) — mostly caught by zip checks — and of
  the zip's central directory alone;
* part mutations: one XML part of a real workbook edited (spans deleted/duplicated, cell
  references, types, values and shared-string indexes replaced, tags broken), re-zipped
  with valid CRCs so calamine, lxml and the model really parse them;
* hypothesis: random indicator tables, units and parameters typed into the template's
  input sheets (numbers, NaN-ish text, formula-like text, huge values, wrong methods), and a
  few cells of the real 2020 example retyped (so valid results are verified too).

Every case runs `dtg_xl.doors.cli.main` in-process (a few in a subprocess): the exit code is 0 or 2,
never 1 (internal error) and never a traceback; the input file's bytes never change; when
evaluate succeeds its output passes `dtg-xl verify`.
"""
from __future__ import annotations

import collections
import re
import contextlib
import hashlib
import io
import random
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus_reliability as C
from dtg_xl.doors.cli import main
from dtg_xl.core.rules import METHODS

pytestmark = pytest.mark.slow

BYTE_CASES = 300
DIRECTORY_CASES = 150
PART_CASES = 480
SEMANTIC_CASES = 120
EDIT_CASES = 100
VALUES = [b"", b"NaN", b"1e400", b"-0", b"abc", b"=1+1", b"99999999999999999999", b"-1", b"1048577",
          "\u0663".encode(), b"#NAME?", b"0x10", b"1,5", b" 2 ", b"TRUE"]
REFS = [b"A1", b"XFD1048576", b"A0", b"a1", b"$A$1", b"ZZZZZ1", b"A99999", b"", b"B2:C3", b"AAA1"]
TYPES = [b"s", b"str", b"inlineStr", b"b", b"e", b"n", b"d", b"x", b""]


def _run(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(args)
    return rc, err.getvalue()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_case(path: Path, workdir: Path, verb: str) -> int:
    before = _digest(path)
    out = workdir / "out.xlsx"
    out.unlink(missing_ok=True)
    if verb == "evaluate":
        rc, err = _run(["evaluate", str(path), "-o", str(out)])
    elif verb == "verify":
        rc, err = _run(["verify", str(path)])
    else:
        rc, err = _run(["export", str(path), "-o", str(out)])
    assert rc in (0, 2), f"{path.name} {verb}: exit {rc}: {err}"
    assert "Traceback" not in err and "内部错误" not in err, err
    # a damaged input is refused by name, not with an OS error's words (“无法读写文件（Invalid argument）”)
    assert "无法读写文件" not in err and ("文件已损坏" not in err or path.name in err), err
    assert _digest(path) == before, f"{path.name}: input changed"
    if verb == "evaluate" and rc == 0:
        rc2, err2 = _run(["verify", str(out)])
        assert rc2 == 0, f"{path.name}: evaluated output does not verify: {err2}"
    return rc


@pytest.fixture(scope="module")
def compact(tmp_path_factory, example_path) -> Path:
    """The 2020 example without the template's 300 blank input rows (openpyxl-made: another
    writer's XML, and a smaller file, so more cases fit in the time)."""
    import openpyxl

    wb = openpyxl.load_workbook(example_path)
    for name, keep in (("指标体系", 30), ("单位填报", 12)):
        wb[name].delete_rows(keep, wb[name].max_row)
    path = tmp_path_factory.mktemp("compact") / "compact.xlsx"
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, example_path, compact) -> list[Path]:
    work = tmp_path_factory.mktemp("seeds")
    done = work / "evaluated.xlsx"
    assert main(["evaluate", str(compact), "-o", str(done)]) == 0
    made = [compact, done, C.build_xlsxwriter(work / "features.xlsx"), compact, example_path]
    if C.DTG_XLSM.exists():
        made.append(C.DTG_XLSM)
    return made


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        data = data[: rng.randrange(len(data))]
    elif kind == 2:
        pos = rng.randrange(len(data))
        data[pos:pos] = rng.randbytes(rng.randint(1, 64))
    else:
        start = rng.randrange(len(data))
        del data[start:start + rng.randint(1, 200)]
    return bytes(data)


def _mutate_directory(data: bytes, rng: random.Random) -> bytes:
    """1-3 bytes changed inside the zip's central directory and end record (offsets, sizes, flags,
    names): rarely hit by whole-file mutations, and where zipfile raises more than BadZipFile."""
    data = bytearray(data)
    end = data.rfind(b"PK\x05\x06")
    start = int.from_bytes(data[end + 16:end + 20], "little") if end >= 0 else len(data) - 200
    start = start if 0 <= start < len(data) else max(0, len(data) - 200)
    if end >= 0 and rng.random() < 0.3:  # the end record alone: where the directory is, how big
        start = end
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(start, len(data))] = rng.randrange(256)
    return bytes(data)


def _mutate_xml(xml: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(9)
    if not xml:
        return b"<x/>"
    pos = rng.randrange(len(xml))
    if kind == 0:
        return xml[:pos] + xml[pos + rng.randint(1, 60):]
    if kind == 1:
        return xml[:pos] + xml[pos:pos + rng.randint(1, 200)] + xml[pos:]
    import re
    patterns = {2: rb'r="[^"]*"', 3: rb't="[^"]*"', 4: rb"<v>[^<]*</v>", 5: rb'ref="[^"]*"',
                6: rb'(?:s|si|count|sheetId|localSheetId)="[^"]*"'}
    if kind in patterns:
        hits = list(re.finditer(patterns[kind], xml))
        if not hits:
            return xml[:pos] + b"<" + xml[pos:]
        m = rng.choice(hits)
        if kind == 2:
            new = b'r="' + rng.choice(REFS) + b'"'
        elif kind == 3:
            new = b't="' + rng.choice(TYPES) + b'"'
        elif kind == 4:
            new = b"<v>" + rng.choice(VALUES) + b"</v>"
        elif kind == 5:
            new = b'ref="' + rng.choice(REFS) + b'"'
        else:
            new = m.group(0).split(b"=")[0] + b'="' + rng.choice([b"-1", b"999999", b"x", b"", b"3"]) + b'"'
        return xml[: m.start()] + new + xml[m.end():]
    if kind == 7:  # a character XML forbids, or a stray ampersand/angle bracket
        return xml[:pos] + rng.choice([b"\x01", b"&", b"<", b"\xff\xfe", b"&#0;", "\u202e".encode()]) + xml[pos:]
    closes = [i for i in range(len(xml)) if xml.startswith(b"</", i)]
    if closes:
        i = rng.choice(closes)
        j = xml.find(b">", i)
        return xml[:i] + xml[j + 1:]
    return xml


def _rezip(src: Path, dst: Path, rng: random.Random) -> Path:
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        parts = {n: zin.read(n) for n in names}
    xmlish = [n for n in names if n.endswith((".xml", ".rels", ".vml"))]
    important = [n for n in xmlish if n.startswith(("xl/worksheets/", "xl/sharedStrings", "xl/workbook",
                                                      "xl/_rels", "[Content"))]
    target = rng.choice(important if rng.random() < 0.8 else xmlish)
    for _ in range(rng.randint(1, 3)):
        parts[target] = _mutate_xml(parts[target], rng)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n in names:
            z.writestr(n, parts[n])
    return dst


def _verb(rng: random.Random) -> str:
    return rng.choices(["evaluate", "verify", "export"], weights=[6, 3, 1])[0]


def _mutated(seeds, tmp_path, seed: int, cases: int, mutate) -> list[int]:
    """Each seed workbook in turn, mutated and run through a random verb; the exit codes."""
    rng = random.Random(seed)
    codes = []
    for i in range(cases):
        src = seeds[i % len(seeds)]
        case = tmp_path / f"{mutate.__name__}-{i}{src.suffix}"
        case.write_bytes(mutate(src.read_bytes(), rng))
        codes.append(_check_case(case, tmp_path, _verb(rng)))
        case.unlink()
    return codes


def test_byte_mutations(seeds, tmp_path):
    codes = _mutated(seeds, tmp_path, 20201, BYTE_CASES, _mutate_bytes)
    assert codes.count(2) > BYTE_CASES // 2  # most damaged files are refused, not half-read


def test_directory_mutations(seeds, tmp_path):
    """Found a negative seek (“无法读写文件（Invalid argument）”, a portfolio run ended) and a part name
    not in its declared encoding (an internal error) before the pre-flight refused both."""
    codes = _mutated(seeds, tmp_path, 20204, DIRECTORY_CASES, _mutate_directory)
    assert codes.count(2) > DIRECTORY_CASES // 2


def test_part_mutations(seeds, tmp_path):
    rng = random.Random(20202)
    codes = []
    for i in range(PART_CASES):
        src = seeds[i % len(seeds)]
        case = _rezip(src, tmp_path / f"part-{i}{src.suffix}", rng)
        codes.append(_check_case(case, tmp_path, _verb(rng)))
        case.unlink()
    assert 0 in codes and 2 in codes  # both survivable and refused damage occurred


def test_a_few_in_a_separate_process(seeds, tmp_path):
    rng = random.Random(20203)
    for i in range(6):
        src = seeds[i % len(seeds)]
        case = _rezip(src, tmp_path / f"proc-{i}{src.suffix}", rng)
        before = _digest(case)
        proc = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(case), "-o",
                               str(tmp_path / f"proc-{i}-out.xlsx")], capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 2), proc.stderr
        assert "Traceback" not in proc.stderr and _digest(case) == before


# ---------------------------------------------------------------- hypothesis: what users type
text = st.one_of(st.text(max_size=12), st.sampled_from(["=1+1", "+A1", "-3", "@SUM(A1)", "是", "否", "达成",
                                                        "部分达成", "≥95:100%；≥90:80%", "  ", "1,000"]))
number = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32),
                   st.integers(-10**12, 10**12), st.sampled_from([0, 100, 1e308, -1e-300]))
cell = st.one_of(st.none(), number, text, st.booleans())
method = st.one_of(st.sampled_from(list(METHODS)), text)
indicator = st.fixed_dictionaries({"一级指标": st.sampled_from(["决策", "过程", "产出", "效益", ""]),
                                   "二级指标": text, "三级指标": text, "分值": st.one_of(number, text, st.none()),
                                   "评分方法": method, "评分标准": cell, "目标值": cell, "实际值": cell,
                                   "定性等级": cell, "评定得分": cell, "扣分": cell, "扣分原因": cell})
unit = st.fixed_dictionaries({"单位名称": text, "年初预算": cell, "追加预算": cell, "实际到位": cell, "实际支出": cell})


@pytest.fixture(scope="module")
def headers(compact):
    from dtg_xl.xlsx.books import FileBook
    book = FileBook(compact)
    found = {s: {str(h): i + 1 for i, h in enumerate(book.sheet_values(s)[0]) if h}
             for s in ("指标体系", "单位填报")}
    sizes = {s: len(book.sheet_values(s)) for s in ("指标体系", "单位填报")}
    book.close()
    return found, sizes


@settings(max_examples=SEMANTIC_CASES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(rows=st.lists(indicator, min_size=0, max_size=12), units=st.lists(unit, max_size=4),
       profile=st.one_of(st.sampled_from(["qingdao-2020", "mof-2020", "self-eval-2020"]), text),
       weighting=st.one_of(st.sampled_from(["逐级累加", "分层权重"]), text))
def test_typed_inputs(compact, headers, tmp_path_factory, rows, units, profile, weighting):
    from dtg_xl.xlsx.patch import patch_workbook

    cols, sizes = headers
    work = tmp_path_factory.mktemp("typed", numbered=True)
    writes = {"参数": {(4, 2): profile, (5, 2): weighting}, "指标体系": {}, "单位填报": {}}
    for sheet, items in (("指标体系", rows), ("单位填报", units)):
        for r in range(2, sizes[sheet] + 1):  # clear the example, then type the generated rows
            for c in cols[sheet].values():
                writes[sheet][(r, c)] = None
        for r, item in enumerate(items, start=2):
            for header, value in item.items():
                if header in cols[sheet]:
                    writes[sheet][(r, cols[sheet][header])] = value
    case = work / "typed.xlsx"
    patch_workbook(compact, case, writes)
    _check_case(case, work, "evaluate")


EDIT_OUTCOMES: collections.Counter = collections.Counter()
EDITABLE = ("目标值", "实际值", "扣分", "评定得分", "定性等级", "扣分原因", "分值")
small = st.one_of(st.floats(min_value=-10, max_value=200, allow_nan=False), st.integers(0, 100))
edit = st.tuples(st.integers(0, 40), st.sampled_from(EDITABLE),
                 st.one_of(small, small, st.none(), text, st.sampled_from(["达成", "部分达成", "未达成"])))


@settings(max_examples=EDIT_CASES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.lists(edit, min_size=1, max_size=4))
def test_edited_example(compact, headers, tmp_path_factory, edits):
    """A few cells of the real 2020 example retyped: many stay valid, so the success path
    (evaluate, then verify of the output) is exercised as well as the refusals."""
    from dtg_xl.xlsx.patch import patch_workbook

    cols, sizes = headers
    writes = {"指标体系": {}}
    for i, header, value in edits:
        writes["指标体系"][(2 + i % (sizes["指标体系"] - 1), cols["指标体系"][header])] = value
    work = tmp_path_factory.mktemp("edited", numbered=True)
    case = work / "edited.xlsx"
    patch_workbook(compact, case, writes)
    EDIT_OUTCOMES[_check_case(case, work, "evaluate")] += 1


def test_edited_example_reached_both_outcomes():
    """Runs after test_edited_example (file order): the edits must not all be refused."""
    if not EDIT_OUTCOMES:
        pytest.skip("test_edited_example did not run in this session")
    assert EDIT_OUTCOMES[0] >= 10 and EDIT_OUTCOMES[2] >= 10, EDIT_OUTCOMES


# ---------------------------------------------------------------- issue 14 part A corpus (helper i14a)
VALUE_COUNTS: collections.Counter = collections.Counter()
_WHERE = re.compile(r"[\w\u4e00-\u9fff]+!(?:[A-Z]{1,3}\d+|\d+:\d+|[A-Z]+\d*:[A-Z]+\d*)|工作表“|名为“|工作簿“|评价方案文件“|评价方案“")


def _run_full(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(args)
    return rc, out.getvalue() + err.getvalue()


def _value_case(kind, name, path, verb, must_refuse):
    before = _digest(path)
    folder = set(path.parent.iterdir())
    out = path.with_name(path.stem + "-out.xlsx")
    args = {"evaluate": ["evaluate", str(path), "-o", str(out)], "verify": ["verify", str(path)],
            "export": ["export", str(path), "-o", str(out)]}[verb]
    rc, text = _run_full(args)
    VALUE_COUNTS[kind, rc] += 1
    assert rc in (0, 2), f"{name}: exit {rc}: {text}"
    assert "Traceback" not in text and "内部错误" not in text, f"{name}: {text}"
    assert _digest(path) == before, f"{name}: input changed"
    assert set(path.parent.iterdir()) - folder <= {out}, f"{name}: stray files"
    if must_refuse:
        assert rc == 2, f"{name}: accepted: {text}"
        assert _WHERE.search(text), f"{name}: refusal names no cell, sheet or file: {text}"
        assert not out.exists() or verb != "evaluate" or "未计算得分" in text, f"{name}: {text}"
    if verb == "evaluate" and rc == 0:
        rc2, text2 = _run_full(["verify", str(out)])
        assert rc2 == 0, f"{name}: evaluated output does not verify: {text2}"
    if verb == "export" and rc == 0 and kind == "active":
        assert "已删除：" in text, text
    out.unlink(missing_ok=True)


def test_value_and_display_corpus(compact, tmp_path, capsys):
    """Wrong numbers, forged display and active content (issue 14 items 1–7, 13–15, 20): every
    case through the real CLI; must-refuse cases exit 2 with a message naming a cell, sheet or
    file; nothing aborts, nothing is internal, no input changes, nothing lands outside its folder."""
    evaluated = tmp_path / "evaluated.xlsx"
    assert main(["evaluate", str(compact), "-o", str(evaluated)]) == 0
    cases = C.value_cases(compact, tmp_path / "values") + C.display_cases(evaluated, tmp_path / "display")
    outside_before = set(tmp_path.parent.iterdir())
    failures = []
    for kind, name, path, verb, must_refuse in cases:
        try:
            _value_case(kind, name, path, verb, must_refuse)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:300])
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)
    assert set(tmp_path.parent.iterdir()) == outside_before, "files written outside the case folder"
    refused = sum(v for (k, rc), v in VALUE_COUNTS.items() if rc == 2)
    with capsys.disabled():
        print(f"\n[i14a corpus] {len(cases)} cases: {refused} refused with a located Chinese message, "
              f"{len(cases) - refused} accepted (and verified); 0 aborts, 0 internal errors, 0 modified inputs, "
              f"0 files outside their folder")
        for kind in C.VALUE_CASE_KINDS:
            print(f"  {kind:12s} refused {VALUE_COUNTS[kind, 2]:3d}  accepted {VALUE_COUNTS[kind, 0]:3d}")


# ---------------------------------------------------------------- issue 14 part B corpus (i14b)
def test_hostile_corpus_b(tmp_path_factory, example_path, capsys):
    """Forged/foreign forms, reader-killing forms, outputs that are inputs, hostile names and text,
    bad command lines: each run in a forked child (an abort is counted, not fatal)."""
    root = tmp_path_factory.mktemp("hostile-b")
    cases = C.hostile_cases_b(root / "cases", example_path)
    counts = C.run_hostile_b(cases, root)
    problems = counts.pop("problems")
    with capsys.disabled():
        print("\nhostile corpus (part B): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for p in problems[:40]:
            print("  " + p)
    assert counts["cases"] >= 250
    assert counts["aborts"] == counts["internal"] == counts["modified_inputs"] == counts["outside"] == 0
    assert counts["unclear_refusals"] == 0
    assert not problems
