"""XlwingsBook.path and the button's email copy (Workbook.SaveCopyAs) against a COM-shaped fake:
what xlwings' Windows engine gives for a saved file, an unsaved ``Book1`` and a OneDrive URL.

The fake is the COM side only: ``api`` has ``FullName``, ``Name`` and ``SaveCopyAs`` like Excel's
Workbook object; ``fullname`` does what ``xlwings._xlwindows.Book.fullname`` does (a URL goes
through xlwings' own ``xlwings.utils.fullname_url_to_local_path``, which is plain Python).
SaveCopyAs writes a real workbook (the headless pipeline's result), so the email copy is the real
``export_email_safe`` output."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from dtg_xl.doors import excel_door
from dtg_xl.xlsx.xlwings_book import XlwingsBook, XlwingsBookError

from helpers import engine_result


class FakeWorkbookCOM:
    def __init__(self, full_name: str, name: str, source: Path | None):
        self.FullName, self.Name, self._source, self.saved = full_name, name, source, []

    def SaveCopyAs(self, filename):  # noqa: N802 - COM name
        from dtg_xl.results.pipeline import evaluate_book
        from dtg_xl.xlsx.books import FileBook

        self.saved.append(filename)
        book = FileBook(self._source)
        try:
            evaluate_book(book)
        finally:
            book.close()
        book.save(Path(filename))


class FakeBook:
    """xw.Book over the fake: .api, .name, .fullname as xlwings' Windows engine computes them."""

    def __init__(self, full_name: str, name: str, source: Path | None = None):
        self.api = FakeWorkbookCOM(full_name, name, source)
        self.name = name

    @property
    def fullname(self):
        from xlwings.utils import fullname_url_to_local_path

        if "://" in self.api.FullName:
            fullname_url_to_local_path.cache_clear()
            return fullname_url_to_local_path(url=self.api.FullName)
        return self.api.FullName


@pytest.fixture
def saved(example_path, tmp_path) -> Path:
    dst = tmp_path / "本地" / "dtg.xlsx"
    dst.parent.mkdir()
    shutil.copyfile(example_path, dst)
    return dst


def email(book, folder=None):
    result = engine_result(book.api._source)
    return excel_door.optional_outputs(XlwingsBook(book), excel_door.Settings(email=True, folder=folder), result)


def test_full_path(saved):
    fake = FakeBook(str(saved), "dtg.xlsx", saved)
    assert XlwingsBook(fake).path == saved
    before = saved.read_bytes()
    out = email(fake)
    copy = saved.parent / "dtg-邮件版.xlsx"
    assert out == {"邮件版": f"已生成：{copy}"}
    (tmp_copy,) = fake.api.saved
    assert Path(tmp_copy).name == "dtg.xlsx" and Path(tmp_copy).parent != saved.parent  # a temp copy, not the file
    assert not Path(tmp_copy).exists()  # removed after the export
    assert saved.read_bytes() == before
    with zipfile.ZipFile(copy) as z:
        assert "xl/vbaProject.bin" not in z.namelist()


def test_unsaved_book1(example_path, tmp_path):
    fake = FakeBook("Book1", "Book1", example_path)
    xb = XlwingsBook(fake)
    assert xb.path is None and xb.where_problem().startswith("工作簿尚未保存到磁盘")
    assert email(fake) == {"邮件版": "未生成邮件版：工作簿尚未保存到磁盘（或为网页版/远程工作簿），请先保存"}
    assert email(fake, folder=tmp_path) == {"邮件版": "未生成邮件版：工作簿尚未保存到磁盘（或为网页版/远程工作簿），请先保存"}
    assert fake.api.saved == [] and list(tmp_path.iterdir()) == []


def test_onedrive_url_synced_locally(saved, monkeypatch, tmp_path):
    """AutoSave on OneDrive: FullName is a URL; xlwings maps it to the synced folder."""
    onedrive = saved.parent
    monkeypatch.setenv("OneDriveConsumer", str(onedrive))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    fake = FakeBook("https://d.docs.live.net/0123456789abcdef/dtg.xlsx", "dtg.xlsx", saved)
    assert XlwingsBook(fake).path == saved
    assert email(fake) == {"邮件版": f"已生成：{onedrive / 'dtg-邮件版.xlsx'}"}


def test_onedrive_url_not_synced_says_what_to_do(saved, monkeypatch, tmp_path):
    monkeypatch.delenv("OneDriveConsumer", raising=False)
    monkeypatch.delenv("OneDrive", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    fake = FakeBook("https://d.docs.live.net/0123456789abcdef/评价/dtg.xlsx", "dtg.xlsx", saved)
    xb = XlwingsBook(fake)
    assert xb.path is None and "OneDrive/SharePoint" in xb.where_problem()
    (text,) = email(fake).values()
    assert text.startswith("未生成邮件版：工作簿保存在 OneDrive/SharePoint 上") and "输出文件夹" in text
    out = tmp_path / "out"
    out.mkdir()
    assert email(fake, folder=out) == {"邮件版": f"已生成：{out / 'dtg-邮件版.xlsx'}"}  # the suggested fix works
    assert Path(fake.api.saved[-1]).name == "dtg.xlsx"


def test_remote_book_refuses_save_copy():
    class Remote:
        api = {"book": {}}
        name = "dtg.xlsx"
        fullname = "dtg.xlsx"

    with pytest.raises(XlwingsBookError, match="不支持另存副本"):
        XlwingsBook(Remote()).save_copy(Path("x.xlsx"))
