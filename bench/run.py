"""Measure the gallery and write bench/RESULTS.md (numbers are written, never asserted).

    python bench/run.py [--tabs slug,slug] [--repeats 3] [--skip-cold-start]

- cold start: process start -> first HTTP 200, and its parts: importing torch and gradio, our
  modules, and building every tab (no model is loaded, torchvision is not imported, at start-up);
- per tab (each in a fresh process): its `bench_default()` — the main handler at default
  settings on a shipped example — first call (includes lazy model load) and warm median,
  and the process's peak RSS.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"

STARTUP_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import torch, gradio
t1 = time.perf_counter()
import app
t2 = time.perf_counter()
app.build_app()
t3 = time.perf_counter()
print(json.dumps({"import_torch_gradio_s": t1 - t0, "import_app_demos_papers_s": t2 - t1,
                  "build_all_tabs_s": t3 - t2, "own_startup_s": t3 - t1,
                  "torchvision_imported": "torchvision" in sys.modules,
                  "torch_dynamo_imported": "torch._dynamo" in sys.modules}))
"""

TAB_PROBE = """
import json, resource, statistics, sys, time
import demos
demo = next(d for d in demos.TABS if d.slug == sys.argv[1])
run = demo.module.bench_default
t = time.perf_counter(); run(); first = time.perf_counter() - t
warm = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); run(); warm.append(time.perf_counter() - t)
print(json.dumps({"first_s": first, "warm_median_s": statistics.median(warm) if warm else None,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_probe(code: str, *args: str, timeout: float = 900) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start() -> dict:
    from bench.server import running_app

    with running_app() as (_, _, seconds):
        first_200 = seconds
    return {"first_http_200_s": first_200, **run_probe(STARTUP_PROBE)}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    import torch
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
            f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")


def fmt(value) -> str:
    return "—" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", help="comma-separated slugs (default: every tab)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-cold-start", action="store_true")
    args = parser.parse_args()
    import demos

    slugs = args.tabs.split(",") if args.tabs else [d.slug for d in demos.TABS if d.module is not None]
    lines = [f"# Benchmarks\n\nMeasured {datetime.date.today()} on {machine()} by `python bench/run.py`.",
             "Numbers from a shared, noisy machine: compare orders of magnitude, not digits.\n"]
    if not args.skip_cold_start:
        cold = cold_start()
        print("cold start", cold)
        lines += ["## Cold start\n", "| measure | seconds |", "| --- | --- |"]
        lines += [f"| {k} | {fmt(v)} |" for k, v in cold.items()]
        lines.append("")
    lines += ["## Tabs: main handler at default settings\n",
              "| tab | first call (s, incl. model load) | warm median (s) | peak RSS (MB) |",
              "| --- | --- | --- | --- |"]
    for slug in slugs:
        result = run_probe(TAB_PROBE, slug, str(args.repeats))
        print(slug, result)
        if "error" in result:
            lines.append(f"| {slug} | error: {result['error']} | | |")
        else:
            lines.append(f"| {slug} | {fmt(result['first_s'])} | {fmt(result['warm_median_s'])} | "
                         f"{result['peak_rss_mb']:.0f} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
