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
