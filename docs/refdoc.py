"""Helpers for docs/reference/references.md (cog): variants of the packaged 2020 example as TOML text, the generated
问卷星 export of the tests, and excerpts of real ``--json`` output (the full output is long)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import cog

from cogdoc import output

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "dtg_xl" / "examples" / "dtg-2020.toml"


def example(replace: dict[str, str] | None = None, append: str = "", params: dict[str, str] | None = None) -> str:
    """The packaged example's TOML with exact text replacements, extra [params] and appended tables."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    if params:
        lines = "".join(f'"{k}" = "{v}"\n' for k, v in params.items())
        text = text.replace("[params]\n", "[params]\n" + lines, 1)
    return text + "\n" + append


def survey_export(n: int = 240) -> str:
    """Path of a 问卷星-style export (tests/survey_export.py, seeded, so the page is stable)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from survey_export import answers, write_export

    path = Path(tempfile.gettempdir()) / f"dtg-docs-survey-{n}.xlsx"
    write_export(path, answers(n))
    return str(path)


def json_excerpt(command: str, pick, setup=(), files=None, exit_code=0, note="节选") -> None:
    """``$ command`` and ``pick(data)`` of its real JSON output, as a console block."""
    data = json.loads(output(command, setup, files, stderr=False, exit_code=exit_code))
    cog.outl("```console")
    cog.outl(f"$ {command}     # {note}")
    for item in pick(data):
        cog.outl(json.dumps(item, ensure_ascii=False))
    cog.outl("```")
