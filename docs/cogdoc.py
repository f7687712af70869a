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

import cog  # provided by cogapp while it runs a page

_SHORTCUTS = {"dtg-xl": [sys.executable, "-m", "dtg_xl"], "python": [sys.executable]}


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    return _SHORTCUTS.get(words[0], [words[0]]) + words[1:]


def _env() -> dict:
    env = dict(os.environ, COLUMNS="100", LANG="C.UTF-8", PYTHONIOENCODING="utf-8", TZ="UTC")
    env.pop("FORCE_COLOR", None)
    return env


def _exec(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(command), cwd=cwd, env=_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL)


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
        done = _exec(command, cwd)
        if exit_code is not None and done.returncode != exit_code:
            raise RuntimeError(f"{command}: exit {done.returncode}, expected {exit_code}\n{done.stdout}{done.stderr}")
        text = done.stdout + (done.stderr if stderr else "")
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
