"""The package's layers and rooms (pyproject's [tool.importlinter] contracts) are checked by import-linter;
an upward import or a cycle injected into a copy of the package must break them."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]


def _lint(cwd: Path, config: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath) if pythonpath else ""}
    return subprocess.run([*LINT, "--config", str(config), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_contracts_are_kept():
    proc = _lint(ROOT, ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    """The package renamed to dtgcopy (so the installed dtg_xl cannot shadow it) and its contracts."""
    dst = tmp_path / "dtgcopy"
    shutil.copytree(ROOT / "dtg_xl", dst, ignore=shutil.ignore_patterns("__pycache__"))
    for p in dst.rglob("*.py"):
        p.write_text(p.read_text(encoding="utf-8").replace("dtg_xl", "dtgcopy"), encoding="utf-8")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    lines = ['[importlinter]', 'root_package = dtgcopy']
    for i, c in enumerate(cfg["contracts"]):
        lines.append(f"[importlinter:contract:{i}]")
        for key, value in c.items():
            if isinstance(value, list):
                value = "\n    " + "\n    ".join(v.replace("dtg_xl", "dtgcopy") for v in value)
            lines.append(f"{key} = {value}")
    config = tmp_path / ".importlinter"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst, config


def _inject(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_copy_is_kept_before_injection(tmp_path):
    _, config = _copy(tmp_path)
    proc = _lint(tmp_path, config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("module, line, broken", [
    ("core/rules.py", "from dtgcopy.doors import cli", "doors → delivery"),  # the core imports a door
    ("xlsx/books.py", "from dtgcopy.core import engine", "doors → delivery"),  # I/O imports the core
    ("results/layout.py", "from dtgcopy.results import pipeline", "no import cycle"),  # layout ↔ pipeline
    ("units/unitforms.py", "from dtgcopy.results import layout", "doors → delivery"),  # siblings stay apart
])
def test_injected_violation_breaks_a_contract(tmp_path, module, line, broken):
    pkg, config = _copy(tmp_path)
    _inject(pkg / module, line)
    proc = _lint(tmp_path, config, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{broken}" in proc.stdout and "BROKEN" in proc.stdout
