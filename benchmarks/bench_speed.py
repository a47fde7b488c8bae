"""Where users wait (issue 14), side by side in one run: each job in a fresh process.

    python benchmarks/bench_speed.py [--rows 1000000] [--small 100000] [--runs 1]
                                     [--lifetimes PYTHON] [--skip-report-1m]
                                     [--parts import,clv,report,refresh,predict,lifetimes]

Prints, with the load average before each figure (2 cores shared: compare the
ratios of one run, not absolute times across runs):

- ``import ltvxl.udfs`` (wall in a fresh interpreter, less the interpreter's own
  start) and which of pandas, pyarrow, scipy it loaded, then the first ``=LTV``;
- ``ltvxl clv`` on the 1M-transaction file with the default Pareto/NBD and with
  ``--model bgnbd``, alternating (wall, CPU, peak RSS, ratios), then in process
  Pareto/NBD's fit and predictions apart and the share of its dropout-integral
  rows (the full model's and its limit of one rate) that took quadrature (the
  slow path);
- ``ltvxl report`` on the 100k and the 1M file (wall, peak RSS, ratio to clv);
- ``ltvxl refresh`` of the template holding the 100k transactions;
- CLV_PREDICT with Pareto/NBD from the 100k transactions (cells as xlwings passes them);
- lifetimes 0.11.3's pipeline (summary_data_from_transaction_data, BG/NBD,
  Gamma-Gamma, customer_lifetime_value) on the same 1M file, when ``--lifetimes``
  (default /work/venvs/lifetimes/bin/python) exists.

The files are the seeded simulation of ``bench_report.py`` (5 transactions per
customer on average, six channels, two years). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_refresh import measured, simulated
from bench_report import write_csv

LIFETIMES = "/work/venvs/lifetimes/bin/python"
PARTS = ("import", "clv", "report", "refresh", "predict", "lifetimes")

IMPORT = """
import sys, time
t = time.perf_counter()
import ltvxl.udfs as u
t1 = time.perf_counter()
v = u.LTV(100, 3, 5)
t2 = time.perf_counter()
heavy = [m for m in ("pandas", "pyarrow", "scipy") if m in sys.modules]
print(f"{t1 - t:.4f} {(t2 - t1) * 1000:.3f} {v} {','.join(heavy) or '-'}")
"""

PREDICT = """
import sys, time
import numpy as np, pandas as pd
d = pd.read_csv(sys.argv[1])
ids = [[v] for v in d["customer_id"].tolist()]
dates = [[v] for v in pd.to_datetime(d["date"]).dt.to_pydatetime().tolist()]
amounts = [[v] for v in d["amount"].tolist()]
import ltvxl.udfs as u
from ltvxl.udfs import _logs, models
times = []
for k in range(int(sys.argv[2])):
    models.FIT_CACHE.clear()  # every call parses and fits again: warm means imports done
    _logs.clear()
    t = time.perf_counter()
    out = u.CLV_PREDICT(ids, dates, amounts)
    times.append(time.perf_counter() - t)
assert isinstance(out, list) and len(out) > 1, out
print(" ".join(f"{x:.3f}" for x in times), len(out) - 1)
"""

PATHS = """
import sys, time
import numpy as np
from ltvxl.transactions import read_transactions
from ltvxl.transactions.summary import customer_summary
from ltvxl.models import paretonbd as pn
s = customer_summary(read_transactions(sys.argv[1]), None, "weeks").table
seen = {"all": 0, "quad": 0}
def counting(func, key):
    def counted(*a, **k):
        seen[key] += np.size(a[4])
        return func(*a, **k)
    return counted
# every row of a dropout integral (the full model's or its limit of one rate), and
# those integrated by quadrature (the slow path)
pn.dropout_integral = counting(pn.dropout_integral, "all")
pn.common_integral = counting(pn.common_integral, "all")
pn._quadrature = counting(pn._quadrature, "quad")
pn._common_quadrature = counting(pn._common_quadrature, "quad")
x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
t = time.perf_counter()
fit = pn.fit(x, tx, T)
t1 = time.perf_counter()
p = pn.p_alive(fit, x, tx, T)
e = pn.conditional_expected(fit, 52.0, x, tx, T)
t2 = time.perf_counter()
print(f"{t1 - t:.2f} {t2 - t1:.2f} {seen['quad']} {seen['all']} {fit.limit or '-'}")
"""

PEER = """
import sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
d = pd.read_csv(sys.argv[1], parse_dates=["date"])
t1 = time.perf_counter()
s = summary_data_from_transaction_data(d, "customer_id", "date", "amount", freq="W")
t2 = time.perf_counter()
try:
    pen = 0.0
    bg = BetaGeoFitter(penalizer_coef=pen).fit(s["frequency"], s["recency"], s["T"])
except Exception:  # ConvergenceError on the ridge of one dropout probability
    pen = 0.001
    bg = BetaGeoFitter(penalizer_coef=pen).fit(s["frequency"], s["recency"], s["T"])
t3 = time.perf_counter()
rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
t4 = time.perf_counter()
clv = gg.customer_lifetime_value(bg, s["frequency"], s["recency"], s["T"],
                                 s["monetary_value"], time=12, freq="W", discount_rate=0.0080)
t5 = time.perf_counter()
print(f"{t5 - t0:.2f} {t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.2f} {t5 - t4:.2f} "
      f"{len(s)} {pen}")
"""


def load() -> str:
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def child(args: list[str], python: str = sys.executable) -> tuple[str, float]:
    """(stdout, wall seconds) of a fresh process."""
    t = time.perf_counter()
    proc = subprocess.run([python, *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])[:80]} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip(), wall


def timed_cli_cpu(args: list[str]) -> tuple[float, float, float]:
    """(wall, peak RSS MiB, CPU seconds user + system) of ``python -m ltvxl.cli ARGS``."""
    _, _, wall, rss, cpu = measured([sys.executable, "-m", "ltvxl.cli", *args])
    return wall, rss, cpu


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


NUMPY = """
import time
t = time.perf_counter()
import numpy
print(f"{time.perf_counter() - t:.4f}")
"""


def compiled() -> None:
    """Compile and cache ltvxl's bytecode in a first child, as an installed package has
    it even where PYTHONDONTWRITEBYTECODE is set: without it every start would compile
    ltvxl's sources (about 0.1 s)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import ltvxl.udfs, ltvxl.models.paretonbd"],
                   env=env, check=True)


def import_time(runs: int) -> None:
    """``import ltvxl.udfs`` in fresh interpreters, with numpy's own import beside it
    (the bytecode compiled first: :func:`compiled`)."""
    compiled()
    start = [child(["-c", "pass"])[1] for _ in range(3)]
    n = max(runs, 7)
    res, bare = [], []
    for _ in range(n):  # alternating, so that both meet the same load
        res.append(child(["-c", IMPORT]))
        bare.append(float(child(["-c", NUMPY])[0]))
    times = sorted(float(r[0].split()[0]) for r in res)
    imp = median(times)
    first = median([float(r[0].split()[1]) for r in res])
    heavy = res[-1][0].split()[3]
    print(f"import ltvxl.udfs: {imp:.3f} s inside, median of {n} (min {times[0]:.3f}, max "
          f"{times[-1]:.3f}; numpy alone {median(bare):.3f} s; interpreter start "
          f"{median(start):.3f} s apart), first =LTV(100, 3, 5) {first:.3f} ms; heavy modules "
          f"loaded: {heavy}  [target <= 0.25 s, none; {load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lifetimes", default=LIFETIMES)
    parser.add_argument("--skip-report-1m", action="store_true")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, of {', '.join(PARTS)} (default: all)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "lifetimes" in parts:
        parts.add("clv")  # its line compares with clv's figures, as does the report's
    print(f"machine: {os.cpu_count()} cores; {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        big, small = Path(tmp) / "big.csv", Path(tmp) / "small.csv"
        write_csv(big, args.rows)
        write_csv(small, args.small)
        big_n, small_n = f"{args.rows:,}", f"{args.small:,}"

        # import and first call
        if "import" in parts:
            import_time(args.runs)

        # clv, default vs BG/NBD: the two alternate, so that both meet the same load
        clv: dict[str, tuple[float, float]] = {}
        clv_cpu: dict[str, float] = {}
        if "clv" in parts:
            clv_runs: dict[str, list[tuple[float, float, float]]] = {"pnbd": [], "bgnbd": []}
            for _ in range(args.runs):
                for model in clv_runs:
                    clv_runs[model].append(timed_cli_cpu(
                        ["clv", str(big), "-o", str(Path(tmp) / f"clv_{model}.csv"),
                         "--model", model]))
            for model, got in clv_runs.items():
                clv[model] = (median([r[0] for r in got]), max(r[1] for r in got))
                clv_cpu[model] = median([r[2] for r in got])
                print(f"ltvxl clv, {big_n} transactions, --model {model}: {clv[model][0]:.2f} s "
                      f"wall (median of {len(got)}: {' '.join(f'{r[0]:.2f}' for r in got)}), "
                      f"CPU {median([r[2] for r in got]):.2f} s, peak RSS {clv[model][1]:.0f} MiB")
            pairs = [a[0] / b[0] for a, b in zip(clv_runs["pnbd"], clv_runs["bgnbd"], strict=True)]
            cpu = (median([r[2] for r in clv_runs["pnbd"]])
                   / median([r[2] for r in clv_runs["bgnbd"]]))
            print(f"  Pareto/NBD / BG/NBD: {clv['pnbd'][0] / clv['bgnbd'][0]:.2f}x wall (median "
                  f"of the pairs {median(pairs):.2f}x), {cpu:.2f}x CPU  [target <= 2x; {load()}]")
            out, _ = child(["-c", PATHS, str(big)])
            fit_s, pred_s, quad, total, limit = out.split(maxsplit=4)
            print(f"  Pareto/NBD in process: fit {float(fit_s):.2f} s (limit: {limit}), P(alive) "
                  f"and 52-week expectations {float(pred_s):.2f} s; quadrature (slow path) took "
                  f"{int(quad):,} of {int(total):,} dropout-integral rows "
                  f"({int(quad) / max(int(total), 1):.2%})  [{load()}]")

        # report
        if "report" in parts:
            for path, n in ((small, small_n), (big, big_n)):
                if path is big and args.skip_report_1m:
                    continue
                runs = [timed_cli_cpu(["report", str(path), "-o",
                                       str(Path(tmp) / "report.xlsx")])
                        for _ in range(args.runs)]
                wall, rss = median([r[0] for r in runs]), max(r[1] for r in runs)
                cpu = median([r[2] for r in runs])
                extra = (f"; {wall / clv['pnbd'][0]:.2f}x clv on the same file, "
                         f"{cpu / clv_cpu['pnbd']:.2f}x its CPU [target <= 3x, <= 1024 MiB]"
                         if path is big and clv else "")
                print(f"ltvxl report, {n} transactions: {wall:.2f} s wall, CPU {cpu:.2f} s, "
                      f"peak RSS {rss:.0f} MiB{extra}  [{load()}]")

        # refresh of the template with the small log
        if "refresh" in parts:
            from ltvxl.workbook.template import build_workbook

            book, out_book = Path(tmp) / "template.xlsx", Path(tmp) / "refreshed.xlsx"
            build_workbook(book, simulated(args.small))
            runs = [timed_cli_cpu(["refresh", str(book), "-o", str(out_book)])
                    for _ in range(args.runs)]
            print(f"ltvxl refresh of the template with {small_n} transactions: "
                  f"{median([r[0] for r in runs]):.2f} s wall, CPU "
                  f"{median([r[2] for r in runs]):.2f} s, peak RSS "
                  f"{max(r[1] for r in runs):.0f} MiB  [target <= 2 s; {load()}]")

        # CLV_PREDICT
        if "predict" in parts:
            compiled()
            out, _ = child(["-c", PREDICT, str(small), str(max(args.runs, 3))])
            *times, customers = out.split()
            print(f"CLV_PREDICT (Pareto/NBD) from {small_n} transactions ({int(customers):,} "
                  f"customers): {' / '.join(times)} s (cold, then warm process, caches cleared)  "
                  f"[target <= 0.5 s; {load()}]")

        # lifetimes
        if "lifetimes" in parts:
            if Path(args.lifetimes).exists():
                out, wall = child(["-c", PEER, str(big)], python=args.lifetimes)
                # the last line: lifetimes may print its optimiser report before it
                tot, read, summ, bg, gg, clv_t, customers, pen = out.splitlines()[-1].split()
                print(f"lifetimes 0.11.3 pipeline, {big_n} transactions ({int(customers):,} "
                      f"customers): {tot} s inside (read {read}, summary {summ}, BG/NBD {bg} "
                      f"(penalizer {pen}), "
                      f"Gamma-Gamma {gg}, CLV {clv_t}); {wall:.2f} s wall; ltvxl clv --model "
                      f"bgnbd {clv['bgnbd'][0]:.2f} s wall, default {clv['pnbd'][0]:.2f} s  "
                      f"[{load()}]")
            else:
                print(f"lifetimes: no {args.lifetimes} (python -m venv /work/venvs/lifetimes && "
                      "/work/venvs/lifetimes/bin/pip install lifetimes==0.11.3)")


if __name__ == "__main__":
    main()
