"""Package relationships: the one place a relationship Target becomes a zip part name."""
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
