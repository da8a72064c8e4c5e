"""How many intra-op threads should the server give torch? A 512x512 U-Net segmentation, timed
while another heavy request (a U-Net fine-tuning loop, as the U-Net tab's "Train" runs) runs on a
second Python thread of the same process, the way two Gradio workers share it.

    python bench/threads.py [--repeats 3] [--threads 1 2]

Each setting runs in a fresh subprocess (torch's thread count is fixed once per process, as
app.py does at start-up). Figures are printed and appended to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, threading, time
import numpy as np, torch
threads, repeats, contended = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
torch.set_num_threads(threads)
sys.path.insert(0, sys.argv[4])
from papers import unet
model = unet.pretrained("cpu")
grey = unet.synthetic_cells(512, np.random.default_rng(0))[0]
unet.segment(model, grey[:128, :128])  # warm-up
stop = threading.Event()
def heavy():
    import copy
    other = copy.deepcopy(model)
    for _ in unet.train_steps(other, seed=1, batch=2):
        if stop.is_set():
            break
worker = threading.Thread(target=heavy, daemon=True)
if contended:
    worker.start(); time.sleep(2.0)
times = []
for _ in range(repeats):
    start = time.perf_counter(); unet.segment(model, grey); times.append(time.perf_counter() - start)
stop.set()
if contended:
    worker.join()
print(json.dumps({"threads": threads, "contended": contended, "seconds": times}))
"""


def run(threads: int, repeats: int, contended: bool) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(repeats), "1" if contended else "0", str(ROOT)],
                         capture_output=True, text=True, env=env, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="segmentations per process")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every setting once (interleaved, "
                                                              "so a busy moment on a shared machine hits all settings)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", choices=("quiet", "contended"), help="run one of the two conditions")
    args = parser.parse_args(argv)
    conditions = {"quiet": (False,), "contended": (True,)}.get(args.only, (False, True))
    times: dict[tuple[int, bool], list[float]] = {}
    for round_ in range(args.rounds):
        for contended in conditions:
            for n in args.threads:
                seconds = run(n, args.repeats, contended)["seconds"]
                times.setdefault((n, contended), []).extend(seconds)
                print(f"round {round_ + 1}: threads={n} {'with' if contended else 'without'} a concurrent "
                      f"training request: {', '.join(f'{t:.2f}' for t in seconds)} s", flush=True)
    rows = [(n, c, statistics.median(t), min(t), max(t), len(t)) for (n, c), t in times.items()]
    for n, c, med, lo, hi, k in rows:
        print(f"threads={n} contended={c}: median {med:.2f} s (min {lo:.2f}, max {hi:.2f}, n={k})")
    if args.no_write:
        return
    sys.path.insert(0, str(ROOT))
    from bench.run import RESULTS, machine
    lines = ["", f"### Torch threads: 512² U-Net segmentation ({machine()})", "",
             f"`python bench/threads.py` ({args.rounds} interleaved rounds × {args.repeats} runs per setting; "
             "the machine was shared with other jobs, so absolute times are pessimistic).", "",
             "| torch threads | concurrent U-Net training request | median s | min s | max s | runs |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {'yes' if c else 'no'} | {med:.2f} | {lo:.2f} | {hi:.2f} | {k} |" for n, c, med, lo, hi, k in rows]
    with open(RESULTS, "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
