"""Measure the gallery and write bench/RESULTS.md (numbers are written, never asserted).

    python bench/run.py [--tabs slug,slug] [--repeats 3] [--skip-cold-start]
    python bench/run.py --device cuda [--tabs ...] [--repeats 3]   # the GPU section only

- cold start: process start -> first HTTP 200, and its parts: importing torch and gradio, our
  modules, and building every tab (no model is loaded, torchvision is not imported, at start-up);
- per tab (each in a fresh process): its `bench_default()` — the main handler at default
  settings on a shipped example — first call (includes lazy model load) and warm median,
  and the process's peak RSS.
- `--device cuda` (GALLERY_DEVICE=cuda, so every tab starts with its GPU defaults, see
  `papers.checkpoints.budget`): per tab the same first/warm latency (the device synchronised
  before each clock reading) and peak GPU memory, and Gatys style transfer's seconds per
  optimisation step at 512 and 1024 px (VGG-19 when its weights are here, else the random
  network), fp32 and bf16.

Each mode rewrites only its own section of RESULTS.md (between its `<!-- cpu:… -->` or
`<!-- gpu:… -->` markers); the hand-written notes around them are kept.
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
GPU_START, GPU_END = "<!-- gpu:start -->", "<!-- gpu:end -->"
CPU_START, CPU_END = "<!-- cpu:start -->", "<!-- cpu:end -->"
COLD_START_LABELS = {"first_http_200_s": "process start to first HTTP 200",
                     "import_torch_gradio_s": "import torch + gradio",
                     "import_app_demos_papers_s": "import app + demos + papers",
                     "build_all_tabs_s": "build all 17 tabs",
                     "own_startup_s": "**the app's own start-up beyond torch and gradio**",
                     "torchvision_imported": "torchvision imported at start-up",
                     "torch_dynamo_imported": "torch._dynamo imported at start-up"}

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


GPU_TAB_PROBE = """
import json, statistics, sys, time, torch
import demos
demo = next(d for d in demos.TABS if d.slug == sys.argv[1])
run = demo.module.bench_default
def timed():
    torch.cuda.synchronize(); t = time.perf_counter(); run(); torch.cuda.synchronize()
    return time.perf_counter() - t
first = timed()
warm = [timed() for _ in range(int(sys.argv[2]))]
print(json.dumps({"first_s": first, "warm_median_s": statistics.median(warm) if warm else None,
                  "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20,
                  "gpu": torch.cuda.get_device_name()}))
"""

STYLE_STEP_PROBE = """
import json, sys, time, torch
from skimage import data
from papers import style_transfer as st
side, mixed = int(sys.argv[1]), sys.argv[2] == "bf16"
network, name = (st.vgg19("avg"), "VGG-19") if st.vgg19_local() else (st.random_multiscale(), "random network")
vgg = name == "VGG-19"  # the random network only synthesises textures (no content layer)
config = st.StyleConfig(size=side, ratio=1e-3 if vgg else 0.0, steps=12, optimiser="adam", init="content",
                        mixed_precision=mixed, time_budget_s=1e9)
run = st.synthesise(data.chelsea() if vgg else None, data.brick(), config, network, stream_every=2)
next(run)  # two warm-up steps (kernel selection, allocations)
torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); t = time.perf_counter()
*_, last = run
torch.cuda.synchronize()
print(json.dumps({"seconds_per_step": (time.perf_counter() - t) / (last.step - 2), "network": name,
                  "precision": "bf16" if mixed and vgg else "fp32",  # bf16 applies to VGG-19 only
                  "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}))
"""


def run_probe(code: str, *args: str, timeout: float = 900, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=timeout, env={**os.environ, **(env or {})})
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


def gpu_section(slugs: list[str], repeats: int) -> str:
    """The GPU section of RESULTS.md: every tab at its GPU defaults, and style transfer per step."""
    env = {"GALLERY_DEVICE": "cuda"}
    lines = [GPU_START, f"## GPU: main handler at GPU defaults\n",
             f"Measured {datetime.date.today()} by `python bench/run.py --device cuda` (GALLERY_DEVICE=cuda; "
             "each tab in a fresh process, the device synchronised before each clock reading).\n",
             "| tab | first call (s, incl. model load) | warm median (s) | peak GPU memory (MB) |",
             "| --- | --- | --- | --- |"]
    gpu_name = None
    for slug in slugs:
        result = run_probe(GPU_TAB_PROBE, slug, str(repeats), env=env)
        print("gpu", slug, result)
        if "error" in result:
            lines.append(f"| {slug} | error: {result['error']} | | |")
            continue
        gpu_name = result["gpu"]
        lines.append(f"| {slug} | {fmt(result['first_s'])} | {fmt(result['warm_median_s'])} | "
                     f"{result['peak_gpu_mb']:.0f} |")
    lines += ["", "### Style transfer: seconds per optimisation step (Adam; VGG-19: content + style, "
              "random network: texture)\n",
              "| long side | precision | network | seconds / step | peak GPU memory (MB) |",
              "| --- | --- | --- | --- | --- |"]
    for side in (512, 1024):
        for precision in ("fp32", "bf16"):
            r = run_probe(STYLE_STEP_PROBE, str(side), precision, env=env)
            print("style step", side, precision, r)
            lines.append(f"| {side} px | {precision} | error: {r['error']} | | |" if "error" in r else
                         f"| {side} px | {r['precision']} | {r['network']} | {r['seconds_per_step']:.4f} | "
                         f"{r['peak_gpu_mb']:.0f} |")
    if gpu_name:
        lines.insert(2, f"GPU: {gpu_name}.\n")
    return "\n".join(lines + ["", GPU_END])


def write_section(section: str, start: str, end: str) -> None:
    """Replace the text between one pair of markers in RESULTS.md (or append the section); the
    hand-written notes around the measured sections are kept."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", help="comma-separated slugs (default: every tab)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: measure the GPU section only (needs a CUDA device)")
    args = parser.parse_args()
    import demos

    slugs = args.tabs.split(",") if args.tabs else [d.slug for d in demos.TABS if d.module is not None]
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device here; RESULTS.md is left as it is.")
        write_section(gpu_section(slugs, args.repeats), GPU_START, GPU_END)
        print(f"wrote the GPU section of {RESULTS}")
        return
    lines = [CPU_START, f"Measured {datetime.date.today()} on {machine()} by `python bench/run.py`.",
             "Numbers from a shared, noisy machine: compare orders of magnitude, not digits.\n"]
    if not args.skip_cold_start:
        cold = cold_start()
        print("cold start", cold)
        lines += ["## Cold start\n", "| measure | seconds |", "| --- | --- |"]
        lines += [f"| {COLD_START_LABELS.get(k, k)} | {fmt(v)} |" for k, v in cold.items()]
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
    write_section("\n".join(lines + [CPU_END]), CPU_START, CPU_END)
    print(f"wrote the CPU section of {RESULTS}")


if __name__ == "__main__":
    main()
