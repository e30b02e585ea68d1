"""python -m benchmarks [NAME...] [--json FILE]: run the benchmarks, print tables, write results.

NAME is any of verify, grade, mc, scaling, mutation (default: all but mutation, which runs
only when named: it takes tens of minutes). Each benchmark's section of
benchmarks/RESULTS.md is rewritten with its tables, the date, the machine, the load average
and the command; sections of benchmarks not run are kept as they were.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
import time
import traceback
from pathlib import Path

from . import Table, machine, markdown, text

NAMES = ("verify", "grade", "mc", "scaling", "serve", "mutation")
DEFAULT = ("verify", "grade", "mc", "scaling")     # mutation testing runs only when named
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = """# derivcheck benchmark results

Written by `python -m benchmarks` (see `benchmarks/__init__.py`). Each section records its own run:
date, machine, load average and command. Every figure is a ratio against a baseline measured in
the same run, next to the absolute numbers. Timings on a shared machine move with its load.
"""


# --------------------------------------------------------------------------- grade
def dict_tables(title: str, result: dict) -> list[dict]:
    """Tables for a benchmark that returns a plain dict: scalars as key/value rows, nested dicts
    side by side (one column each), with ratios to a ``math_verify`` column where one exists."""
    if "tables" in result:
        return list(result["tables"])
    scalars = Table(title, ["figure", "value"])
    nested = {k: v for k, v in result.items() if isinstance(v, dict)}
    for k, v in result.items():
        if k not in nested and k != "machine":
            scalars.add(k, v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v))
    tables = [scalars.as_dict()]
    if nested:
        keys = list(dict.fromkeys(k for v in nested.values() for k in v))
        side = Table(f"{title}: side by side", ["figure", *nested])
        for k in keys:
            side.add(k, *[v.get(k) if isinstance(v.get(k), (int, float, str, bool)) or v.get(k) is None
                          else json.dumps(v.get(k)) for v in nested.values()])
        base = nested.get("math_verify")
        if base:
            for k in ("answers_per_s", "median_s", "p99_s", "wall_s"):
                if isinstance(base.get(k), (int, float)) and base[k]:
                    ratios = ", ".join(f"{name} {v[k] / base[k]:.3g}x" for name, v in nested.items()
                                       if name != "math_verify" and isinstance(v.get(k), (int, float)))
                    side.notes.append(f"{k} relative to math_verify: {ratios}")
        tables.append(side.as_dict())
    return tables


def run_grade(quick: bool = False, **_) -> dict:
    started = time.perf_counter()
    tables = []
    for module, title in (("grade_answers", "Grading single answers vs math-verify"),
                          ("grade_class", "Grading a class")):
        try:
            mod = importlib.import_module(f"benchmarks.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.{module}":
                raise
            tables.append(Table(title, ["status"], [[f"benchmarks/{module}.py: not available yet"]]).as_dict())
            continue
        params = inspect.signature(mod.run).parameters
        if quick:
            if "quick" in params:
                result = mod.run(quick=True)
            elif "students" in params:
                result = mod.run(students=3, **({"dask": False} if "dask" in params else {}))
            else:
                tables.append(Table(title, ["status"], [[f"{module}: skipped with --quick"]]).as_dict())
                continue
        else:
            result = mod.run()
        tables += dict_tables(title, result)
    return {"tables": tables, "seconds": time.perf_counter() - started}


def runner(name: str):
    if name == "grade":
        return run_grade
    module = {"verify": "verify_bench", "mc": "mc_bench", "scaling": "scaling", "serve": "serve_bench",
              "mutation": "mutation"}[name]
    return importlib.import_module(f"benchmarks.{module}").run


# --------------------------------------------------------------------------- RESULTS.md
def section(name: str, result: dict, command: str) -> str:
    m = result["machine"]
    head = [f"## {name}", "",
            f"- date: {m['date']}; took {result['seconds']:.0f} s",
            f"- machine: {machine.summary(m)}",
            f"- load average (1, 5, 15 min) before {result['load_before']}, after {result['load_after']}",
            f"- command: `{command}`", ""]
    if "error" in result:
        head += ["```", result["error"].rstrip(), "```", ""]
    body = "\n".join(markdown(t) for t in result.get("tables", []))
    return f"<!-- benchmark:{name} -->\n" + "\n".join(head) + "\n" + body + f"<!-- /benchmark:{name} -->\n"


def update_results(path: Path, sections: dict[str, str]) -> None:
    old = path.read_text() if path.exists() else ""
    found = {m.group(1): m.group(0) for m in re.finditer(r"<!-- benchmark:(\w+) -->\n.*?<!-- /benchmark:\1 -->\n",
                                                         old, flags=re.S)}
    found.update(sections)
    order = [n for n in NAMES if n in found] + [n for n in found if n not in NAMES]
    path.write_text(HEADER + "\n" + "\n".join(found[n] for n in order))


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(NAMES)} (default: {', '.join(DEFAULT)})")
    ap.add_argument("--json", dest="json_path", help="write every figure and the machine description as JSON")
    ap.add_argument("--results", default=None,
                    help=f"the Markdown results file to update (default: {RESULTS}; with --quick, none unless given)")
    ap.add_argument("--no-results", action="store_true", help="do not touch the results file")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test; the figures mean little, and the results file is not touched)")
    ap.add_argument("--checks", nargs="+", default=None, metavar="PREFIX",
                    help="mc/scaling: only numeric checks whose slot id starts with PREFIX; mutation: only "
                         "derivations and slots matching PREFIX")
    ap.add_argument("--no-compile", action="store_true", help="mc: skip the torch.compile reference on the CPU")
    args = ap.parse_args(argv)
    names = args.names or list(DEFAULT)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(NAMES)}")
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    options = {"quick": args.quick, "checks": args.checks, "compile_cpu": not args.no_compile}
    started = time.perf_counter()
    results, failed = {}, False
    for name in names:
        m = machine.describe()
        t0 = time.perf_counter()
        try:
            result = runner(name)(**options)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            result = {"tables": [], "error": traceback.format_exc()}
            failed = True
        result.setdefault("seconds", time.perf_counter() - t0)
        result.update(machine=m, load_before=m["load_avg_1_5_15"], load_after=machine.load())
        results[name] = result
        print(f"\n=== {name} ({result['seconds']:.0f} s; load {result['load_before']} -> {result['load_after']})")
        for table in result["tables"]:
            print(text(table) + "\n")
        if "error" in result:
            print(result["error"], file=sys.stderr)
    total = time.perf_counter() - started
    print(f"all benchmarks: {total:.0f} s")
    payload = {"command": command, "seconds": total, "machine": machine.describe(), "benchmarks": results}
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(payload, indent=2, default=str))
    # a smoke test never replaces the measured figures unless told where to write
    if not args.no_results and (args.results or not args.quick):
        update_results(Path(args.results or RESULTS), {n: section(n, r, command) for n, r in results.items()})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
