"""Email-safe export: a macro-free .xlsx whose formulas are values (work in progress)."""
from __future__ import annotations

from pathlib import Path


class ExportError(ValueError):
    """The workbook cannot be exported; the message is for the user."""


def export_email_safe(src: Path, dst: Path) -> Path:
    """Write an email-safe copy of src to dst (.xlsx) and return dst."""
    raise ExportError("导出功能尚在开发中")
