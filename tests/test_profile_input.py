"""Issue 14, item 20: a profile file is input like a workbook — validated, with a Chinese
message naming the file and line, whether it comes from --profile or from 参数!评价方案."""
from __future__ import annotations

import pytest

from helpers import edit_cells, run_cli

GOOD = """name = "my-city"
title = "某市评价方案"
weighting = "逐级累加"
full_marks = 100

[[grades]]
name = "优"
min = 90
[[grades]]
name = "良"
min = {low}
[[grades]]
name = "差"
min = 0
"""


def _evaluate(path, capsys, *extra):
    return run_cli(["evaluate", path, "-o", path.with_name("o.xlsx"), *extra], capsys)


@pytest.mark.parametrize("content,expected", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "第1行：不是 UTF-8 文本"),
    (GOOD.replace("min = {low}", "min = ").encode(), "第11行第7列：TOML 格式错误"),
    (GOOD.format(low='"x"').encode(), "第11行min 第2个等级的下限应为有限数字，实际为“x”"),
    (GOOD.format(low="nan").encode(), "第11行min 第2个等级的下限应为有限数字，实际为nan"),
    (GOOD.format(low=80).replace('weighting = "逐级累加"', "weighting = 3").encode(), "第3行weighting 应为文字"),
    (GOOD.format(low=90).encode(), "有两个等级的下限都是90"),
    (GOOD.format(low=120).encode(), "第11行min 第2个等级的下限120应在0到总分100之间"),
])
def test_bad_profile_files_are_refused_with_file_and_line(example_copy, tmp_path, capsys, content, expected):
    profile = tmp_path / "my-city.toml"
    profile.write_bytes(content)
    code, out, err = _evaluate(example_copy, capsys, "--profile", profile)
    assert code == 2, err
    assert "评价方案文件“my-city.toml”" in err and expected in err, err
    assert "Traceback" not in err and "内部错误" not in err and "TOMLDecodeError" not in err


def test_a_good_profile_file_is_used(example_copy, tmp_path, capsys):
    profile = tmp_path / "my-city.toml"
    profile.write_text(GOOD.format(low=80), encoding="utf-8")
    code, out, err = _evaluate(example_copy, capsys, "--profile", profile)
    assert code == 0, err
    assert "等次：优（评价方案 my-city）" in out


def test_the_workbook_names_a_bad_file(example_copy, tmp_path, capsys):
    profile = tmp_path / "bad.toml"
    profile.write_text(GOOD.format(low="nan"), encoding="utf-8")
    edit_cells(example_copy, {"参数": {"B4": str(profile)}})
    code, out, err = _evaluate(example_copy, capsys)
    assert code == 2
    assert "参数!B4：评价方案文件“bad.toml”有1个问题：第11行min" in err, err


def test_names_stay_in_the_profiles_folder_and_paths_need_toml(example_copy, tmp_path, capsys):
    (tmp_path / "evil.toml").write_text(GOOD.format(low=80), encoding="utf-8")
    for given in (str(tmp_path / "evil"), "../../../" + str(tmp_path / "evil")):
        code, out, err = _evaluate(example_copy, capsys, "--profile", given)
        assert code == 2 and "应为方案名" in err and "以 .toml 结尾" in err, err
    code, out, err = _evaluate(example_copy, capsys, "--profile", str(tmp_path / "none.toml"))
    assert code == 2 and "找不到评价方案文件" in err


def test_a_profile_file_is_parsed_once_per_content_and_an_edit_is_seen(tmp_path):
    """load_profile caches by the file's bytes (a portfolio worker loads the same profile for
    every project): the same content gives the same object, an edited file its new rules."""
    from dtg_xl.core.profiles import load_profile

    path = tmp_path / "my-city.toml"
    path.write_text(GOOD.format(low=80), encoding="utf-8")
    first = load_profile(str(path))
    assert load_profile(str(path)) is first
    path.write_text(GOOD.format(low=75), encoding="utf-8")
    edited = load_profile(str(path))
    assert edited is not first and dict(edited.grades)["良"] == 75
    path.write_text(GOOD.format(low="oops"), encoding="utf-8")
    with pytest.raises(Exception, match="my-city.toml"):
        load_profile(str(path))
