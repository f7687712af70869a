"""Cell helpers shared by every reader and writer: blank/text of a cell value, A1 references.

Kept free of openpyxl so the evaluate path does not pay for importing it.
"""
from __future__ import annotations

import math


def is_blank(value) -> bool:
    """None, an empty or all-space string, or NaN (how readers show an empty cell)."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def cell_text(value) -> str:
    """A cell value as trimmed text; 2020.0 reads as '2020', blank as ''."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def col_letter(col: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


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
