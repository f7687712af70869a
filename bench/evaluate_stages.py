"""Where `dtg-xl evaluate` spends its time, stage by stage, in one fresh process.

    python bench/evaluate_stages.py IN.xlsx OUT.xlsx

Prints one JSON line of milliseconds: imports (what cmd_evaluate imports), open (FileBook:
pre-flight check + calamine open), of which preflight (dtg_xl.xlsx.preflight.check alone, timed
separately on the same file, its memo of parts seen emptied first), evaluate (read, check,
score, lay out), save (zip patch).  The parent adds interpreter start = wall time - the sum.
"""
import time

T0 = time.perf_counter()
import json  # noqa: E402
import sys  # noqa: E402

from dtg_xl.xlsx.books import FileBook  # noqa: E402
from dtg_xl.results.pipeline import evaluate_book  # noqa: E402

T1 = time.perf_counter()


def main(src: str, dst: str) -> dict:
    from dtg_xl.xlsx.preflight import check, forget_seen_parts

    ms = {"imports": (T1 - T0) * 1000}
    start = time.perf_counter()
    book = FileBook(src)
    ms["open"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    result = evaluate_book(book)
    ms["evaluate"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    book.save(dst)
    book.close()
    ms["save"] = (time.perf_counter() - start) * 1000
    forget_seen_parts()  # the FileBook above checked these parts: time a first check, as one run does
    start = time.perf_counter()
    check(src)
    ms["preflight"] = (time.perf_counter() - start) * 1000
    ms["in_process_total"] = ms["imports"] + ms["open"] + ms["evaluate"] + ms["save"]
    ms["total_score"] = result.total
    return ms


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
