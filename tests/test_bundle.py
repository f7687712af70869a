"""``dtg-xl bundle-windows``: the offline Windows install folder.

Tier: building the bundle downloads the win_amd64 wheels from PyPI (about 110 MB).  The bundle is
built once per test session (``bundle`` fixture); without a connection to pypi.org every test that
needs it skips and says so.  What is tested here, on Linux:

* the wheelhouse resolves offline for win_amd64 CPython 3.11 and 3.12 — with pip
  (``pip install --dry-run --platform win_amd64 --only-binary=:all: --no-index --find-links``)
  and with Windows markers (uv, ``--python-platform x86_64-pc-windows-msvc``), so pywin32 and
  colorama must be in it;
* the Windows xlwings wheel puts both DLLs in the venv root, which is ``ParentFolder(ParentFolder
  (Interpreter_Win))``, the second folder xlwings' ``XLPyLoadDLL`` tries;
* 安装.cmd, the add-in and dtg.xlsm name the same venv and python.exe;
* a second build (offline from the first bundle's wheels) is identical file for file.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from dtg_xl.doors import addin_build, bundle, windows_scripts

from helpers import ROOT, run_cli
from helpers import sheet_values, vba_modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

XLWINGS = "0.37.8"


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    if not pypi_reachable():
        pytest.skip("dtg-xl bundle-windows downloads the win_amd64 wheels from PyPI: pypi.org is not reachable")
    return bundle.bundle_windows(tmp_path_factory.mktemp("bundle") / "dtg_xl-windows")


def wheels(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / bundle.WHEELHOUSE).glob("*.whl"))


def pins(folder: Path, python: str) -> dict[str, str]:
    text = (folder / bundle.WHEELHOUSE / bundle.requirements_name(python)).read_text(encoding="utf-8")
    return dict(line.lower().replace("_", "-").split("==") for line in text.split())


# ---------------------------------------------------------------- the folder
def test_bundle_has_every_part(bundle_dir):
    names = sorted(p.name for p in bundle_dir.iterdir())
    assert names == sorted([bundle.INSTALL_CMD, bundle.README_TXT, bundle.EXAMPLE_XLSX, "dtg.xlsm", "dtg.py",
                            "dtg_xl.xlam", bundle.WHEELHOUSE])
    assert (bundle_dir / "dtg_xl.xlam").read_bytes() == (ROOT / "workbook" / "dtg_xl.xlam").read_bytes()
    assert (bundle_dir / "dtg.py").read_bytes() == (ROOT / "workbook" / "dtg.py").read_bytes()


@pytest.mark.parametrize("python", bundle.PYTHONS)
def test_wheelhouse_has_the_windows_only_dependencies(bundle_dir, python):
    names = wheels(bundle_dir)
    tag = bundle.tag(python)
    assert f"pywin32-312-{tag}-{tag}-win_amd64.whl" in names or any(
        n.startswith("pywin32-") and f"-{tag}-{tag}-win_amd64" in n for n in names)
    assert any(n.startswith("colorama-") for n in names)
    assert f"xlwings-{XLWINGS}-{tag}-{tag}-win_amd64.whl" in names
    assert any(n.startswith("dtg_xl-") and n.endswith("-py3-none-any.whl") for n in names)
    found = pins(bundle_dir, python)
    assert found["xlwings"] == XLWINGS and "pywin32" in found and "colorama" in found and "dtg-xl" in found
    platform_wheels = [n for n in names if not n.endswith("-none-any.whl")]
    assert all(n.endswith("-win_amd64.whl") for n in platform_wheels), platform_wheels


@pytest.mark.parametrize("python", bundle.PYTHONS)
def test_wheelhouse_installs_offline_with_pip(bundle_dir, python, tmp_path):
    """What 安装.cmd runs, as far as pip can emulate win_amd64 on Linux (markers stay Linux's)."""
    wh = bundle_dir / bundle.WHEELHOUSE
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--platform", "win_amd64",
                           "--python-version", python, "--implementation", "cp", "--only-binary=:all:",
                           "--no-index", "--find-links", str(wh), "--target", str(tmp_path / "t"),
                           # pip checks Requires-Python against the host's 3.11 when installing; the cp312
                           # wheel tags already hold every platform wheel to --python-version
                           *(["--ignore-requires-python"] if python != f"{sys.version_info[0]}.{sys.version_info[1]}" else []),
                           "-r", str(wh / bundle.requirements_name(python)), "--report", str(report), "--quiet"],
                          capture_output=True, text=True, env=bundle._env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    installed = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                 for i in json.loads(report.read_text())["install"]}
    assert installed == pins(bundle_dir, python)
    assert {"pywin32", "colorama", "xlwings", "dtg-xl"} <= set(installed)


@pytest.mark.parametrize("python", bundle.PYTHONS)
def test_wheelhouse_is_the_complete_closure_for_windows_markers(bundle_dir, python):
    """Offline resolution of dtg_xl's dependencies with Windows markers, from the wheelhouse only."""
    resolved = bundle.resolve(python, bundle.source_root(), bundle_dir / bundle.WHEELHOUSE)
    expected = {k: v for k, v in pins(bundle_dir, python).items() if k != "dtg-xl"}
    assert dict(p.lower().replace("_", "-").split("==") for p in resolved) == expected


def test_a_missing_windows_wheel_fails_the_offline_resolution(bundle_dir, tmp_path):
    """The closure test can fail: without pywin32 the Windows resolution has no solution."""
    import shutil

    wh = tmp_path / "wh"
    shutil.copytree(bundle_dir / bundle.WHEELHOUSE, wh)
    for p in wh.glob("pywin32-*.whl"):
        p.unlink()
    with pytest.raises(bundle.BundleError, match="pywin32"):
        bundle.resolve("3.11", bundle.source_root(), wh)


# ---------------------------------------------------------------- DLLs where the VBA looks
def test_xlwings_wheel_puts_both_dlls_where_the_vba_looks(bundle_dir):
    wheel = bundle_dir / bundle.WHEELHOUSE / f"xlwings-{XLWINGS}-cp311-cp311-win_amd64.whl"
    with zipfile.ZipFile(wheel) as z:
        data = [n for n in z.namelist() if n.startswith(f"xlwings-{XLWINGS}.data/data/")]
    assert sorted(Path(n).name for n in data) == [f"xlwings32-{XLWINGS}.dll", f"xlwings64-{XLWINGS}.dll"]
    assert all(n.count("/") == 2 for n in data)  # directly in the "data" scheme path
    # a Windows venv: scripts = {base}\Scripts, data = {base} (sysconfig's nt_venv scheme)
    venv = "C:/Users/clerk/AppData/Local/dtg_xl/venv"
    paths = sysconfig.get_paths("nt_venv", vars={"base": venv, "platbase": venv,
                                                "installed_base": venv, "installed_platbase": venv})
    interpreter = Path(paths["scripts"]) / "python.exe"
    assert Path(paths["data"]) == interpreter.parent.parent  # XLPyLoadDLL: ParentFolder(ParentFolder(PYTHON_WIN))
    lib = vba_modules(ROOT / "workbook" / "dtg_xl.xlam")["xlwings.bas"]
    assert "LoadLibrary(ParentFolder(ParentFolder(PYTHON_WIN)) + \"\\\" + XLPyDLLName)" in lib
    assert f'Const XLPyDLLName As String = "xlwings64-{XLWINGS}.dll"' in lib
    assert f'Const XLPyDLLName As String = "xlwings32-{XLWINGS}.dll"' in lib
    cmd = (bundle_dir / bundle.INSTALL_CMD).read_text(encoding="utf-8")
    assert r'if not exist "%VENV%\xlwings64-%XLV%.dll"' in cmd and r'if not exist "%VENV%\xlwings32-%XLV%.dll"' in cmd


# ---------------------------------------------------------------- 安装.cmd, the add-in and dtg.xlsm agree
def cmd_vars(text: str) -> dict[str, str]:
    return dict(re.findall(r'^set "(\w+)=([^"]*)"', text, re.M))


def test_install_cmd_and_workbooks_agree_on_paths(bundle_dir):
    raw = (bundle_dir / bundle.INSTALL_CMD).read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    text = raw.decode("utf-8")
    assert text.splitlines()[:2] == ["@echo off", "chcp 65001 >nul"]
    v = cmd_vars(text)
    assert v["VENV"] == addin_build.VENV and v["PY"] == r"%VENV%\Scripts\python.exe"
    python_exe = v["PY"].replace("%VENV%", v["VENV"])
    assert python_exe == addin_build.INTERPRETER_WIN
    addin_conf = {r[0]: r[1] for r in sheet_values(bundle_dir / "dtg_xl.xlam")[addin_build.CONF_SHEET] if r[0]}
    xlsm_conf = {r[0]: r[1] for r in sheet_values(bundle_dir / "dtg.xlsm")["xlwings.conf"] if r and r[0]}
    assert addin_conf["Interpreter_Win"] == xlsm_conf["Interpreter_Win"] == python_exe
    assert v["XLV"] == XLWINGS and v["ADDIN"] == "dtg_xl.xlam" and v["XLSTART"] == windows_scripts.XLSTART
    assert v["WH"] == r"%HERE%wheelhouse"
    for python in bundle.PYTHONS:
        assert f'set "TAG={bundle.tag(python)}"' in text
        assert (bundle_dir / bundle.WHEELHOUSE / bundle.requirements_name(python)).is_file()
    assert r'-r "%WH%\requirements-%TAG%.txt"' in text and "--no-index --find-links" in text
    assert "--force-reinstall --no-deps dtg_xl" in text  # a re-run replaces dtg_xl even at the same version
    assert r'copy /Y "%HERE%%ADDIN%" "%XLSTART%\%ADDIN%"' in text
    assert r'"%PY%" -m dtg_xl.doors.addin_udfs "%XLSTART%\%ADDIN%"' in text
    import dtg_xl.doors.addin_udfs  # noqa: F401 - the module the script runs exists


def test_install_cmd_blocks_have_no_ascii_parentheses_in_echo():
    """cmd.exe ends an if (...) block at the first ')' even inside an echo."""
    text = windows_scripts.install_cmd(XLWINGS).decode("utf-8")
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if depth and stripped.lower().startswith("echo"):
            assert "(" not in stripped and ")" not in stripped, line
        depth += stripped.endswith("(") - (stripped == ")")
    assert depth == 0


def test_readme_names_prerequisite_motw_trusted_locations_and_vba_policy(bundle_dir):
    raw = (bundle_dir / bundle.README_TXT).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    for needle in ("python.org", "不需要管理员", "Mark of the Web", "解除锁定", "Unblock-File", "受信任位置",
                   "信任对 VBA 工程对象模型的访问", "组策略", addin_build.VENV, windows_scripts.XLSTART, XLWINGS):
        assert needle in text, needle


# ---------------------------------------------------------------- deterministic
def test_second_build_is_identical(bundle_dir, tmp_path):
    again = bundle.bundle_windows(tmp_path / "again", find_links=bundle_dir / bundle.WHEELHOUSE)
    files = sorted(p.relative_to(bundle_dir) for p in bundle_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    differ = [str(f) for f in files if (bundle_dir / f).read_bytes() != (again / f).read_bytes()]
    assert not differ


# ---------------------------------------------------------------- the CLI verb
def test_cli_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("x")
    code, _, err = run_cli(["bundle-windows", tmp_path], capsys)
    assert code == 2 and "输出文件夹已存在且不为空" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_cli_help_says_the_build_needs_the_network(capsys):
    with pytest.raises(SystemExit):
        run_cli(["bundle-windows", "--help"], capsys)
    assert "构建时需要联网" in capsys.readouterr().out
