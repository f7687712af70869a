"""Charts (PNG, CJK font) and their headless placement on 汇总 (drawing part zip patch)."""
from __future__ import annotations

import hashlib
import warnings
import zipfile

import openpyxl
import pytest
from helpers import engine_result, run_cli
from lxml import etree

from dtg_xl.delivery import charts
from dtg_xl.delivery.images import NAME_PREFIX, Image, add_images, chart_images


@pytest.fixture(scope="module")
def result(example_path):
    return engine_result(example_path)


def digests(path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}


def test_a_cjk_font_with_chinese_glyphs_is_found():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    name = charts.cjk_font()
    path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    font = FT2Font(path)
    assert all(font.get_char_index(ord(ch)) for ch in "决策过程产出效益得分率各单位预算执行")


def test_three_charts_without_missing_glyphs(result):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pngs = charts.result_charts(result)
    assert not [w for w in caught if "missing from" in str(w.message)]  # no tofu boxes
    assert list(pngs) == ["一级指标得分", "各单位预算执行", "一级指标得分率"]
    for png in pngs.values():
        w, h = charts.png_size(png)
        assert 300 < w < 1200 and 300 < h < 1200
        assert len(png) < 150_000  # small enough for a mail and the README


def test_same_result_same_bytes(result):
    assert charts.category_chart(result) == charts.category_chart(result)


def test_no_cjk_font_is_a_clear_error(monkeypatch, result):
    from matplotlib import font_manager

    monkeypatch.setattr(charts, "_FONT", None)
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [f for f in font_manager.fontManager.ttflist
                                                            if "CJK" not in f.name and f.name not in charts.CJK_FAMILIES])
    # a machine with no CJK font file at all: the second look on disk finds none either
    real = font_manager.findSystemFonts
    monkeypatch.setattr(font_manager, "findSystemFonts",
                        lambda *a, **k: [p for p in real(*a, **k) if "cjk" not in p.lower()])
    with pytest.raises(charts.ChartError) as exc:
        charts.category_chart(result)
    assert "fonts-noto-cjk" in str(exc.value) and "中文字体" in str(exc.value)
    assert "已查找的字体：Noto Sans CJK SC" in str(exc.value)  # says which fonts were tried


def test_images_on_the_summary_sheet_leave_other_parts_alone(example_copy, tmp_path, capsys, result):
    code, _, _ = run_cli(["evaluate", example_copy, "--in-place"], capsys)
    assert code == 0
    out = tmp_path / "charts.xlsx"
    images = chart_images(result)
    changed = add_images(example_copy, out, "汇总", images)
    before, after = digests(example_copy), digests(out)
    from dtg_xl.xlsx.patch import sheet_parts

    sheet = sheet_parts(zipfile.ZipFile(example_copy))["汇总"]
    folder, name = sheet.rsplit("/", 1)
    expected = {"[Content_Types].xml", sheet, f"{folder}/_rels/{name}.rels",
                "xl/drawings/drawing1.xml", "xl/drawings/_rels/drawing1.xml.rels",
                "xl/media/dtg_xl_chart1.png", "xl/media/dtg_xl_chart2.png", "xl/media/dtg_xl_chart3.png"}
    assert set(changed) == expected
    assert {n for n in after if before.get(n) != after[n]} == expected
    assert set(before) - set(after) == set()
    wb = openpyxl.load_workbook(out)
    assert len(wb["汇总"]._images) == 3
    assert wb["汇总"]["B7"].value == 96.65  # the values are still there
    drawing = etree.fromstring(zipfile.ZipFile(out).read("xl/drawings/drawing1.xml"))
    names = [e.get("name") for e in drawing.iter("{*}cNvPr")]
    assert names == [NAME_PREFIX + i.title for i in images]


def test_rerun_replaces_instead_of_stacking(example_copy, tmp_path, result):
    images = chart_images(result)
    first, second = tmp_path / "1.xlsx", tmp_path / "2.xlsx"
    add_images(example_copy, first, "汇总", images)
    add_images(first, second, "汇总", images[:2])
    names = zipfile.ZipFile(second).namelist()
    assert sorted(n for n in names if n.startswith("xl/media/")) == ["xl/media/dtg_xl_chart1.png",
                                                                     "xl/media/dtg_xl_chart2.png"]
    assert len(openpyxl.load_workbook(second)["汇总"]._images) == 2
    rels = zipfile.ZipFile(second).read("xl/drawings/_rels/drawing1.xml.rels")
    assert rels.count(b"<Relationship ") == 2


def test_a_users_own_picture_is_kept(tmp_path, result):
    import xlsxwriter

    src = tmp_path / "own.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("汇总")
    ws.write("A1", "x")
    png = charts.radar_chart(result)
    import io

    ws.insert_image("A3", "logo.png", {"image_data": io.BytesIO(png)})
    wb.close()
    out = tmp_path / "out.xlsx"
    add_images(src, out, "汇总", chart_images(result))
    again = tmp_path / "again.xlsx"
    add_images(out, again, "汇总", chart_images(result))
    for path in (out, again):
        assert len(openpyxl.load_workbook(path)["汇总"]._images) == 4
    before, after = digests(src), digests(out)
    assert before["xl/worksheets/sheet1.xml"] == after["xl/worksheets/sheet1.xml"]  # already had a drawing
    assert before["xl/media/image1.png"] == after["xl/media/image1.png"]


def test_evaluate_with_charts(example_copy, tmp_path, capsys):
    out = tmp_path / "out.xlsx"
    code, stdout, _ = run_cli(["evaluate", example_copy, "-o", out, "--charts"], capsys)
    assert code == 0 and "96.65" in stdout
    wb = openpyxl.load_workbook(out)
    assert len(wb["汇总"]._images) == 3
    assert wb["汇总"]["B7"].value == 96.65
    assert not list(tmp_path.glob(".*"))  # the values-only step left no temp file


def test_image_size_in_emu():
    image = Image(b"", "t", 704, 396, dpi=110)
    assert (image.cx, image.cy) == (round(704 / 110 * 914400), round(396 / 110 * 914400))


# ---------------------------------------------------------------- Excel door, on xlwings' own remote Book
@pytest.mark.skipif(not __import__("os").environ.get("XLWINGS_LICENSE_KEY"),
                    reason="xlwings' remote Book needs XLWINGS_LICENSE_KEY (e.g. noncommercial); .ci/run sets it")
def test_pictures_add_on_an_xlwings_book(result):
    import base64

    import xlwings as xw

    from dtg_xl.delivery.charts import PICTURE_PREFIX, add_to_xlwings_sheet

    earlier = {"name": PICTURE_PREFIX + "一级指标得分", "width": 400, "height": 200}
    own = {"name": "我的图片", "width": 10, "height": 10}
    payload = {"client": "Office.js", "version": xw.__version__, "names": [],
               "sheets": [{"name": "汇总", "values": [[""]], "pictures": [earlier, own], "tables": []}],
               "book": {"name": "dtg.xlsm", "active_sheet_index": 0, "selection": "A1"}}
    book = xw.Book(json=payload)
    names = add_to_xlwings_sheet(book.sheets["汇总"], result)
    assert names == [PICTURE_PREFIX + t for t in charts.TITLES]
    actions = [(a["func"], a["args"]) for a in book.json()["actions"]]
    assert [f for f, _ in actions] == ["updatePicture", "addPicture", "setPictureName", "addPicture", "setPictureName"]
    pngs = charts.result_charts(result)
    assert base64.b64decode(actions[0][1][0]) == pngs["一级指标得分"]  # the earlier run's picture replaced
    assert base64.b64decode(actions[1][1][0]) == pngs["各单位预算执行"]
    assert actions[2][1][1] == PICTURE_PREFIX + "各单位预算执行"
    assert [int(x) for x in actions[1][1][1:3]] == [14, 20]  # column O (0-based 14), stacked below the first


def test_charts_follow_later_evaluations(example_copy, tmp_path, capsys):
    """Charts once added are redrawn by every evaluation, and dropped when there are no scores."""
    from helpers import edit_cells

    code, _, _ = run_cli(["evaluate", example_copy, "--in-place", "--charts"], capsys)
    assert code == 0
    first = zipfile.ZipFile(example_copy).read("xl/media/dtg_xl_chart1.png")
    # an editor that renames the parts on save (openpyxl here, Excel too): image1.png, …
    edit_cells(example_copy, {"指标体系": {"N4": 1.75}})
    assert "xl/media/dtg_xl_chart1.png" not in zipfile.ZipFile(example_copy).namelist()
    code, stdout, _ = run_cli(["evaluate", example_copy, "--in-place"], capsys)  # no --charts
    assert code == 0 and "95.65" in stdout
    media = sorted(n for n in zipfile.ZipFile(example_copy).namelist() if n.startswith("xl/media/"))
    assert media == ["xl/media/dtg_xl_chart1.png", "xl/media/dtg_xl_chart2.png", "xl/media/dtg_xl_chart3.png"]
    second = zipfile.ZipFile(example_copy).read("xl/media/dtg_xl_chart1.png")
    assert second != first
    assert len(openpyxl.load_workbook(example_copy)["汇总"]._images) == 3
    edit_cells(example_copy, {"指标体系": {"F2": "abc"}})
    code, _, _ = run_cli(["evaluate", example_copy, "--in-place"], capsys)
    assert code == 2
    assert not [n for n in zipfile.ZipFile(example_copy).namelist() if n.startswith("xl/media/")]


@pytest.mark.skipif(not (__import__("shutil").which("soffice") and __import__("shutil").which("pdfimages")),
                    reason="needs LibreOffice (soffice) and poppler-utils (pdfimages)")
def test_libreoffice_shows_the_three_pictures(example_copy, tmp_path, capsys):
    """A real consumer of the package: LibreOffice reads the new drawing and prints the charts."""
    import subprocess

    out = tmp_path / "charts.xlsx"
    code, _, _ = run_cli(["evaluate", example_copy, "-o", out, "--charts"], capsys)
    assert code == 0
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(out)], check=True, capture_output=True, timeout=180)
    listing = subprocess.run(["pdfimages", "-list", str(tmp_path / "charts.pdf")], check=True,
                             capture_output=True, timeout=60).stdout.decode()
    images = [line.split() for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert len(images) == 3
    assert len({line[0] for line in images}) == 1  # all on one page: the 汇总 sheet
