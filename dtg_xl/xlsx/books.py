"""Books: what the pipeline reads from and writes to.

A book lists its sheets, gives a sheet's values as rows from A1, and takes blocks of values
(``write(sheet, row, col, rows2d)``).  ``FileBook`` is a workbook file read with
python-calamine and written by patching only the written sheets; the Excel door has its own
book over a live ``xlwings.Book`` (``dtg_xl.xlsx.xlwings_book``).
"""
from __future__ import annotations

import io
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from dtg_xl.errors import DtgError
from dtg_xl.xlsx.cells import (BUILTIN_FORMATS, CellError, Percent, Uncalculated, col_number,
                               is_percent_format)
from dtg_xl.xlsx.patch import PatchError, patch_workbook, resolve_target

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _ROW, _F, _V, _NUMFMT, _XF, _CELLXFS = (f"{{{NS}}}{n}" for n in ("c", "row", "f", "v", "numFmt", "xf", "cellXfs"))
_SAFE = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


class BookError(DtgError):
    """A workbook that cannot be opened; the message is for the user."""


@dataclass
class SheetCells:
    """What the sheet XML says beyond calamine's values, by (row, col) 1-based."""
    styles: dict = field(default_factory=dict)  # style index (s attribute), cells that have one
    formulas: dict = field(default_factory=dict)  # formula text ('' for a shared-formula child)
    errors: dict = field(default_factory=dict)  # error literal of t="e" cells
    uncalculated: set = field(default_factory=set)  # formulas without a cached value


def _package_parts(zf: zipfile.ZipFile) -> tuple[dict[str, str], str | None]:
    """Sheet name -> worksheet part, and the styles part, from workbook.xml and its relationships."""
    wb = etree.fromstring(zf.read("xl/workbook.xml"), etree.XMLParser(**_SAFE))
    rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), etree.XMLParser(**_SAFE))
    targets, styles = {}, None
    for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
        target = resolve_target("xl/workbook.xml", rel.get("Target") or "")
        targets[rel.get("Id")] = target
        if (rel.get("Type") or "").endswith("/styles"):
            styles = target
    sheets = {s.get("name"): targets.get(s.get(f"{{{REL_NS}}}id"), "") for s in wb.iter(f"{{{NS}}}sheet")}
    return sheets, styles


def read_number_formats(zf: zipfile.ZipFile, styles_part: str | None) -> list[str]:
    """Format code of every cell style (cellXfs index -> code), from the style part, read once."""
    if not styles_part or styles_part not in zf.namelist():
        return []
    root = etree.fromstring(zf.read(styles_part), etree.XMLParser(**_SAFE))
    custom = {}
    for fmt in root.iter(_NUMFMT):
        try:
            custom[int(fmt.get("numFmtId"))] = fmt.get("formatCode") or ""
        except (TypeError, ValueError):
            continue
    codes = []
    xfs = root.find(_CELLXFS)
    for xf in (xfs if xfs is not None else ()):
        if xf.tag != _XF:
            continue
        try:
            fid = int(xf.get("numFmtId") or 0)
        except ValueError:
            fid = 0
        codes.append(custom.get(fid, BUILTIN_FORMATS.get(fid, "General")))
    return codes


def scan_sheet(data: bytes) -> SheetCells:
    """Styles, formulas, error values and uncalculated formulas of one worksheet part (an XML
    parser, not byte patterns: any whitespace, quoting or attribute order reads the same)."""
    out = SheetCells()
    row_no, col_no = 0, 0
    for event, el in etree.iterparse(io.BytesIO(data), events=("start", "end"), tag=(_ROW, _C), **_SAFE):
        if el.tag == _ROW:
            if event == "start":
                r = el.get("r")
                row_no = int(r) if r and r.isdigit() else row_no + 1
                col_no = 0
            else:
                el.clear()
            continue
        if event == "start":
            continue
        ref = el.get("r") or ""
        letters = ref.rstrip("0123456789").lstrip("$")
        col_no = col_number(letters) if letters.isalpha() and letters.isascii() else col_no + 1
        key = (row_no, col_no)
        style, kind = el.get("s"), el.get("t")
        if style and style.isdigit() and style != "0":
            out.styles[key] = int(style)
        f, v = el.find(_F), el.find(_V)
        if f is not None:
            out.formulas[key] = f.text or ""
            if v is None or (not (v.text or "") and kind not in ("str", "inlineStr")):
                out.uncalculated.add(key)
        if kind == "e":
            out.errors[key] = (v.text or "").strip() if v is not None else ""
        el.clear()
    return out


class FileBook:
    def __init__(self, path: str | Path):
        from python_calamine import CalamineWorkbook

        from dtg_xl.xlsx.preflight import PreflightError, check

        self.path = Path(path)
        try:
            # before calamine sees the file: a hostile one can abort the process (see preflight)
            self.preflight = check(self.path)
        except PreflightError as exc:
            raise BookError(f"无法读取工作簿“{self.path.name}”：{exc}") from None
        try:
            self._wb = CalamineWorkbook.from_path(str(self.path))
        except Exception:  # noqa: BLE001 - CalamineError, OSError, and pyo3 panics
            raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException(BaseException)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        self._cache: dict[str, list[list]] = {}
        self._cells: dict[str, SheetCells] = {}
        self._formats: list[str] | None = None
        self._parts: dict[str, str] | None = None
        self.writes: dict[str, dict[tuple[int, int], object]] = defaultdict(dict)

    def sheet_names(self) -> list[str]:
        return list(self._wb.sheet_names)

    def sheet_values(self, name: str) -> list[list]:
        """Rows of cell values from A1 (empty cells are '')."""
        if name not in self._cache:
            try:
                sheet = self._wb.get_sheet_by_name(name)
                self._cache[name] = sheet.to_python(skip_empty_area=False)
            except BaseException as exc:  # noqa: BLE001 - see __init__: panics are BaseException
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                raise BookError(f"无法读取工作簿“{self.path.name}”的工作表“{name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
            self._mark(name, self._cache[name])
        return self._cache[name]

    # ------------------------------------------------------------ what calamine does not say
    def _package(self):
        if self._parts is None:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._parts, styles = _package_parts(zf)
                    self._formats = read_number_formats(zf, styles)
            except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError, ValueError):
                raise BookError(f"无法读取工作簿“{self.path.name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        return self._parts, self._formats

    def sheet_cells(self, name: str) -> SheetCells:
        """Styles, formulas and error cells of a sheet, from its XML (read once per sheet)."""
        if name not in self._cells:
            parts, _ = self._package()
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._cells[name] = scan_sheet(zf.read(parts[name]))
            except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError, ValueError):
                raise BookError(f"无法读取工作簿“{self.path.name}”的工作表“{name}”：文件已损坏，无法解析。请在 Excel 中打开并另存后重试") from None
        return self._cells[name]

    def number_format(self, name: str, row: int, col: int) -> str:
        """The format code of a cell ('General' for an unstyled one)."""
        _, formats = self._package()
        index = self.sheet_cells(name).styles.get((row, col), 0)
        return formats[index] if 0 <= index < len(formats) else "General"

    def _mark(self, name: str, rows: list[list]) -> None:
        """Wrap cells whose value calamine cannot tell apart: percent-formatted numbers, error
        values and formulas without a cached value (both of which calamine gives as '')."""
        info = self.sheet_cells(name)
        _, formats = self._package()
        percent = {i for i, code in enumerate(formats) if is_percent_format(code)}

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
        try:
            patch_workbook(self.path, path, dict(self.writes))
        except PatchError as exc:
            raise BookError(f"无法写入“{path.name}”：{exc}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError):  # pre-flight checks these first
            raise BookError(f"工作簿“{self.path.name}”已损坏，无法写入结果") from None
        return path

    def close(self) -> None:
        self._wb.close()
