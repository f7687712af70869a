"""Cell helpers shared by every reader and writer: blank/text of a cell value, A1 references.

Kept free of openpyxl so the evaluate path does not pay for importing it.
"""
from __future__ import annotations

import functools
import math


def is_blank(value) -> bool:
    """None, an empty or all-space string, or NaN (how readers show an empty cell).  A formula
    without a cached value (``Uncalculated``) is not blank: the cell is filled."""
    kind = type(value)  # the exact built-in types first: millions of calls on a large sheet
    if kind is float:
        return value != value
    if kind is str:
        return not value.strip()
    if isinstance(value, Uncalculated):
        return False
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def cell_text(value) -> str:
    """A cell value as trimmed text; 2020.0 reads as '2020', blank as ''."""
    if type(value) is str:
        return value.strip()
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@functools.lru_cache(maxsize=16384)
def col_letter(col: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@functools.lru_cache(maxsize=32768)
def col_number(letters: str | bytes) -> int:
    """'A' -> 1, 'aa' -> 27 (str or ASCII bytes, any case)."""
    text = letters.decode("ascii") if isinstance(letters, bytes) else letters
    n = 0
    for ch in text.upper():
        n = n * 26 + ord(ch) - 64
    return n


def cell_ref(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


# Row heights that fit wrapped text.  Neither Excel nor LibreOffice re-fits a row's height when a file opens,
# and XlsxWriter cannot measure text, so a wrapped cell written with the default height draws its lines over
# the next row (issue 11).  Written by hand (a few lines of stdlib ``unicodedata``): a column width counts
# digits of the default font; a CJK character is about two of them, any other about 1.1.
LINE_POINTS = 14.5  # one line of 10-pt 宋体 / Noto CJK, with its leading
DEFAULT_ROW_POINTS = 15.0


def text_units(text: str) -> float:
    """Width of one line of text in column-width units (digits)."""
    import unicodedata

    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in text)


def wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes when wrapped in a column ``width`` digits wide (each paragraph apart)."""
    room = max(width - 1.0, 1.0)  # the cell's inner padding
    return sum(max(1, math.ceil(text_units(line) / room)) for line in str(text).split("\n"))


def fitted_row_height(cells) -> float:
    """Points a row needs so that every ``(text, column width)`` in ``cells`` shows all its wrapped lines."""
    lines = max((wrapped_lines(text, width) for text, width in cells if not is_blank(text)), default=1)
    return DEFAULT_ROW_POINTS if lines <= 1 else round(lines * LINE_POINTS + 2.0, 1)


# ---------------------------------------------------------------- what a cell holds besides its value
# Readers (calamine, xlwings) give bare values: an error cell and a formula that was never
# calculated both come back as '', a percent-formatted 95% as 0.95.  The books wrap such cells in
# these markers (decided from the sheet XML and the style part, see dtg_xl.xlsx.books), so the one
# value parser (dtg_xl.core.values) can say what the cell holds instead of guessing.
ERROR_LITERALS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                  "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!")


class Percent(float):
    """A number shown with a percent number format: the float is what the cell stores (0.95 for a
    cell that shows 95%); ``shown`` is the percentage the user sees (95.0), exact in decimal."""

    __slots__ = ()

    @property
    def shown(self) -> float:
        from decimal import Decimal

        return float(Decimal(repr(float(self))) * 100)


class CellError(str):
    """An error value (``#DIV/0!``) as the cell holds it."""

    __slots__ = ()


class Uncalculated(str):
    """A formula cell with no cached value (written by a program that does not calculate); the
    text is the formula without '='.  Not blank: the cell is filled, its value is unknown."""

    __slots__ = ()


def error_literal(value) -> str | None:
    """'#DIV/0!' for an error cell (or text that is exactly an Excel error literal), else None."""
    if isinstance(value, CellError):
        return str(value) or "#VALUE!"
    if isinstance(value, str) and "#" in value and value.strip().upper() in ERROR_LITERALS:  # every literal has '#'
        return value.strip().upper()
    return None


# ---------------------------------------------------------------- number formats
# built-in numFmtId -> format code (ECMA-376 Part 1, 18.8.30; ids Excel writes without a <numFmt>)
BUILTIN_FORMATS = {
    0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
    12: "# ?/?", 13: "# ??/??", 14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "m/d/yy h:mm", 37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)", 45: "mm:ss",
    46: "[h]:mm:ss", 47: "mmss.0", 48: "##0.0E+0", 49: "@",
}


def _format_skeleton(code: str) -> str:
    """A format code without its literal parts: quoted text, backslash escapes, [..] brackets."""
    out, i = [], 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            end = code.find('"', i + 1)
            i = len(code) if end < 0 else end + 1
            continue
        if ch in "\\_*":  # escaped char, space-of-width, fill char: the next char is literal
            i += 2
            continue
        if ch == "[":
            end = code.find("]", i + 1)
            i = len(code) if end < 0 else end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def is_percent_format(code: str | None) -> bool:
    """Does this number format multiply by 100 and show '%' (an unquoted % in its first section)?"""
    if not code:
        return False
    return "%" in _format_skeleton(code).split(";")[0]


def normalize_format(code: str | None) -> str:
    """A format code for comparison: 'general', '0.00', '0.00%' … (case and spacing folded)."""
    text = (code or "General").strip()
    return "general" if text.lower() in ("general", "") else text
