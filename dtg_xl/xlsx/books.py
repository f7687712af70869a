"""Books: what the pipeline reads from and writes to.

A book lists its sheets, gives a sheet's values as rows from A1, and takes blocks of values
(``write(sheet, row, col, rows2d)``).  ``FileBook`` is a workbook file read with
python-calamine and written by patching only the written sheets; the Excel door has its own
book over a live ``xlwings.Book`` (``dtg_xl.xlsx.xlwings_book``).
"""
from __future__ import annotations

import threading
import zipfile
import zlib
from collections import defaultdict
from pathlib import Path

from lxml import etree
from python_calamine import CalamineWorkbook

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import CellError, Percent, Uncalculated, is_percent_format
from dtg_xl.xlsx.patch import PatchError, patch_workbook
from dtg_xl.xlsx.preflight import Deferred, PreflightError, check_deferred, check_package
from dtg_xl.xlsx.sheetinfo import SheetCells, package_parts, read_number_formats, scan_sheet

class BookError(DtgError):
    """A workbook that cannot be opened; the message is for the user."""


class FileBook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        deferred: list[Deferred] = []
        try:
            # before calamine sees the file: a hostile one can abort the process (see preflight);
            # a small file's checked package (in memory) serves this book's own part reads; a large
            # sheet's XML check is left to run beside calamine's parse of it (_read_ahead)
            self.preflight, self._zip = check_package(self.path, deferred=deferred)
        except PreflightError as exc:
            raise BookError(f"无法读取工作簿“{self.path.name}”：{exc}") from None
        try:
            self._wb = CalamineWorkbook.from_path(str(self.path))
        except Exception:  # noqa: BLE001 - CalamineError, OSError, and pyo3 panics
            self._close_zip()
            raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException(BaseException)
            self._close_zip()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        self._cache: dict[str, list[list]] = {}
        self._cells: dict[str, SheetCells] = {}  # every cell's style (verify, format reset)
        self._marks: dict[str, SheetCells] = {}  # what the readers need (percent, errors, formulas)
        self._formats: list[str] | None = None
        self._parts: dict[str, str] | None = None
        self._percent: set[int] | None = None  # cell styles whose number format shows a percentage
        self.writes: dict[str, dict[tuple[int, int], object]] = defaultdict(dict)
        # on save, (sheet, row, col, format code, value) -> the format a written cell gets instead, or
        # None (the pipeline gives result cells the template's own formats: results.layout.format_reset)
        self.reformat = None
        self._ahead = self._read_ahead(deferred) if deferred else {}

    def _read_ahead(self, deferred: list[Deferred]) -> dict:
        """The large worksheets, parsed by calamine in this thread (it lets go of the GIL while it
        parses, and what it allocates stays in this thread's heap) while a second thread runs the
        XML check the pre-flight left for them and reads their cell marks: sheet name ->
        calamine's sheet, or what it raised (given back when the sheet is read)."""
        names = [d.sheet for d in deferred if d.sheet in self._wb.sheet_names]
        failed: list[BaseException] = []

        def check():
            try:
                for item in deferred:
                    check_deferred(self._zipfile(), item)
                for name in names:
                    self.sheet_cells(name, all_styles=False)
            except BaseException as exc:  # noqa: BLE001 - raised below, in this thread
                failed.append(exc)

        thread = threading.Thread(target=check, name="dtg-check-ahead", daemon=True)
        thread.start()
        ahead: dict = {}
        try:
            for name in names:
                try:
                    ahead[name] = self._wb.get_sheet_by_name(name)
                except BaseException as exc:  # noqa: BLE001 - pyo3 panics are BaseException (see __init__)
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                        raise
                    ahead[name] = exc
        finally:
            thread.join()
        if failed:  # the check's refusal, not whatever calamine made of a file it refuses
            self._close_zip()
            if isinstance(failed[0], PreflightError):
                raise BookError(f"无法读取工作簿“{self.path.name}”：{failed[0]}") from None
            raise failed[0]
        return ahead

    def sheet_names(self) -> list[str]:
        return list(self._wb.sheet_names)

    def sheet_values(self, name: str) -> list[list]:
        """Rows of cell values from A1 (empty cells are '')."""
        if name not in self._cache:
            self._cache[name] = self._calamine_rows(name)
            self._mark(name, self._cache[name])
        return self._cache[name]

    def check_readable(self, name: str) -> None:
        """BookError if no reader can parse the sheet (what an output sheet must pass before
        anything is written into it); the values themselves are not needed, so not marked."""
        if name not in self._cache:
            self._calamine_rows(name)

    def _calamine_rows(self, name: str) -> list[list]:
        sheet = self._ahead.pop(name, None)  # parsed already (a large sheet): used once, then let go
        try:
            if sheet is None:
                sheet = self._wb.get_sheet_by_name(name)
            elif isinstance(sheet, BaseException):
                raise sheet
            return sheet.to_python(skip_empty_area=False)
        except BaseException as exc:  # noqa: BLE001 - see __init__: panics are BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise BookError(f"无法读取工作簿“{self.path.name}”的工作表“{name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None

    # ------------------------------------------------------------ what calamine does not say
    def _zipfile(self) -> zipfile.ZipFile:
        """The package, opened once for every part read (closed by save and close: Windows cannot
        replace a file that is still open); a small file's is the pre-flight's, over its bytes."""
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    def _package(self):
        if self._parts is None:
            try:
                zf = self._zipfile()
                self._parts, styles = package_parts(zf)
                self._formats = read_number_formats(zf, styles)
            except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError, ValueError):
                raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        return self._parts, self._formats

    def _percent_styles(self) -> set[int]:
        if self._percent is None:
            _, formats = self._package()
            self._percent = {i for i, code in enumerate(formats) if is_percent_format(code)}
        return self._percent

    def sheet_cells(self, name: str, all_styles: bool = True) -> SheetCells:
        """Formulas, error cells and styles of a sheet, from its XML (read once per sheet and mode):
        every cell's style, or (``all_styles=False``, what the readers need) percent-formatted ones."""
        cache = self._cells if all_styles else self._marks
        if name not in cache:
            parts, _ = self._package()
            percent = None if all_styles else self._percent_styles()
            try:
                cache[name] = scan_sheet(self._zipfile().read(parts[name]), percent)
            except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError, ValueError):
                raise BookError(f"无法读取工作簿“{self.path.name}”的工作表“{name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        return cache[name]

    def number_format(self, name: str, row: int, col: int) -> str:
        """The format code of a cell ('General' for an unstyled one)."""
        _, formats = self._package()
        index = self.sheet_cells(name).styles.get((row, col), 0)
        return formats[index] if 0 <= index < len(formats) else "General"

    def _mark(self, name: str, rows: list[list]) -> None:
        """Wrap cells whose value calamine cannot tell apart: percent-formatted numbers, error
        values and formulas without a cached value (both of which calamine gives as '')."""
        info = self.sheet_cells(name, all_styles=False)
        percent = self._percent_styles()

        def put(r, c, value):
            while len(rows) < r:
                rows.append([""] * (len(rows[0]) if rows else 0))
            line = rows[r - 1]
            if len(line) < c:
                line.extend([""] * (c - len(line)))
            line[c - 1] = value

        if percent:
            for (r, c), s in info.styles.items():
                if s in percent and r <= len(rows) and c <= len(rows[r - 1]):
                    v = rows[r - 1][c - 1]
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        rows[r - 1][c - 1] = Percent(v)
        for (r, c), text in info.errors.items():
            put(r, c, CellError(text))
        for r, c in info.uncalculated:
            if (r, c) not in info.errors:
                put(r, c, Uncalculated(info.formulas.get((r, c), "")))

    def write(self, sheet: str, row: int, col: int, values: list[list]) -> None:
        for i, line in enumerate(values):
            for j, value in enumerate(line):
                self.writes[sheet][(row + i, col + j)] = value

    def save(self, path: str | Path) -> Path:
        """Write the collected values into a copy at path (atomic; path may be the source)."""
        path = Path(path)
        self._close_zip()
        try:
            patch_workbook(self.path, path, dict(self.writes), self.reformat)
        except PatchError as exc:  # about the workbook read (a damaged sheet, a cell in an array …): name it
            raise BookError(f"无法写入“{path.name}”：工作簿“{self.path.name}”中，{exc}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError):  # pre-flight checks these first
            raise BookError(f"工作簿“{self.path.name}”已损坏，无法写入结果") from None
        return path

    def _close_zip(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def close(self) -> None:
        self._close_zip()
        self._wb.close()
