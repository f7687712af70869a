"""A finance bureau's year: evaluate a whole portfolio of project workbooks (``dtg-xl portfolio``).

Every workbook goes through the one pipeline (``results.pipeline.evaluate_book`` on a FileBook,
read only: nothing is saved back), in worker processes on the available cores.  One file's
problems never stop the others: a file that cannot be read, has input problems, or even kills
its worker (the pool is rebuilt and the rest go on) becomes one ``Failure`` with its reason.

Resumable: each file is identified by the SHA-256 of its bytes (its *file fingerprint*); a
run keeps what it found in a cache beside the output (``<output>-缓存.json``, one JSON object,
written atomically) and a later run with the same engine version and profile override reuses
the entries of files whose bytes did not change, wherever they now are.  Two files whose
*data fingerprint* (``results.fingerprint``, the same as 汇总's 数据指纹) is equal are one
project submitted twice: the first (by path) counts, the others are listed as duplicates.

Workers are bounded (at most one per usable core, never more than the files) and die with the
parent: on Linux each asks the kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``;
no library does this portably, hence the few ctypes lines), and every worker also exits when
it finds itself re-parented.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dtg_xl.errors import DtgError

SUFFIXES = (".xlsx", ".xlsm")
CACHE_VERSION = 3  # 3: ``adjustments`` (评价调整数) beside ``losses``
MAX_PROBLEMS_SHOWN = 3  # per file on its line; the workbook lists them all


class PortfolioError(DtgError):
    """The run itself cannot start (no input found, an output that is an input …)."""


@dataclass
class Project:
    """One evaluated workbook: the row of 项目一览."""
    file: str
    file_fingerprint: str
    data_fingerprint: str | None = None
    name: str = ""
    year: str = ""
    unit: str = ""
    profile: str = ""
    total: float | None = None
    grade: str | None = None
    categories: list[dict] = field(default_factory=list)  # {"name", "points", "score"}
    budget: float | None = None  # 调整后预算（万元）
    spent: float | None = None
    execution_rate: float | None = None
    adjustments: int = 0  # evaluator adjustments: rows whose 评定得分 replaced the rule's result (汇总's 评价调整)
    losses: int = 0  # indicators scored below their points (失分指标)
    warnings: int = 0
    warning_texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # input problems, sheet!cell：message
    grades: list[str] = field(default_factory=list)  # the profile's grades, best first
    result_use: list[list] = field(default_factory=list)  # the profile's 结果应用: [grade, action, change %]

    @property
    def ok(self) -> bool:
        return not self.problems and self.total is not None


@dataclass
class Failure:
    file: str
    reason: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Portfolio:
    projects: list[Project]  # evaluated, ranked (best first)
    failures: list[Failure]  # not evaluated (unreadable or input problems), in path order
    duplicates: list[Failure]  # the same project again
    evaluated: int = 0  # evaluated in this run
    reused: int = 0  # taken from the cache (unchanged files)
    jobs: int = 1
    output: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


# ---------------------------------------------------------------- inputs
def collect(inputs: list[str | Path], exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Workbook files named or found (recursively) in the folders named, each once, sorted.
    Excel's lock files (``~$…``) and hidden files are skipped, as are the ``exclude`` paths."""
    out: dict[Path, Path] = {}
    skip = {p.resolve() for p in exclude}
    missing = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                           and not p.name.startswith(("~$", ".")))
        elif path.is_file():
            found = [path]
        else:
            missing.append(str(path))
            continue
        for p in found:
            key = p.resolve()
            if key not in skip:
                out.setdefault(key, p)
    if missing:
        raise PortfolioError(f"找不到文件或文件夹：{'、'.join(missing)}")
    return sorted(out.values(), key=lambda p: str(p))


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:24]


# ---------------------------------------------------------------- one file (in a worker)
def evaluate_file(path: str, profile: str | None = None, fp: str | None = None) -> dict:
    """Evaluate one workbook through the pipeline (nothing written); a Project as a dict, or
    ``{"file", "error"}`` when it cannot be read."""
    from dtg_xl.results.fingerprint import fingerprint
    from dtg_xl.results.layout import adjustments, losses
    from dtg_xl.results.pipeline import evaluate_book
    from dtg_xl.xlsx.books import FileBook
    from dtg_xl.xlsx.cells import cell_text

    fp = fp or file_fingerprint(Path(path))
    try:
        book = FileBook(path)
    except DtgError as exc:
        return {"file": path, "file_fingerprint": fp, "error": str(exc)}
    try:
        result = evaluate_book(book, profile=profile, write=False)  # nothing is saved: no result blocks
    except DtgError as exc:
        return {"file": path, "file_fingerprint": fp, "error": str(exc)}
    finally:
        book.close()
    model = result.model
    project = Project(file=path, file_fingerprint=fp)
    project.problems = [str(p) for p in result.errors]
    project.warning_texts = [str(p) for p in result.warnings]
    project.warnings = len(result.warnings)
    if model is not None:
        params = model.params
        project.name = cell_text(params.get("project"))
        project.year = _year(params.get("year"))
        project.profile = model.profile.name
        project.grades = [g for g, _ in model.profile.grades]
        project.result_use = [list(r) for r in model.profile.result_use]
        names = [u["name"] for u in model.units if u.get("name")]
        project.unit = names[0] + (f"等{len(names)}个单位" if len(names) > 1 else "") if names else ""
        project.data_fingerprint = fingerprint(model)
    if result.ok and model is not None:
        project.total, project.grade = result.total, result.grade
        project.categories = [{"name": c.name, "points": c.points, "score": c.score} for c in result.categories]
        project.adjustments = len(adjustments(result))
        project.losses = len(losses(result))
        if result.budget:
            b = result.budget
            project.budget, project.spent = b.adjusted, b.spent
            project.execution_rate = None if b.execution_rate != b.execution_rate else b.execution_rate
    return asdict(project)


def _year(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    from dtg_xl.xlsx.cells import cell_text

    return cell_text(value)


# ---------------------------------------------------------------- workers
def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def bounded_jobs(jobs: int, n_files: int) -> int:
    """0 = automatic; never more workers than usable cores or files."""
    cores = usable_cores()
    wanted = cores if jobs <= 0 else jobs
    return max(1, min(wanted, cores, n_files))


def _worker_init(parent: int) -> None:
    """Die with the parent (see the module docstring)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent went before the request took effect
        os._exit(1)


def _work(path: str, profile: str | None, fp: str, parent: int) -> dict:
    if os.getppid() != parent:
        os._exit(1)
    return evaluate_file(path, profile, fp)


def _run_all(todo: list[tuple[str, str]], profile: str | None, jobs: int, tick):
    """Yield one dict per file; a worker that dies takes only its own file with it."""
    if jobs <= 1:
        for path, fp in todo:
            yield evaluate_file(path, profile, fp)
            tick()
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    parent = os.getpid()
    pending = list(todo)
    while pending:
        retry = []
        with ProcessPoolExecutor(max_workers=min(jobs, len(pending)), initializer=_worker_init,
                                 initargs=(parent,)) as pool:
            futures = {pool.submit(_work, path, profile, fp, parent): (path, fp) for path, fp in pending}
            for fut in as_completed(futures):
                path, fp = futures[fut]
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    retry.append((path, fp))
                    continue
                yield out
                tick()
        if retry and (len(retry) == len(pending) or len(retry) == 1):
            # no progress: the first alone, so the file that kills its process is found and named
            yield _alone(*retry[0], profile)
            tick()
            retry = retry[1:]
        pending = retry


def _alone(path: str, fp: str, profile: str | None) -> dict:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            return pool.submit(_work, path, profile, fp, os.getpid()).result()
    except BrokenProcessPool:
        return {"file": path, "file_fingerprint": fp,
                "error": f"无法读取工作簿“{Path(path).name}”：读取时程序异常退出（文件可能已损坏或被篡改），"
                         "请在 Excel 中打开并另存后重试"}


# ---------------------------------------------------------------- the run
def cache_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}-缓存.json")


def _rules_digest(profile: str | None) -> str:
    """The profiles a cached entry was computed under (packaged ones and an override file): an
    edited 评价方案 — grades or 结果应用 — makes the cache stale, like a new engine version."""
    from importlib import resources

    digest = hashlib.sha256()
    folder = resources.files("dtg_xl.core") / "profiles"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
    if profile and Path(profile).is_file():
        digest.update(b"override\0" + Path(profile).read_bytes())
    return digest.hexdigest()[:24]


def _load_cache(path: Path | None, profile: str | None) -> dict[str, dict]:
    from dtg_xl.results.fingerprint import ENGINE

    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged cache only costs time
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("engine") != ENGINE \
            or data.get("profile") != profile or data.get("rules") != _rules_digest(profile) \
            or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _save_cache(path: Path, profile: str | None, entries: dict[str, dict]) -> None:
    from dtg_xl.results.fingerprint import ENGINE
    from dtg_xl.xlsx.atomic import atomic_write_bytes

    data = {"version": CACHE_VERSION, "engine": ENGINE, "profile": profile, "rules": _rules_digest(profile),
            "entries": entries}
    atomic_write_bytes(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def run_portfolio(inputs: list[str | Path], cache_file: str | Path | None = None, *, jobs: int = 0,
                  profile: str | None = None, resume: bool = True, progress: bool | None = None,
                  exclude: tuple[Path, ...] = ()) -> Portfolio:
    """Evaluate every workbook found in ``inputs`` (not the ``exclude`` paths), reusing and then
    updating ``cache_file`` (None: no cache).  The workbook is written by the door
    (``delivery.portfolio_book``), since delivery sits above results."""
    cache_file = Path(cache_file) if cache_file else None
    paths = collect(inputs, exclude=tuple(exclude) + ((cache_file,) if cache_file else ()))
    if not paths:
        raise PortfolioError("没有找到评价工作簿（.xlsx/.xlsm）")
    cache = _load_cache(cache_file, profile) if resume else {}
    todo, done = [], []
    for p in paths:
        try:
            fp = file_fingerprint(p)
        except OSError as exc:
            done.append({"file": str(p), "file_fingerprint": "", "error": f"无法读取文件“{p.name}”：{exc.strerror or exc}"})
            continue
        if fp in cache:
            done.append(cache[fp] | {"file": str(p)})
        else:
            todo.append((str(p), fp))
    reused = sum(1 for d in done if "error" not in d)
    jobs = bounded_jobs(jobs, len(todo)) if todo else 1
    bar = _bar(len(todo), progress)
    try:
        done += list(_run_all(todo, profile, jobs, bar.update if bar else (lambda n=1: None)))
    finally:
        if bar:
            bar.close()
    portfolio = assemble(done)
    portfolio.evaluated, portfolio.reused, portfolio.jobs = len(todo), reused, jobs
    if cache_file:  # files that could not be read are not kept: the next run tries them again
        _save_cache(cache_file, profile, {d["file_fingerprint"]: d for d in done
                                          if "error" not in d and d.get("file_fingerprint")})
    return portfolio


def _bar(total: int, show: bool | None):
    if show is None:
        show = total >= 2 and sys.stderr.isatty()
    if not show:
        return None
    import shutil

    from tqdm import tqdm

    size = shutil.get_terminal_size((80, 20))
    return tqdm(total=total, desc="评价项目", unit="个", file=sys.stderr, leave=False,
                ncols=size.columns or 80, nrows=size.lines or 20)


def assemble(entries: list[dict]) -> Portfolio:
    """Projects ranked by total (ties: by file), failures and duplicates in file order."""
    projects, failures, duplicates = [], [], []
    seen: dict[str, str] = {}
    for d in sorted(entries, key=lambda d: d["file"]):
        if "error" in d:
            failures.append(Failure(d["file"], d["error"]))
            continue
        p = Project(**{k: v for k, v in d.items() if k in Project.__dataclass_fields__})
        key = p.data_fingerprint or p.file_fingerprint
        if key in seen:
            duplicates.append(Failure(p.file, f"与“{seen[key]}”是同一项目的相同数据（数据指纹 {key}），未重复计入"))
            continue
        seen[key] = p.file
        if p.ok:
            projects.append(p)
        else:
            shown = "；".join(p.problems[:MAX_PROBLEMS_SHOWN])
            more = f"……共{len(p.problems)}个问题" if len(p.problems) > MAX_PROBLEMS_SHOWN else ""
            failures.append(Failure(p.file, f"输入有{len(p.problems)}个问题，未计算得分：{shown}{more}", p.problems))
    projects.sort(key=lambda p: (-p.total, p.file))
    return Portfolio(projects, failures, duplicates)


# ---------------------------------------------------------------- 结果应用
def application(project: Project) -> dict:
    """What follows from the project's grade under its profile's 结果应用 table (``result_use``)."""
    from dtg_xl.core.excel_round import excel_round

    rule = next((r for r in project.result_use if r[0] == project.grade), None)
    if rule is None:
        return {"action": "", "budget_change": None, "amount": None}
    change = rule[2]
    amount = excel_round(project.budget * change / 100, 2) if change is not None and project.budget is not None else None
    return {"action": rule[1], "budget_change": change, "amount": amount}


def portfolio_json(pf: Portfolio) -> dict:
    return {
        "projects": [{"rank": i, **{k: v for k, v in asdict(p).items() if k not in ("problems", "grades", "result_use")},
                      "application": application(p)} for i, p in enumerate(pf.projects, start=1)],
        "failures": [asdict(f) for f in pf.failures],
        "duplicates": [asdict(f) for f in pf.duplicates],
        "grades": grade_counts(pf),
        "evaluated": pf.evaluated, "reused": pf.reused, "jobs": pf.jobs, "output": pf.output,
    }


def grade_counts(pf: Portfolio) -> dict[str, int]:
    """Projects per grade, best grade first (in the order of the projects' profiles)."""
    order: list[str] = []
    for p in pf.projects:
        order += [g for g in p.grades if g not in order]
    counts = {g: 0 for g in order}
    for p in pf.projects:
        counts[p.grade] = counts.get(p.grade, 0) + 1
    return counts


HISTOGRAM_BINS = (("60以下", 0, 60), ("60–70", 60, 70), ("70–80", 70, 80), ("80–90", 80, 90),
                  ("90–100", 90, float("inf")))


def histogram(pf: Portfolio) -> list[tuple[str, int]]:
    """Projects per score band (lower bound inclusive)."""
    return [(label, sum(1 for p in pf.projects if lo <= p.total < hi)) for label, lo, hi in HISTOGRAM_BINS]


def format_lines(pf: Portfolio) -> list[str]:
    """The CLI's text: one line per file that could not be evaluated, then the totals."""
    lines = [f"未能评价：{Path(f.file).name}：{f.reason}" for f in pf.failures]
    lines += [f"重复：{Path(d.file).name}：{d.reason}" for d in pf.duplicates]
    counts = "、".join(f"{g}{n}个" for g, n in grade_counts(pf).items())
    lines.append(f"共{len(pf.projects) + len(pf.failures) + len(pf.duplicates)}个文件：已评价{len(pf.projects)}个项目"
                 f"（{counts or '无'}），未能评价{len(pf.failures)}个，重复{len(pf.duplicates)}个；"
                 f"本次计算{pf.evaluated}个，沿用上次结果{pf.reused}个")
    return lines
