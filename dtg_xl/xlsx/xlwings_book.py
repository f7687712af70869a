"""A book over a live ``xlwings.Book``: classic Excel (``xw.Book.caller()``) or xlwings' remote
Book (``xw.Book(json=payload)``, the Server/Lite/test path).

Same interface as ``dtg_xl.xlsx.books.FileBook``, so ``pipeline.evaluate_book(XlwingsBook(book))``
is the code behind the Excel button: ``sheet_names()``, ``sheet_values(name)`` (rows from A1,
'' for empty cells) and ``write(sheet, row, col, rows2d)`` (one ``range.value = rows2d``
per block: one COM call in Excel, one ``setValues`` action on the remote Book).
"""
from __future__ import annotations

from pathlib import Path

from dtg_xl.errors import DtgError


ROW_CHUNK = 1000  # rows per read; an entirely empty chunk ends the sheet
MIN_COLUMNS = 52  # A:AZ at least, for sheets whose header row is short (控制台, 参数)


def _empty(value) -> bool:
    return value is None or value == ""


class XlwingsBookError(DtgError):
    """The live book cannot do what was asked; the message is for the user."""


class XlwingsBook:
    def __init__(self, book):
        self.book = book
        self._cache: dict[str, list[list]] = {}

    def sheet_names(self) -> list[str]:
        return [sheet.name for sheet in self.book.sheets]

    def sheet_values(self, name: str) -> list[list]:
        """Rows of cell values from A1 (empty cells are '').

        Excel's used range also counts formatting, so a column formatted down to row 1048576
        would make one read of the used range enormous.  We read it in chunks of rows and stop
        at the first chunk that is entirely empty, and read only as many columns as the header
        row uses (at least ``MIN_COLUMNS``): the readers locate everything by header or label.
        """
        if name not in self._cache:
            sheet = self.book.sheets[name]
            last = sheet.used_range.last_cell
            header = sheet.range((1, 1), (1, last.column)).options(ndim=2).value[0]
            used = max((i for i, v in enumerate(header, start=1) if not _empty(v)), default=0)
            ncols = min(last.column, max(used, MIN_COLUMNS))
            rows: list[list] = []
            for top in range(1, last.row + 1, ROW_CHUNK):
                bottom = min(top + ROW_CHUNK - 1, last.row)
                block = sheet.range((top, 1), (bottom, ncols)).options(ndim=2).value
                if top > 1 and all(_empty(v) for row in block for v in row):
                    break  # formatting only from here on
                rows.extend(block)
            while len(rows) > 1 and all(_empty(v) for v in rows[-1]):
                rows.pop()
            self._cache[name] = [["" if v is None else v for v in row] for row in rows]
        return self._cache[name]

    def write(self, sheet: str, row: int, col: int, values: list[list]) -> None:
        self.book.sheets[sheet].range((row, col)).value = values
        self._cache.pop(sheet, None)  # what was read is stale now

    # ------------------------------------------------------------ files
    def _fullname(self) -> str:
        try:
            return str(self.book.fullname)
        except Exception:  # noqa: BLE001 - engines without a file name; an unmapped OneDrive URL
            api = getattr(self.book, "api", None)
            return str(getattr(api, "FullName", "") or "") if not isinstance(api, dict) else ""

    @property
    def name(self) -> str:
        """The workbook's name as Excel shows it (``dtg.xlsx``, ``Book1``)."""
        try:
            return str(self.book.name)
        except Exception:  # noqa: BLE001
            return ""

    @property
    def path(self) -> Path | None:
        """The workbook's file on disk, or None (a remote Book, never saved, or a OneDrive/SharePoint
        URL that xlwings cannot map to the locally synced file)."""
        full = self._fullname()
        if not full or "://" in full:
            return None
        path = Path(full)
        return path if path.is_absolute() and path.exists() else None

    def where_problem(self) -> str:
        """Why ``path`` is None, in words the clerk can act on ('' when it is not None)."""
        if self.path is not None:
            return ""
        full = self._fullname()
        if "://" in full:
            return ("工作簿保存在 OneDrive/SharePoint 上，找不到它在本机的同步文件：请在“控制台”的“输出文件夹”"
                    "填写本机文件夹，或把工作簿另存到本机后再运行")
        return "工作簿尚未保存到磁盘（或为网页版/远程工作簿），请先保存"

    def save_copy(self, path: Path) -> Path:
        """Save a copy of the live workbook (with the values just written) to path, leaving the
        open workbook and its file untouched (Excel's Workbook.SaveCopyAs)."""
        api = getattr(self.book, "api", None)
        if isinstance(api, dict) or not hasattr(api, "SaveCopyAs"):  # the remote Book's api is its JSON
            raise XlwingsBookError("当前环境（非Windows版Excel）不支持另存副本，请在Excel中手工保存后用命令行导出")
        api.SaveCopyAs(str(path))
        return Path(path)
