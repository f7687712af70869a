"""Relationship targets as zip part names (OPC, ECMA-376 Part 2 §9.3): the one resolver.

Known to the rest of the code as ``dtg_xl.xlsx.patch.resolve_target`` (re-exported there); it lives
in this import-free module so that modules ``patch`` itself uses (``sheetinfo``) can resolve targets
without an import cycle inside the xlsx room.
"""
from __future__ import annotations


def resolve_target(base_part: str, target: str) -> str:
    """A relationship's Target as a zip part name: absolute (``/xl/…``) or relative to the folder
    of the part that owns the relationship; ``.`` and ``..`` folded."""
    joined = target if target.startswith("/") else f"{base_part.rpartition('/')[0]}/{target}"
    out: list[str] = []
    for piece in joined.split("/"):
        if piece == "..":
            if out:
                out.pop()
        elif piece and piece != ".":
            out.append(piece)
    return "/".join(out)
