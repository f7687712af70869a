"""Real command output in the docs, kept true by cog (cogapp).

A page embeds a block such as

    <!-- [[[cog run("dtg-xl evaluate demo.xlsx", setup=["dtg-xl new demo.xlsx --example dtg-2020"]) ]]] -->
    ...generated...
    <!-- [[[end]]] -->

``python -m cogapp -r -I docs README.md docs/*.md docs/*/*.md`` regenerates every block from a real run;
``tests/test_docs.py`` runs cog with ``--check``, so a page whose output no longer matches the program fails the
suite.  Each block runs in a fresh scratch folder (its ``setup`` commands first, silently), so a page never shows
a path of this machine.  Commands are written as a user types them (``dtg-xl …``) and run with this interpreter
(``python -m dtg_xl``), so the page shows the installed program's real words.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import cog  # provided by cogapp while it runs a page (pages may `from cogdoc import cog`)
except ImportError:  # run as a script (`cogdoc.py edit …`, the dtg-edit setup step)
    cog = None

_SHORTCUTS = {"dtg-xl": [sys.executable, "-m", "dtg_xl"], "python": [sys.executable],
              # a setup step that changes cells of a workbook, as a clerk would before the shown command:
              #   dtg-edit 主表.xlsx 指标体系!J13=8000 指标体系!O4=   (empty: clear; a number stays a number)
              "dtg-edit": [sys.executable, str(Path(__file__).resolve()), "edit"]}


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    return _SHORTCUTS.get(words[0], [words[0]]) + words[1:]


def _env() -> dict:
    env = dict(os.environ, COLUMNS="100", LANG="C.UTF-8", PYTHONIOENCODING="utf-8", TZ="UTC")
    env.pop("FORCE_COLOR", None)
    return env


def _glob(words: list[str], cwd: Path) -> list[str]:
    """Expand ``填报表/*.xlsx`` as a shell would (sorted; a pattern that matches nothing stays as typed)."""
    out = []
    for word in words:
        matches = sorted(str(p.relative_to(cwd)) for p in cwd.glob(word)) if any(c in word for c in "*?[") else []
        out += matches or [word]
    return out


def _exec(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_glob(_argv(command), cwd), cwd=cwd, env=_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def output(command: str, setup: list[str] | tuple = (), files: dict[str, str] | None = None,
           stderr: bool = True, exit_code: int | None = 0) -> str:
    """The real output of ``command`` (stdout, then stderr) after ``setup`` in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="dtg-docs-") as tmp:
        cwd = Path(tmp)
        for name, text in (files or {}).items():
            (cwd / name).write_text(text, encoding="utf-8")
        for step in setup:
            done = _exec(step, cwd)
            if done.returncode != 0:
                raise RuntimeError(f"setup step failed: {step}\n{done.stdout}{done.stderr}")
        text = ""
        steps = command.split(" && ")  # as a shell runs `a && b`: b only when a succeeded, outputs in order
        for i, step in enumerate(steps):
            done = _exec(step, cwd)
            text += done.stdout + (done.stderr if stderr else "")
            last = i == len(steps) - 1
            if (not last and done.returncode != 0) or (last and exit_code is not None and done.returncode != exit_code):
                raise RuntimeError(f"{step}: exit {done.returncode}, expected {exit_code if last else 0}\n{text}")
        return text.replace(tmp, ".").rstrip() + "\n"


def run(command: str, setup: list[str] | tuple = (), files: dict[str, str] | None = None, stderr: bool = True,
        exit_code: int | None = 0, show_exit: bool = False) -> None:
    """Print ``$ command`` and its real output as a fenced console block into the page."""
    text = output(command, setup, files, stderr, exit_code)
    cog.outl("```console")
    cog.outl(f"$ {command}")
    cog.out(text)
    if show_exit:
        cog.outl(f"$ echo $?\n{exit_code}")
    cog.outl("```")


def help(verb: str | None = None) -> None:
    """The real ``dtg-xl [VERB] --help`` as a fenced block."""
    run("dtg-xl " + (f"{verb} " if verb else "") + "--help")


def edit(book: str, assignments: list[str]) -> None:
    """Set ``工作表!单元格=值`` in book, in place, with the lossless zip patch (dtg_xl.xlsx.patch)."""
    from dtg_xl.results.whatif import parse_set  # the same reading as `dtg-xl whatif --set`

    writes: dict[str, dict] = {}
    for text in assignments:
        parsed = parse_set(text)
        if isinstance(parsed, str):
            sys.exit(parsed)
        sheet, row, col, value = parsed
        writes.setdefault(sheet, {})[(row, col)] = value
    from dtg_xl.xlsx.patch import patch_workbook

    patch_workbook(book, book, writes)


if __name__ == "__main__" and sys.argv[1:2] == ["edit"]:
    edit(sys.argv[2], sys.argv[3:])


def table(headers: list[str], rows: list[list], undocumented: str = "**（待补充说明）**") -> None:
    """A Markdown table from the program's own constants (a row without a description says so)."""
    cog.outl("| " + " | ".join(headers) + " |")
    cog.outl("|" + "---|" * len(headers))
    for row in rows:
        cells = [undocumented if cell is None else str(cell).replace("|", "\\|").replace("\n", " ") for cell in row]
        cog.outl("| " + " | ".join(cells) + " |")
