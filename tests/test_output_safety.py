"""Issue 14 items 16–19 and 21–30: outputs never destroy inputs or escape their folder; links,
kills and full disks leave nothing half-written; messages are Chinese and name the cell."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from dtg_xl.doors.cli import COMMANDS, build_parser
from dtg_xl.xlsx.atomic import TEMP_TAG, atomic_output, safe_filename, same_file

from helpers import edit_cells, run_cli

CLI = [sys.executable, "-m", "dtg_xl"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def evaluated(example_path, tmp_path, capsys) -> Path:
    out = tmp_path / "R.xlsx"
    assert run_cli(["evaluate", example_path, "-o", out], capsys)[0] == 0
    return out


# ---------------------------------------------------------------- 16: output is an input
def _spellings(path: Path, tmp_path: Path) -> dict[str, Path]:
    hard = tmp_path / "hard.xlsx"
    os.link(path, hard)
    soft = tmp_path / "soft.xlsx"
    soft.symlink_to(path)
    (tmp_path / "sub").mkdir(exist_ok=True)
    return {"same": path, "dotted": tmp_path / "sub" / ".." / path.name, "hard": hard, "soft": soft}


@pytest.mark.parametrize("verb", ["evaluate", "report", "mail", "export", "allocate", "compare", "consolidate"])
@pytest.mark.parametrize("spelling", ["same", "dotted", "hard", "soft"])
def test_every_verb_refuses_an_output_that_is_an_input(evaluated, tmp_path, capsys, verb, spelling):
    out = _spellings(evaluated, tmp_path)[spelling]
    before = sha(evaluated)
    args = {"compare": ["compare", evaluated, evaluated], "consolidate": ["consolidate", evaluated, evaluated]}.get(
        verb, [verb, evaluated])
    code, _, err = run_cli([*args, "-o", out], capsys)
    assert code == 2, err
    assert "是输入文件之一" in err
    assert sha(evaluated) == before and not (spelling == "soft" and not out.is_symlink())


def test_same_file_helper():
    assert not same_file("/no/such/a", "/no/such/b")
    assert same_file("/tmp", "/tmp/../tmp")


# ---------------------------------------------------------------- 17: file names from user text
@pytest.mark.parametrize("text,want", [("../../x", "x"), ("a/b\\c", "a_b_c"), ("CON", "CON_"), ("nul.txt", "nul.txt_"),
                                       ("com1", "com1_"), ("a\x07b\r\nc", "a_b_c"), ("  .hidden.  ", "hidden"),
                                       ("", "未命名"), ("..", "未命名"), ("评价 报告", "评价_报告"), ("a:b*c?d", "a_b_c_d")])
def test_safe_filename(text, want):
    assert safe_filename(text) == want


def test_safe_filename_bounds_length():
    assert len(safe_filename("很长" * 200)) <= 80


def test_mail_report_name_from_project_stays_in_its_folder(example_copy, tmp_path, capsys):
    edit_cells(example_copy, {"参数": {"B2": "../../逃逸/x"}})
    assert run_cli(["evaluate", example_copy, "--in-place"], capsys)[0] == 0
    out = tmp_path / "d.eml"
    code, stdout, err = run_cli(["mail", example_copy, "-o", out, "--report"], capsys)
    assert code == 0, err
    names = re.findall(r"filename\*?=\"?([^\";\r\n]+)", out.read_text("utf-8", "replace"))
    assert names and not any("/" in n or ".." in n for n in names)
    assert not (tmp_path.parent / "逃逸").exists()


def test_unit_forms_names_stay_in_the_folder(example_copy, tmp_path, capsys):
    wb = openpyxl.load_workbook(example_copy)
    ws = wb["单位填报"]
    for r, name in zip(range(2, 7), ["../../x", "CON", "a/b", "tab\there", "新\r\n单位"]):
        ws.cell(r, 2).value = name
    wb.save(example_copy)
    out = tmp_path / "forms"
    code, stdout, err = run_cli(["unit-forms", example_copy, "-o", out], capsys)
    assert code == 0, err
    made = sorted(p.name for p in out.iterdir())
    assert len(made) == 9 and all(p.parent == out for p in out.iterdir())
    assert "02-CON_.xlsx" in made and not list(tmp_path.glob("x*"))


# ---------------------------------------------------------------- 18: --in-place on a link
def test_in_place_on_a_symlink_writes_through(example_path, tmp_path, capsys):
    target = tmp_path / "real.xlsx"
    shutil.copyfile(example_path, target)
    link = tmp_path / "link.xlsx"
    link.symlink_to(target.name)
    before = sha(target)
    assert run_cli(["evaluate", link, "--in-place"], capsys)[0] == 0
    assert link.is_symlink() and os.readlink(link) == target.name
    assert sha(target) != before  # the target holds the results
    assert run_cli(["verify", target], capsys)[0] == 0


# ---------------------------------------------------------------- 19: kills and stale temp files
def test_temp_files_are_named_and_a_dead_runs_leftover_is_removed(tmp_path):
    target = tmp_path / "out.xlsx"
    with atomic_output(target) as tmp:
        assert TEMP_TAG in tmp.name and tmp.name.startswith(".out.xlsx") and tmp.parent == tmp_path
        Path(tmp).write_bytes(b"x")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.xlsx{TEMP_TAG}{dead.stdout.strip()}-abcd1234.tmp"
    stale.write_bytes(b"half")
    alive = tmp_path / f".out.xlsx{TEMP_TAG}{os.getppid()}-abcd1234.tmp"  # a live process's: kept
    alive.write_bytes(b"busy")
    with atomic_output(target) as tmp:
        Path(tmp).write_bytes(b"y")
    assert not stale.exists() and alive.exists()
    assert target.read_bytes() == b"y"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_kill_during_the_write_leaves_no_temp_file(example_path, tmp_path, sig):
    src = tmp_path / "in.xlsx"
    shutil.copyfile(example_path, src)
    out = tmp_path / "out.xlsx"
    for delay in (0.3, 0.5, 0.7, 0.9, 1.1, 1.4):
        proc = subprocess.Popen([*CLI, "evaluate", str(src), "-o", str(out), "--charts"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait()
        if sig == signal.SIGTERM:
            assert not list(tmp_path.glob(".*.tmp")), f"temp file left after SIGTERM at {delay}s"
    # SIGKILL cannot be caught: the next run removes what a killed one left
    proc = subprocess.run([*CLI, "evaluate", str(src), "-o", str(out)], capture_output=True, timeout=300)
    assert proc.returncode == 0
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- 21, 22: hostile text in charts and report
def test_dollar_signs_in_unit_names_are_text(example_copy, tmp_path, capsys):
    edit_cells(example_copy, {"单位填报": {"B2": "$\\frac{1}{0$", "B3": "$x^2$海关"}})
    code, _, err = run_cli(["evaluate", example_copy, "-o", tmp_path / "c.xlsx", "--charts"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["report", example_copy, "-o", tmp_path / "r.docx"], capsys)
    assert code == 0, err


def test_control_characters_in_reasons_do_not_break_the_report(example_copy, tmp_path, capsys):
    wb = openpyxl.load_workbook(example_copy)
    ws = wb["指标体系"]
    col = next(c for c in range(1, ws.max_column + 1) if ws.cell(1, c).value == "扣分原因")
    ws.cell(4, col).value = "原因_x0007_有_x001B_控制字符"  # how Excel stores BEL and ESC in a cell
    wb.save(example_copy)
    out = tmp_path / "r.docx"
    code, _, err = run_cli(["report", example_copy, "-o", out], capsys)
    assert code == 0, err
    with zipfile.ZipFile(out) as zf:
        assert "原因有控制字符".encode() in zf.read("word/document.xml")


# ---------------------------------------------------------------- 23: CRLF in mail headers
def test_line_breaks_in_project_or_recipient_name_the_cell(example_copy, tmp_path, capsys):
    assert run_cli(["evaluate", example_copy, "--in-place"], capsys)[0] == 0
    code, _, err = run_cli(["mail", example_copy, "-o", tmp_path / "a.eml",
                            "--to", "a@example.cn\r\nBcc: evil@example.com"], capsys)
    assert code == 2 and "--to" in err and "换行" in err and "ValueError" not in err
    edit_cells(example_copy, {"参数": {"B2": "项目\r\nBcc: evil@example.com"}})
    assert run_cli(["evaluate", example_copy, "--in-place"], capsys)[0] == 0
    code, _, err = run_cli(["mail", example_copy, "-o", tmp_path / "b.eml"], capsys)
    assert code == 2 and "参数!B2" in err and "换行" in err
    assert not (tmp_path / "a.eml").exists() and not (tmp_path / "b.eml").exists()


# ---------------------------------------------------------------- 24: a full disk
def _limited(max_bytes: int):
    def pre():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return pre


@pytest.fixture
def small_disk(tmp_path):
    """A real 48 KB tmpfs: room for a few unit forms, not for nine (needs root to mount)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_during_unit_forms_leaves_no_half_folder(example_copy, small_disk, tmp_path):
    subprocess.run([*CLI, "unit-forms", str(example_copy), "-o", str(tmp_path / "warm")], check=True,
                   capture_output=True)  # the key is in the master now; the next run writes forms only
    before = sha(example_copy)
    proc = subprocess.run([*CLI, "unit-forms", str(example_copy), "-o", str(small_disk / "forms")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "磁盘空间不足" in proc.stderr and "内部错误" not in proc.stderr
    assert list(small_disk.iterdir()) == []  # no forms folder with half the forms, no temp files
    assert sha(example_copy) == before


def test_full_disk_during_new_leaves_nothing(tmp_path):
    proc = subprocess.run([*CLI, "new", str(tmp_path / "n.xlsx"), "--example", "dtg-2020"], capture_output=True,
                          text=True, preexec_fn=_limited(9000), timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "内部错误" not in proc.stderr and "未写入" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 25: argparse in Chinese
@pytest.mark.parametrize("argv,want", [([], "缺少必需的参数：命令"), (["frobnicate"], "无效的选择“frobnicate”"),
                                       (["evaluate"], "缺少必需的参数：工作簿"),
                                       (["consolidate", "a", "b", "--jobs", "x"], "“x”不是有效的整数"),
                                       (["evaluate", "a.xlsx", "--bogus"], "无法识别的参数：--bogus")])
def test_parse_errors_are_chinese(argv, want, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(argv, capsys)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert want in err and "用法：" in err
    assert not re.search(r"usage:|error:|the following|invalid choice|required|unrecognized", err)


@pytest.mark.parametrize("verb", [None, "evaluate", "consolidate", "mail", "export", "compare", "unit-forms"])
def test_help_is_chinese(verb, capsys):
    with pytest.raises(SystemExit):
        run_cli(["-h"] if verb is None else [verb, "-h"], capsys)
    out = capsys.readouterr().out
    assert "用法：" in out and "显示此帮助并退出" in out
    assert not re.search(r"usage:|show this help|positional arguments|options:|OUTPUT|PROFILE", out)


def _commands(parser) -> dict:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("verb", [name for name, _, _ in COMMANDS])
def test_a_run_builds_only_its_command_and_reads_it_as_the_full_parser_does(verb):
    """main() builds the named command's arguments only (the others cost ~10 ms a run): its help,
    arguments and defaults are the full parser's."""
    built = _commands(build_parser(verb))
    assert list(built) == [verb]
    alone, full = built[verb], _commands(build_parser())[verb]
    assert alone.format_help() == full.format_help()
    assert [a.option_strings or a.dest for a in alone._actions] == [a.option_strings or a.dest for a in full._actions]
    assert alone._defaults == full._defaults


# ---------------------------------------------------------------- 26: a stale matplotlib font cache
def test_cjk_font_found_after_a_stale_font_cache(example_path, tmp_path):
    """matplotlib's font list built before the CJK font was installed: the CJK entries are taken
    out of a real cache file, as if it predated the install."""
    cfg = tmp_path / "mplcfg"
    cfg.mkdir()
    env = {**os.environ, "MPLCONFIGDIR": str(cfg)}
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, check=True)
    cache = next(cfg.glob("fontlist-*.json"))
    data = json.loads(cache.read_text())
    data["ttflist"] = [f for f in data["ttflist"] if "CJK" not in f["name"] and "cjk" not in f["fname"].lower()]
    cache.write_text(json.dumps(data))
    proc = subprocess.run([*CLI, "report", str(example_path), "-o", str(tmp_path / "r.docx")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "未找到中文字体" not in proc.stderr


# ---------------------------------------------------------------- 27: unfinished reports
def test_mail_report_says_what_is_unfinished(example_copy, tmp_path, capsys):
    wb = openpyxl.load_workbook(example_copy)
    ws = wb["报告文字"]
    for r in range(2, 6):
        ws.cell(r, 2).value = None
    wb.save(example_copy)
    assert run_cli(["evaluate", example_copy, "--in-place"], capsys)[0] == 0
    out = tmp_path / "d.eml"
    code, stdout, err = run_cli(["mail", example_copy, "-o", out, "--report"], capsys)
    assert code == 0, err
    m = re.search(r"还有(\d+)处【待填写】", stdout)
    assert m and int(m.group(1)) >= 4
    import email
    from email import policy

    msg = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert f"还有{m.group(1)}处【待填写】" in msg.get_body(("plain",)).get_content()
    code, _, err = run_cli(["mail", example_copy, "-o", tmp_path / "e.eml", "--report", "--require-finished"], capsys)
    assert code == 2 and "尚未完成" in err and not (tmp_path / "e.eml").exists()


# ---------------------------------------------------------------- 28: compare warnings
def test_compare_warns_about_the_same_workbook_and_reversed_years(example_copy, tmp_path, capsys):
    code, out, _ = run_cli(["compare", example_copy, example_copy, "-o", tmp_path / "c.xlsx"], capsys)
    assert "同一个工作簿" in out
    later = tmp_path / "2021.xlsx"
    shutil.copyfile(example_copy, later)
    edit_cells(later, {"参数": {"B3": 2021}})
    code, out, _ = run_cli(["compare", later, example_copy, "-o", tmp_path / "d.xlsx"], capsys)
    assert "放反" in out and "2021" in out


# ---------------------------------------------------------------- 29: a closed pipe
def test_closed_stdout_is_not_an_error(evaluated):
    proc = subprocess.Popen([*CLI, "verify", str(evaluated)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader (`head -1`) has gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert err == ""


# ---------------------------------------------------------------- 30: default outputs
def test_mail_and_export_have_default_outputs(evaluated, capsys):
    assert run_cli(["export", evaluated], capsys)[0] == 0
    assert (evaluated.parent / "R-邮寄副本.xlsx").is_file()
    assert run_cli(["mail", evaluated], capsys)[0] == 0
    assert (evaluated.parent / "R-邮件草稿.eml").is_file()
