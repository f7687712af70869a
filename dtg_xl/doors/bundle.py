"""``dtg-xl bundle-windows OUT_DIR``: a folder a clerk copies from a USB stick and installs from on
a Windows PC without internet or admin rights.

    OUT_DIR/
      安装.cmd            per-user venv under %LOCALAPPDATA%\\dtg_xl\\venv, offline pip install,
                          xlwings version + DLL check, add-in into XLSTART; re-running upgrades
      安装说明.txt         prerequisites, Mark of the Web, Trusted Locations, locked VBA access
      dtg_xl.xlam         the 绩效评价 add-in (Interpreter_Win = the venv's python.exe)
      dtg.xlsm, dtg.py    the standalone macro workbook (same Interpreter_Win) and its module
      评价工作簿-示例.xlsx  a plain workbook (2020 example) for the add-in
      wheelhouse/         win_amd64 wheels for CPython 3.11 and 3.12 + the dtg_xl wheel,
                          requirements-cp311.txt / -cp312.txt (exact pins)

Resolution for Windows: ``pip download --platform win_amd64`` evaluates environment markers for
the build host, so on Linux it drops ``pywin32`` (xlwings: ``sys_platform == "win32"``) and
``colorama`` (tqdm: ``platform_system == "Windows"``).  ``uv pip compile --python-platform
x86_64-pc-windows-msvc --python-version 3.X`` resolves with Windows markers (uv is a well-kept
resolver; no resolver is written here), with ``--exclude-newer`` fixed so the same dtg_xl gives
the same pins; ``pip download --no-deps --platform win_amd64 --python-version 3.X
--only-binary=:all:`` then fetches exactly those wheels, and ``pip wheel`` builds dtg_xl with
``SOURCE_DATE_EPOCH`` set (deterministic zip).  These three steps need the network (PyPI); without
it the build stops with a Chinese message naming the step.  Everything else is generated here
and is deterministic (tests/test_bundle.py builds twice and compares every file).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dtg_xl.errors import DtgError

PYTHONS = ("3.11", "3.12")
RESOLVED_AS_OF = "2026-11-30T00:00:00Z"  # uv --exclude-newer: same pins on every build
SOURCE_DATE_EPOCH = "1735689600"  # 2025-01-01: the dtg_xl wheel's zip timestamps
WHEELHOUSE = "wheelhouse"
INSTALL_CMD = "安装.cmd"
README_TXT = "安装说明.txt"
EXAMPLE_XLSX = "评价工作簿-示例.xlsx"
UV_PLATFORM = "x86_64-pc-windows-msvc"
PIP_PLATFORM = "win_amd64"


class BundleError(DtgError):
    """The bundle cannot be built; the message is for the user."""


def tag(python: str) -> str:
    return "cp" + python.replace(".", "")


def requirements_name(python: str) -> str:
    return f"requirements-{tag(python)}.txt"


def source_root() -> Path:
    """The dtg_xl checkout this module runs from (the wheel is built from it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "dtg_xl").is_dir():
        raise BundleError(f"找不到 dtg_xl 的源码（pyproject.toml）：请在 dtg_xl 源码目录的环境中运行（{root}）")
    return root


def _env() -> dict[str, str]:
    """pip/uv without this machine's index settings (find-links, constraints, extra indexes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if os.environ.get("PIP_CERT"):
        env["PIP_CERT"] = os.environ["PIP_CERT"]
        env["SSL_CERT_FILE"] = os.environ["PIP_CERT"]
    env["UV_NO_CONFIG"] = "1"
    return env


def _run(step: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=kw.pop("env", _env()), **kw)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-800:]
        raise BundleError(f"{step}失败：{tail}")
    return proc


def uv_executable() -> str:
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise BundleError("需要 uv 来按 Windows 环境解析依赖：pip install uv（或 pip install -e '.[test]'）") from exc
    return find_uv_bin()


def _where(find_links: Path | None) -> str:
    return f"（离线，来自 {find_links}）" if find_links else "（此步骤需要联网访问 PyPI）"


def _index(find_links: Path | None) -> list[str]:
    return ["--no-index", "--find-links", str(find_links)] if find_links else ["--index-url", "https://pypi.org/simple"]


def resolve(python: str, root: Path, find_links: Path | None = None) -> list[str]:
    """Exact pins (name==version) of dtg_xl's closure on win_amd64 CPython `python`
    (from PyPI, or offline from a folder of wheels)."""
    proc = _run(f"按 Windows / Python {python} 解析依赖{_where(find_links)}", [
        uv_executable(), "pip", "compile", str(root / "pyproject.toml"), "--python-platform", UV_PLATFORM,
        "--python-version", python, "--only-binary", ":all:", "--exclude-newer", RESOLVED_AS_OF,
        "--no-header", "--no-annotate", "--quiet", *_index(find_links)])
    pins = [line.strip() for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#")]
    if not any(p.startswith("xlwings==") for p in pins):
        raise BundleError(f"解析结果中没有 xlwings：{pins}")
    return pins


def download(pins: list[str], python: str, dest: Path, find_links: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="dtg-req-") as tmp:
        req = Path(tmp) / "req.txt"
        req.write_text("\n".join(pins) + "\n", encoding="utf-8")
        _run(f"下载 Windows / Python {python} 的 wheel{_where(find_links)}", [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--platform", PIP_PLATFORM, "--python-version", python, "--implementation", "cp",
            *_index(find_links), "-r", str(req), "-d", str(dest), "--quiet"])


def build_wheel(root: Path, dest: Path) -> Path:
    """The dtg_xl wheel, built from a clean copy of the tracked sources (no build/ in the checkout)."""
    with tempfile.TemporaryDirectory(prefix="dtg-src-") as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                        ".pytest_cache", ".hypothesis", "tests", "bench", "docs", "workbook", "templates")
        shutil.copytree(root, src, ignore=ignore)
        out = Path(tmp) / "dist"
        env = {**_env(), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        _run("构建 dtg_xl 的 wheel（此步骤需要联网下载 setuptools）", [sys.executable, "-m", "pip", "wheel", "--no-deps", "--index-url",
                                   "https://pypi.org/simple", "-w", str(out), str(src), "--quiet"], env=env)
        wheels = list(out.glob("dtg_xl-*.whl"))
        if len(wheels) != 1:
            raise BundleError(f"构建 dtg_xl 的 wheel 失败：{[p.name for p in out.iterdir()]}")
        target = dest / wheels[0].name
        shutil.copyfile(wheels[0], target)
        return target


def xlwings_version() -> str:
    from dtg_xl.doors.workbook_build import xlwings_version as version

    return version()


def dtg_version() -> str:
    import dtg_xl

    return dtg_xl.__version__


def bundle_windows(out_dir: str | Path, find_links: str | Path | None = None) -> Path:
    """Build the bundle folder at out_dir (must not exist, or be empty).

    find_links: resolve and fetch the Windows wheels offline from this folder (e.g. an earlier
    bundle's wheelhouse) instead of PyPI; the dtg_xl wheel is always built from the sources."""
    find_links = Path(find_links) if find_links else None
    from dtg_xl.doors import addin_build, windows_scripts
    from dtg_xl.doors.workbook_build import build_workbook
    from dtg_xl.delivery.template import write_template
    from dtg_xl.xlsx.atomic import atomic_write_bytes

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"输出文件夹已存在且不为空：{out}（请指定一个新文件夹）")
    if not out.parent.is_dir():
        raise BundleError(f"上级文件夹不存在：{out.parent}")
    root = source_root()
    with tempfile.TemporaryDirectory(prefix=".dtg-bundle-", dir=out.parent) as tmp:
        stage = Path(tmp) / "bundle"
        wheels = stage / WHEELHOUSE
        wheels.mkdir(parents=True)
        build_wheel(root, wheels)
        for python in PYTHONS:
            pins = resolve(python, root, find_links)
            download(pins, python, wheels, find_links)
            reqs = sorted(pins + [f"dtg_xl=={dtg_version()}"], key=str.lower)
            (wheels / requirements_name(python)).write_text("\n".join(reqs) + "\n", encoding="utf-8")
        addin_build.build_addin(stage / f"{addin_build.NAME}.xlam")
        build_workbook(stage / "dtg.xlsm", interpreter=addin_build.INTERPRETER_WIN)
        write_template(stage / EXAMPLE_XLSX, example="dtg-2020")
        atomic_write_bytes(stage / INSTALL_CMD, windows_scripts.install_cmd(xlwings_version()))
        atomic_write_bytes(stage / README_TXT, windows_scripts.readme_txt(xlwings_version()))
        if out.exists():
            out.rmdir()
        stage.rename(out)
    return out
