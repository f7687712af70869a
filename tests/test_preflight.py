"""Hostile and broken files: each is refused before any parser sees it, with a Chinese message,
exit code 2, no traceback, the input unchanged and nothing written.  A few run in a separate
process, because the failure they guard against (calamine's SIGABRT) kills the process."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import corpus_reliability as C
from dtg_xl.xlsx import patch, preflight
from dtg_xl.xlsx.books import BookError, FileBook
from dtg_xl.doors.cli import main
from dtg_xl.xlsx.patch import sheet_parts

BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
                             for i in range(1, 10))
                  + b"]>\n")


def _rebuild(src: Path, dst: Path, edit=None, extra: list[tuple[str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(src) as zin:
        parts = {n: zin.read(n) for n in zin.namelist()}
        sheets = sheet_parts(zin)
    if edit:
        edit(parts, sheets)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in parts.items():
            z.writestr(n, d)
        for n, d in extra:
            z.writestr(n, d)
    return dst


def _sheet_edit(sheet: str, old: bytes, new: bytes):
    def edit(parts, sheets):
        assert old in parts[sheets[sheet]]
        parts[sheets[sheet]] = parts[sheets[sheet]].replace(old, new, 1)
    return edit


def _far_cell(ref: str):
    row = "".join(ch for ch in ref if ch.isdigit())
    return _sheet_edit("说明", b"</sheetData>", f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData>'.encode())


def _tiny_xfd(path: Path) -> Path:
    """The 5 KB file of design.md: one sheet touching XFD1048576 (made with openpyxl)."""
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    wb.active["XFD1048576"] = 1
    wb.save(path)
    return path


def _entity_in(part_kind: str):
    def edit(parts, sheets):
        name = {"sheet": sheets["参数"], "strings": "xl/sharedStrings.xml", "workbook": "xl/workbook.xml"}[part_kind]
        body = parts[name]
        body = body.split(b"?>", 1)[1] if body.startswith(b"<?xml") else body
        parts[name] = BILLION_LAUGHS + body.lstrip()
    return edit


def _utf16_entity(parts, sheets):
    name = sheets["参数"]
    text = parts[name].decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    text = text.replace("?>", '?><!DOCTYPE x [<!ENTITY e "boom">]>', 1)
    parts[name] = b"\xff\xfe" + text.encode("utf-16-le")


def _bomb(parts, sheets):
    name = sheets["说明"]
    parts[name] = parts[name].replace(b"</worksheet>", b" " * (8 * 1024 * 1024) + b"</worksheet>")


def _duplicate(src, dst):
    with zipfile.ZipFile(src) as zin:
        items = [(n, zin.read(n)) for n in zin.namelist()]
    import warnings
    with warnings.catch_warnings(), zipfile.ZipFile(dst, "w") as z:
        warnings.simplefilter("ignore")
        for n, d in items + [("xl/workbook.xml", items[0][1])]:
            z.writestr(n, d)
    return dst


def _encrypted(src, dst):
    from msoffcrypto.format.ooxml import OOXMLFile
    with open(src, "rb") as fh, open(dst, "wb") as out:
        OOXMLFile(fh).encrypt("secret", out)
    return dst


def _docx(src, dst):
    import docx
    d = docx.Document()
    d.add_paragraph("不是工作簿")
    d.save(dst)
    return dst


def _truncated(src, dst):
    data = Path(src).read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _plain(content: bytes):
    def make(src, dst):
        dst.write_bytes(content)
        return dst
    return make


def _zip_rebuild(edit=None, extra=()):
    return lambda src, dst: _rebuild(src, dst, edit, extra)


CASES = {
    # name: (builder(src, dst) -> path, words the message must contain)
    "xfd1048576": (lambda src, dst: _tiny_xfd(dst), "超出范围"),
    "far_cell_in_template": (_zip_rebuild(_far_cell("XFD1048576")), "XFD1048576"),
    "far_row": (_zip_rebuild(_far_cell("A500000")), "行"),
    "wide_area": (_zip_rebuild(_far_cell("BDD4000")), "使用区域过大"),
    "dimension": (_zip_rebuild(_sheet_edit("说明", b'<dimension ref="A1:A', b'<dimension ref="A1:XFD1048576"/><x ref="')),
                  "dimension"),
    "entity_in_sheet": (_zip_rebuild(_entity_in("sheet")), "实体"),
    "entity_in_shared_strings": (_zip_rebuild(_entity_in("strings")), "实体"),
    "entity_in_workbook": (_zip_rebuild(_entity_in("workbook")), "实体"),
    "entity_utf16": (_zip_rebuild(_utf16_entity), "实体"),
    "compression_bomb": (_zip_rebuild(_bomb), "压缩比"),
    "duplicate_part": (_duplicate, "重复"),
    "encrypted": (_encrypted, "密码"),
    "word_document": (_docx, "Word"),
    "truncated": (_truncated, "损坏"),
    "empty": (_plain(b""), "空"),
    "html_xls": (_plain(b"<html><body><table><tr><td>1</td></tr></table></body></html>"), "网页"),
    "pdf": (_plain(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"), "PDF"),
    "csv_text": (_plain("单位名称,年初预算\n青岛海关,100\n".encode()), "不是 Excel 工作簿"),
    "zip_not_workbook": (lambda src, dst: _zip_of({"a.txt": b"hello"}, dst), "不是 Excel 工作簿"),
    "strict_ooxml": (_zip_rebuild(lambda parts, sheets: parts.update({"xl/workbook.xml": parts["xl/workbook.xml"].replace(
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main")})),
        "Strict"),
    "xlsb_renamed": (_zip_rebuild(lambda parts, sheets: parts.pop("xl/workbook.xml"), [("xl/workbook.bin", b"\x83")]),
                     ".xlsb"),
    "missing_workbook_rels": (_zip_rebuild(lambda parts, sheets: parts.pop("xl/_rels/workbook.xml.rels")), "损坏"),
}


def _zip_of(files: dict, dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return dst


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, example_path) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("hostile")
    made = {}
    for name, (build, _) in CASES.items():
        dst = work / name / f"{name}.xlsx"
        dst.parent.mkdir()
        try:
            made[name] = build(example_path, dst)
        except ImportError:  # msoffcrypto-tool (test extra) missing: that one case skips
            continue
    if C.SOFFICE:  # a real old .xls and .ods, written by LibreOffice
        for kind, target in (("old_xls", "xls:MS Excel 97"), ("ods", "ods")):
            out = work / kind
            C.lo_convert(example_path, out, target, C.lo_profile(work, recalc=False))
            produced = next(out.glob("*.*"))
            made[kind] = produced.rename(out / f"{kind}.xlsx")  # renamed, as users do
    return made


MESSAGES = {name: words for name, (_, words) in CASES.items()} | {"old_xls": ".xls", "ods": "OpenDocument"}


@pytest.mark.parametrize("name", list(MESSAGES))
def test_refused_with_chinese_message(hostile, name, capsys):
    if name not in hostile:
        pytest.skip("msoffcrypto-tool is not installed: cannot make an encrypted workbook" if name == "encrypted"
                    else "LibreOffice (soffice) is not installed: no real .xls/.ods to test with")
    path = hostile[name]
    before = path.read_bytes()
    listing = sorted(p.name for p in path.parent.iterdir())
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：") and MESSAGES[name] in err, err
    assert "Traceback" not in err and "Error" not in err
    assert path.read_bytes() == before, "input changed"
    assert sorted(p.name for p in path.parent.iterdir()) == listing, "something was written"


@pytest.mark.parametrize("verb", [["verify"], ["export", "-o", "OUT"]])
def test_every_reading_verb_is_protected(hostile, verb, capsys):
    path = hostile["far_cell_in_template"]
    args = [verb[0], str(path)] + [str(path.with_name("out.xlsx")) if a == "OUT" else a for a in verb[1:]]
    assert main(args) == 2
    assert "超出范围" in capsys.readouterr().err
    assert not path.with_name("out.xlsx").exists()


@pytest.mark.parametrize("name", ["xfd1048576", "entity_in_shared_strings", "compression_bomb", "encrypted"])
def test_separate_process_exits_2_not_sigabrt(hostile, name):
    """Without the pre-flight, calamine aborts the whole process on xfd1048576 (SIGABRT, -6)."""
    if name not in hostile:
        pytest.skip("msoffcrypto-tool is not installed: cannot make an encrypted workbook")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(hostile[name])],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("错误：") and "Traceback" not in proc.stderr


def test_calamine_really_aborts_without_preflight(hostile):
    """The reason the check exists, shown in a child process (a SIGABRT cannot be caught)."""
    code = ("from python_calamine import CalamineWorkbook as W; import sys; "
            "wb = W.from_path(sys.argv[1]); wb.get_sheet_by_name(wb.sheet_names[0]).to_python()")
    proc = subprocess.run([sys.executable, "-c", code, str(hostile["xfd1048576"])], capture_output=True, timeout=120)
    assert proc.returncode != 0 and proc.returncode != 2
    assert hostile["xfd1048576"].stat().st_size < 8000


def test_limits_are_applied(example_path, monkeypatch):
    report = preflight.check(example_path)
    assert report.cells > 1000 and report.max_row > 100
    monkeypatch.setattr(preflight, "MAX_CELLS", 1000)
    with pytest.raises(preflight.PreflightError, match="单元格过多"):
        preflight.check(example_path)
    monkeypatch.setattr(preflight, "MAX_CELLS", 10**9)
    monkeypatch.setattr(preflight, "MAX_PART_BYTES", 50_000)
    with pytest.raises(preflight.PreflightError, match="解压后过大"):
        preflight.check(example_path)
    monkeypatch.setattr(preflight, "MAX_PART_BYTES", 10**9)
    monkeypatch.setattr(preflight, "MAX_FILE_BYTES", 1000)
    with pytest.raises(preflight.PreflightError, match="文件过大"):
        preflight.check(example_path)


def test_lying_zip_directory_is_caught(example_path, tmp_path):
    """The directory claims a tiny size; the stream is larger: refused, not trusted."""
    data = bytearray(_rebuild(example_path, tmp_path / "ok.xlsx", _bomb).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = next(i for i in z.infolist() if i.file_size > 8 * 1024 * 1024)
    real = info.file_size.to_bytes(4, "little")
    fake = (1024).to_bytes(4, "little")
    assert data.count(real) >= 2
    lying = tmp_path / "lying.xlsx"
    lying.write_bytes(bytes(data).replace(real, fake))
    with pytest.raises(preflight.PreflightError):
        preflight.check(lying)
    with pytest.raises(BookError):
        FileBook(lying)


def test_good_files_pass(example_path, tmp_path):
    for path in (example_path, C.build_xlsxwriter(tmp_path / "xw.xlsx")):
        assert preflight.check(path).parts > 5
    if C.DTG_XLSM.exists():
        assert preflight.check(C.DTG_XLSM).cells > 0


@pytest.mark.parametrize("cells", [
    '<c s="0" r="XFD1048576"><v>1</v></c>',  # r not the first attribute
    "<x:c r='XFD1048576'><x:v>1</x:v></x:c>",  # namespace prefix, single quotes
    '<c r="xfd1048576"><v>1</v></c>',  # lower case
    "".join("<c><v>1</v></c>" for _ in range(2001)),  # no r at all: positions implied
])
def test_far_cells_written_unusually_are_still_found(example_path, tmp_path, cells):
    path = _rebuild(example_path, tmp_path / "odd.xlsx",
                    _sheet_edit("说明", b"</sheetData>", f'<row r="7000">{cells}</row></sheetData>'.encode()))
    with pytest.raises(preflight.PreflightError, match="超出范围|使用区域过大"):
        preflight.check(path)


# ---------------------------------------------------------------- issue 14 item 8 / issue 16
@pytest.mark.parametrize("cells", [
    '<c\nr="XFD1048576"><v>1</v></c>',  # a newline before r (what an XML parser accepts)
    '<c\tr="XFD1048576"><v>1</v></c>',  # a tab
    '<c\r\n  s="0"\r\n  r="XFD1048576"/>',  # CRLF between attributes, r last
    '<c r = "XFD1048576"><v>1</v></c>',  # spaces around =
    "<c s='0' r='XFD1048576'><v>1</v></c>",  # single quotes, r not first
    '<c t="str" x=">" r="XFD1048576"><v>1</v></c>',  # a > inside another attribute's value
    '<c r="&#88;FD1048576"><v>1</v></c>',  # a character reference in r
    '<c r="$XFD$1048576"><v>1</v></c>',  # absolute form
])
def test_far_cells_matched_as_an_xml_parser_reads_them(example_path, tmp_path, cells):
    path = _rebuild(example_path, tmp_path / "odd.xlsx",
                    _sheet_edit("说明", b"</sheetData>", f'<row r="7000">{cells}</row></sheetData>'.encode()))
    with pytest.raises(preflight.PreflightError, match="超出范围|使用区域过大"):
        preflight.check(path)


def test_a_fake_reference_inside_a_value_is_not_taken_for_the_cell(example_path, tmp_path):
    """The real r is far; a harmless-looking ` r="A1"` inside another value must not hide it."""
    cells = '<c x=" r=&quot;A1&quot; " r="XFD1048576"><v>1</v></c>'
    path = _rebuild(example_path, tmp_path / "fake.xlsx",
                    _sheet_edit("说明", b"</sheetData>", f'<row r="7000">{cells}</row></sheetData>'.encode()))
    with pytest.raises(preflight.PreflightError, match="超出范围"):
        preflight.check(path)


def _rename_sheet_part(new_name: str, body_edit=None):
    """Move the 说明 worksheet to ``new_name``: workbook relationship and content type follow."""
    def edit(parts, sheets):
        old = sheets["说明"]
        body = parts.pop(old)
        parts[new_name] = body_edit(body) if body_edit else body
        rels = "xl/_rels/workbook.xml.rels"
        target = old[len("xl/"):]
        assert target.encode() in parts[rels]
        parts[rels] = parts[rels].replace(target.encode(), new_name[len("xl/"):].encode())
        ct = parts["[Content_Types].xml"]
        assert f'PartName="/{old}"'.encode() in ct
        parts["[Content_Types].xml"] = ct.replace(f'PartName="/{old}"'.encode(), f'PartName="/{new_name}"'.encode())
    return edit


def _far(body: bytes) -> bytes:
    return body.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1)


def _dtd(body: bytes) -> bytes:
    body = body.split(b"?>", 1)[1] if body.startswith(b"<?xml") else body
    return BILLION_LAUGHS + body.lstrip()


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.bin", "xl/worksheets/data", "xl/other/说明.dat"])
@pytest.mark.parametrize("body_edit,words", [(_far, "超出范围"), (_dtd, "实体")])
def test_worksheet_parts_are_found_from_the_package_not_the_name(example_path, tmp_path, part, body_edit, words):
    path = _rebuild(example_path, tmp_path / "renamed.xlsx", _rename_sheet_part(part, body_edit))
    with pytest.raises(preflight.PreflightError, match=words):
        preflight.check(path)


def test_renamed_worksheet_part_is_still_read_normally(example_path, tmp_path, capsys):
    """The same package without the attack passes, and calamine reads the renamed part (so the
    part really is a worksheet to it)."""
    path = _rebuild(example_path, tmp_path / "renamed.xlsx", _rename_sheet_part("xl/worksheets/sheet1.bin"))
    preflight.check(path)
    book = FileBook(path)
    try:
        assert book.sheet_values("说明")[0][0]
    finally:
        book.close()


def test_separate_process_exits_2_on_the_item_8_files(example_path, tmp_path):
    """Each would abort calamine (SIGABRT) if the pre-flight let it through."""
    files = [_rebuild(example_path, tmp_path / "nl.xlsx", _sheet_edit(
                 "说明", b"</sheetData>", b'<row r="1048576"><c\nr="XFD1048576"><v>1</v></c></row></sheetData>')),
             _rebuild(example_path, tmp_path / "bin.xlsx", _rename_sheet_part("xl/worksheets/sheet1.bin", _far))]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    for path in files:
        proc = subprocess.run([sys.executable, "-m", "dtg_xl", "evaluate", str(path)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 2, (path.name, proc.returncode, proc.stderr)
        assert "超出范围" in proc.stderr and "Traceback" not in proc.stderr


def test_same_verdicts_as_the_two_pass_preflight(hostile, example_path, tmp_path):
    """The single-pass check refuses exactly what the previous one (bench/preflight_before.py)
    refused, with the same message, on every hostile file and on the good corpus, and reports
    the same counts."""
    sys.path.insert(0, str(C.ROOT / "bench"))
    import preflight_before as before

    good = [example_path, C.build_xlsxwriter(tmp_path / "xw.xlsx"), C.build_openpyxl(tmp_path / "op.xlsx", example_path),
            C.excel_shaped(tmp_path / "ex.xlsx", example_path)] + ([C.DTG_XLSM] if C.DTG_XLSM.exists() else [])
    for path in list(hostile.values()) + good:
        assert _verdict(path, before) == _verdict(path), path.name


def test_check_package_hands_over_the_package_it_checked(example_path, monkeypatch):
    report, zf = preflight.check_package(example_path)
    with zipfile.ZipFile(example_path) as disk:
        assert zf.namelist() == disk.namelist()
        assert "xl/workbook.xml" in zf.kept and all(zf.read(n) == disk.read(n) for n in disk.namelist())
    zf.close()
    assert report == preflight.check(example_path)
    monkeypatch.setattr(preflight, "SMALL_FILE", 1000)  # a large file: checked from disk, nothing kept
    assert preflight.check_package(example_path) == (report, None)


def test_a_directory_pointing_before_the_file_is_refused_from_memory_as_from_disk(example_path, tmp_path, monkeypatch):
    """A small file is checked from its bytes in memory; a damaged directory sending zipfile to a
    negative offset fails there as it does reading the file (EINVAL, not ValueError), and either
    way is refused as a broken zip."""
    data = bytearray(example_path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    offset = int.from_bytes(data[end + 16:end + 20], "little")
    data[end + 16:end + 20] = (offset + 10**6).to_bytes(4, "little")  # the directory's start, moved on
    path = tmp_path / "moved.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(preflight.PreflightError, match="zip 结构无效"):
        preflight.check(path)
    with pytest.raises(BookError, match="zip 结构无效"):
        FileBook(path)
    monkeypatch.setattr(preflight, "SMALL_FILE", 0)  # read from disk, as a large file is
    with pytest.raises(preflight.PreflightError, match="zip 结构无效"):
        preflight.check(path)


@pytest.mark.parametrize("damage", ["crc in directory", "name in local header", "deflate stream cut"])
def test_a_part_read_from_memory_is_still_checked_as_zipfile_checks_it(example_path, tmp_path, damage):
    """Parts of a small file are inflated straight from its bytes only when nothing is unusual;
    a wrong CRC, a local name that differs from the directory's or a cut stream goes to zipfile,
    which refuses the file as before.  The patch's raw copy of untouched members reads them with
    the same reader (xlsx/parts.plain_member), so it copies none of these either."""
    data = bytearray(example_path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z, zipfile.ZipFile(io.BytesIO(), "w") as out:
        info = z.getinfo("xl/workbook.xml")
        assert patch._copy_compressed(z, out, info, zipfile.ZipInfo(info.filename))
    assert preflight._read_plain(bytes(data), info, None) is not None
    if damage == "crc in directory":
        central = data.find(b"PK\x01\x02")
        while data[central + 46:central + 46 + len(info.filename)] != info.filename.encode():
            central = data.find(b"PK\x01\x02", central + 1)
        data[central + 16] ^= 0xFF  # the directory's CRC of the part
    elif damage == "name in local header":
        data[info.header_offset + 30 + 3] = ord("X")  # xl/workbook.xml -> xl/Xorkbook.xml
    else:
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        data[start:start + info.compress_size] = data[start:start + info.compress_size // 2] + bytes(info.compress_size - info.compress_size // 2)
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        assert preflight._read_plain(bytes(data), z.getinfo("xl/workbook.xml"), None) is None
        # the patch's raw copy reads members with the same reader: it too leaves this one to zipfile
        with zipfile.ZipFile(io.BytesIO(), "w") as out:
            member = z.getinfo("xl/workbook.xml")
            assert not patch._copy_compressed(z, out, member, zipfile.ZipInfo(member.filename))
    with pytest.raises(preflight.PreflightError, match="文件已损坏"):
        preflight.check(path)


def _damaged_directory(src: Path, dst: Path, how: str) -> Path:
    """A real workbook whose zip directory is damaged as byte mutations found it can be:
    ``offset`` — the end record puts the directory later than it is, so zipfile moves every part
    before the file's start (its seek fails with EINVAL); ``name`` — a part name flagged UTF-8
    that is not (zipfile raises UnicodeDecodeError)."""
    import struct

    data = bytearray(src.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    if how == "offset":
        struct.pack_into("<I", data, end + 16, struct.unpack_from("<I", data, end + 16)[0] + 70)
    else:
        entry = data.find(b"PK\x01\x02")
        flags = struct.unpack_from("<H", data, entry + 8)[0]
        struct.pack_into("<H", data, entry + 8, flags | 0x800)
        data[entry + 46] = 0xEB  # a lead byte without its continuation
        data[entry + 47] = 0x41
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("how", ["offset", "name"])
def test_a_damaged_zip_directory_is_refused_by_name_and_a_portfolio_goes_on(example_path, tmp_path, how, capsys):
    """Both escaped as non-Chinese errors before: EINVAL as “无法读写文件（Invalid argument）” with no file
    named (and it ended a whole portfolio run), the bad name as an internal error."""
    folder = tmp_path / "项目"
    folder.mkdir()
    bad = _damaged_directory(example_path, folder / "坏.xlsx", how)
    before = bad.read_bytes()
    with pytest.raises(preflight.PreflightError, match="zip 结构无效"):
        preflight.check(bad)
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：无法读取工作簿“坏.xlsx”：文件已损坏：zip 结构无效"), err
    shutil.copyfile(example_path, folder / "好.xlsx")
    out = tmp_path / "汇总.xlsx"
    assert main(["portfolio", str(folder), "-o", str(out), "--jobs", "1"]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "未能评价：坏.xlsx：无法读取工作簿“坏.xlsx”：文件已损坏：zip 结构无效" in text and "已评价1个项目" in text, text
    assert out.exists() and bad.read_bytes() == before


def test_a_part_seen_before_gives_the_verdict_it_gives_alone(hostile, example_path, tmp_path):
    """Parts that passed are remembered by their bytes (forms of one master and projects of one
    template repeat most parts), so a worker checks each once.  Every hostile and good file gets
    the same verdict, message and counts whether the memo is empty or holds every other file's
    parts — the hostile files are the example with one part changed, so most of their parts hit."""
    good = [example_path, C.build_xlsxwriter(tmp_path / "xw.xlsx"), C.build_openpyxl(tmp_path / "op.xlsx", example_path),
            C.excel_shaped(tmp_path / "ex.xlsx", example_path)] + ([C.DTG_XLSM] if C.DTG_XLSM.exists() else [])
    files = good + list(hostile.values())

    def verdict(path):
        try:
            return "ok", preflight.check(path).__dict__
        except preflight.PreflightError as exc:
            return "refused", str(exc)

    alone = {}
    for path in files:
        preflight.forget_seen_parts()
        alone[path] = verdict(path)
    preflight.forget_seen_parts()
    for path in files + files[::-1] + files:
        assert verdict(path) == alone[path], path.name
    assert preflight._PASSED.items and preflight._PARSED.items
    assert all(alone[p][0] == "refused" for p in hostile.values()) and all(alone[p][0] == "ok" for p in good)


def test_a_remembered_part_still_counts_toward_the_workbook_total(example_path, monkeypatch):
    """The cell total is the workbook's: parts that hit the memo add their cells and are checked
    against it, so a workbook over the limit is refused though every part passed before; and a
    part that passed under one set of limits is checked again under another."""
    preflight.forget_seen_parts()
    cells = preflight.check(example_path).cells

    def not_again(*_):
        raise AssertionError("a remembered part was scanned again")

    monkeypatch.setattr(preflight, "_fast_cells", not_again)
    assert preflight.check(example_path).cells == cells  # every part from the memo
    monkeypatch.setattr(preflight, "MAX_CELLS", cells - 1)
    with pytest.raises(preflight.PreflightError, match="单元格过多"):
        preflight.check(example_path)
    monkeypatch.undo()
    monkeypatch.setattr(preflight, "MAX_ROWS", 5)  # other limits: a part's verdict under those is its own
    with pytest.raises(preflight.PreflightError, match="超出范围"):
        preflight.check(example_path)


def test_the_part_memo_is_bounded_by_bytes_least_recently_used_first_out():
    seen = preflight._Seen(10)
    seen.put(("a", b"1234"), 1)
    seen.put(("b", b"5678"), 2)
    assert seen.get(("a", b"1234")) == 1  # a is now the most recent
    seen.put(("c", b"90ab"), 3)  # 12 bytes > 10: b, the least recently used, goes
    assert seen.get(("b", b"5678")) is None and seen.get(("a", b"1234")) == 1 and seen.get(("c", b"90ab")) == 3
    assert seen.size == 8
    seen.put(("d", b"x" * 11), 4)  # larger than the whole memo: not kept
    assert seen.get(("d", b"x" * 11)) is None and seen.size == 8


def _deferred_verdict(path: Path):
    """check_package leaving the large worksheets' XML check to the caller, then that check."""
    deferred: list = []
    try:
        report, zf = preflight.check_package(path, deferred=deferred)
        with zf or zipfile.ZipFile(path) as z:
            for item in deferred:
                preflight.check_deferred(z, item)
    except preflight.PreflightError as exc:
        return ("refused", str(exc)), deferred
    return ("ok", report.__dict__), deferred


def _verdict(path: Path, module=preflight):
    """What ``module.check`` says of the file: ("ok", its counts) or ("refused", its message)."""
    try:
        return ("ok", module.check(path).__dict__)
    except module.PreflightError as exc:
        return ("refused", str(exc))


def test_a_deferred_xml_check_gives_the_verdict_of_the_whole_check(hostile, example_path, tmp_path, monkeypatch):
    """FileBook runs a large worksheet's XML check beside calamine's parse of it (check_package
    leaves it to the caller).  With every part over 1 KB large and read in 4 KB chunks, every
    hostile file, the good corpus and large sheets broken late, or broken early and far-reaching
    late, get exactly the verdict, message and counts of the whole check; and some checks were
    really left to the caller."""
    good = [example_path, C.build_xlsxwriter(tmp_path / "xw.xlsx"), C.build_openpyxl(tmp_path / "op.xlsx", example_path),
            C.excel_shaped(tmp_path / "ex.xlsx", example_path)] + ([C.DTG_XLSM] if C.DTG_XLSM.exists() else [])
    broken = [
        _rebuild(example_path, tmp_path / "late.xlsx", _sheet_edit("指标体系", b"</sheetData>", b"</sheetDat>")),
        _rebuild(example_path, tmp_path / "dtd_inside.xlsx", _sheet_edit("指标体系", b"</sheetData>",
                                                                       b'<!DOCTYPE x [<!ENTITY e "boom">]></sheetData>')),
        _rebuild(example_path, tmp_path / "early_and_far.xlsx", lambda parts, sheets: (
            _sheet_edit("指标体系", b"<sheetData>", b"<sheetData><bad></x>")(parts, sheets),
            _sheet_edit("指标体系", b"</sheetData>", b'<row r="900000"><c r="A900000"><v>1</v></c></row></sheetData>')(
                parts, sheets))),
    ]
    monkeypatch.setattr(preflight, "SMALL_PART", 1024)
    monkeypatch.setattr(preflight, "CHUNK", 4096)
    left = set()
    for path in list(hostile.values()) + good + broken:
        got, deferred = _deferred_verdict(path)
        assert got == _verdict(path), path.name
        left |= {path.name for _ in deferred}
    assert {"dtg-2020.xlsx", "xw.xlsx", "late.xlsx"} <= left
    checks = []
    whole_check = preflight._check_package
    monkeypatch.setattr(preflight, "_check_package", lambda *args: checks.append(args[2]) or whole_check(*args))
    # checked again only when the deferring check may have skipped what refuses it first: a limit found
    # by the pattern with expat left out, or anything after a sheet was left; not a refusal on the exact
    # path (a DTD) with nothing left before it, or of the workbook part or the directory
    def dtd_first(parts, sheets):  # in the package's first sheet, before any other sheet was checked
        first = min(sheets.values(), key=list(parts).index)
        parts[first] = BILLION_LAUGHS + parts[first].split(b"?>", 1)[1].lstrip()

    exact_first = _rebuild(example_path, tmp_path / "dtd_first.xlsx", dtd_first)
    for path, times in ((broken[2], 2), (hostile["far_cell_in_template"], 2), (hostile["entity_in_sheet"], 2),
                        (exact_first, 1), (hostile["entity_in_workbook"], 1), (hostile["compression_bomb"], 1)):
        checks.clear()
        got, _ = _deferred_verdict(path)
        assert len(checks) == times and got[0] == "refused", path.name
        assert got == _verdict(path), path.name
    assert _verdict(broken[0])[1].startswith("工作表“指标体系”不是有效的 XML")
    assert all(_verdict(path)[0] == "refused" for path in broken)  # a DOCTYPE inside a sheet is not XML either
    assert "不是有效的 XML" in _verdict(broken[2])[1]  # what comes first in the part, as always


def test_a_large_sheet_is_parsed_while_its_xml_is_checked(example_path, tmp_path, monkeypatch):
    """A book reads the same values, marks and refusals with its large sheets parsed ahead as
    without: a sheet broken late is refused at opening with the pre-flight's message, and a sheet
    calamine cannot read is refused when it is read, as it always was."""
    names = FileBook(example_path).sheet_names()
    before = FileBook(example_path)
    values = {n: before.sheet_values(n) for n in names}
    marks = {n: before.sheet_cells(n, all_styles=False) for n in names}
    late = _rebuild(example_path, tmp_path / "late.xlsx", _sheet_edit("指标体系", b"</sheetData>", b"</sheetDat>"))
    unreadable = _rebuild(example_path, tmp_path / "index.xlsx", _sheet_edit(
        "指标体系", b'<c r="A1" s="3" t="s"><v>66</v>', b'<c r="A1" s="3" t="s"><v>99999999</v>'))
    with pytest.raises(BookError) as refused:
        FileBook(late)
    with pytest.raises(BookError) as unread:
        FileBook(unreadable).sheet_values("指标体系")

    monkeypatch.setattr(preflight, "SMALL_PART", 4096)
    book = FileBook(example_path)
    assert {"指标体系", "汇总", "同比"} <= set(book._ahead) and "说明" not in book._ahead
    assert {n: book.sheet_values(n) for n in names} == values
    assert {n: book.sheet_cells(n, all_styles=False) for n in names} == marks
    assert not book._ahead  # each parsed sheet given once, then let go
    with pytest.raises(BookError) as refused_ahead:
        FileBook(late)
    assert str(refused_ahead.value) == str(refused.value) == f"无法读取工作簿“late.xlsx”：{_verdict(late)[1]}"
    ahead = FileBook(unreadable)
    assert isinstance(ahead._ahead["指标体系"], Exception)
    with pytest.raises(BookError) as unread_ahead:
        ahead.sheet_values("指标体系")
    assert str(unread_ahead.value) == str(unread.value)
    monkeypatch.setattr(preflight, "SMALL_FILE", 1000)  # a large file: its parts read from disk, by both threads
    book = FileBook(example_path)
    assert "指标体系" in book._ahead and {n: book.sheet_values(n) for n in names} == values
    with pytest.raises(BookError) as refused_from_disk:
        FileBook(late)
    assert str(refused_from_disk.value) == str(refused.value)
