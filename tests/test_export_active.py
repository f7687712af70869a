"""Issue 14, item 15: the email-safe export removes active content and says which — a DDE
defined name, conditional-format and data-validation formulas calling cmd|… or DTG_SCORE(), a
file:/// hyperlink, an embedded OLE package — and a recipient's LibreOffice finds none of it."""
from __future__ import annotations

import zipfile

import pytest

import corpus_reliability as C
from helpers import run_cli

needs_lo = pytest.mark.skipif(C.SOFFICE is None, reason="LibreOffice (soffice) is not installed")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    work = tmp_path_factory.mktemp("active")
    return C.build_active_content(work / "active.xlsx")


@pytest.fixture(scope="module")
def exported(hostile, tmp_path_factory):
    import contextlib
    import io

    from dtg_xl.doors.cli import main

    out = hostile.with_name("active-export.xlsx")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["export", str(hostile), "-o", str(out)]) == 0
    return out, buf.getvalue()


def test_the_hostile_workbook_really_has_it(hostile):
    with zipfile.ZipFile(hostile) as z:
        text = b"".join(z.read(n) for n in z.namelist() if n.endswith((".xml", ".rels")))
        assert "xl/embeddings/oleObject1.bin" in z.namelist()
    assert b"cmd|" in text and b"DTG_SCORE" in text and b"file:///etc/passwd" in text and b"oleObject" in text


def test_export_removes_and_names_each(exported):
    out, printed = exported
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        text = b"".join(z.read(n) for n in names if n.endswith((".xml", ".rels")))
    assert b"cmd|" not in text and b"DTG_SCORE" not in text and b"file:" not in text
    assert b"oleObject" not in text and not any(n.startswith("xl/embeddings/") for n in names)
    assert b"https://czj.qingdao.gov.cn/" in text  # a web link is kept
    assert b'operator="lessThan"' in text  # a plain conditional format is kept
    for item in ("已删除：定义名称“evil”（DDE 调用", "已删除：汇总!C21:C32 的条件格式公式（DDE 调用",
                 "已删除：汇总!D21:D32 的条件格式公式（调用加载项函数 DTG_SCORE）",
                 "已删除：单位填报!M2:M10 的数据验证公式（DDE 调用", "已删除：单位填报!N2:N10 的数据验证公式（调用加载项函数 DTG_SCORE）",
                 "已删除：说明!C1 的超链接（指向 file:///etc/passwd", "已删除：指标体系 的嵌入对象（OLE）1个"):
        assert item in printed, printed


def test_the_export_still_verifies(exported, capsys):
    out, _ = exported
    code, printed, err = run_cli(["verify", out], capsys)
    assert code == 0, printed


@needs_lo
def test_a_recipients_libreoffice_finds_no_formula_link_or_object(exported, tmp_path):
    """LibreOffice opens the copy (recalculation on) and saves it as flat ODF: no cell formula,
    no DDE link, no named expression or condition calling cmd|/DTG_, no file link, no object."""
    out, _ = exported
    proc = C.lo_convert(out, tmp_path / "fods", "fods", C.lo_profile(tmp_path))
    fods = (tmp_path / "fods" / (out.stem + ".fods"))
    assert fods.exists(), proc.stderr
    text = fods.read_text(encoding="utf-8")
    assert "table:formula=" not in text
    assert "table:dde-link" not in text and "office:dde-source" not in text
    assert "cmd|" not in text and "DTG_SCORE" not in text.upper()
    assert "file:" not in text and "etc/passwd" not in text  # LibreOffice shows file:/// links as relative paths
    assert "<draw:object" not in text and "draw:object-ole" not in text
    assert "https://czj.qingdao.gov.cn/" in text  # the kept web link is there: the check can see links


@needs_lo
def test_libreoffice_does_see_them_in_the_original(hostile, tmp_path):
    """The contrast: the same check on the unexported workbook finds the link and the active
    formulas, so the test above can fail.  (LibreOffice does not render this hand-made OLE1
    package as an object, so its removal is checked in the package, test_export_removes_and_names_each.)"""
    proc = C.lo_convert(hostile, tmp_path / "fods", "fods", C.lo_profile(tmp_path))
    text = (tmp_path / "fods" / (hostile.stem + ".fods")).read_text(encoding="utf-8")
    assert "etc/passwd" in text, proc.stderr
    assert "cmd|" in text and "DTG_SCORE" in text.upper()
