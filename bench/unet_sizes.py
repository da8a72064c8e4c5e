"""How long the U-Net tab takes on big images: what `demos.unet.segment` (the Segment button)
spends on a 512×512 and a 1024×1024 image, for each model, at 1 and 2 torch threads.

    python bench/unet_sizes.py [--repeats 3] [--write]

Images: a crop of a real U2OS nuclei image from ../shared/data when it is there (else the
bundled synthetic cells, enlarged), the bundled ISBI 2012 EM slice and synthetic cells, each
resized to the side. The tile count is the tab's own (read from its summary). Each thread count
runs in a fresh process; the first call (model load) is reported apart from the warm median.
With --write the table replaces the U-Net section of bench/RESULTS.md (between its markers).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import machine, write_section  # noqa: E402

START, END = "<!-- unet-sizes:start -->", "<!-- unet-sizes:end -->"
U2OS = ROOT.parent / "shared" / "data" / "coelho_u2os" / "image" / "dna-0.png"

PROBE = r"""
import json, re, sys, time
import numpy as np, torch
threads, repeats, model, side, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
import cv2
from PIL import Image
from demos import unet as tab

grey = np.asarray(Image.open(path).convert("L"))
if min(grey.shape) >= side:
    grey = grey[:side, :side]  # a crop keeps the microscope's own scale
image = cv2.resize(grey, (side, side), interpolation=cv2.INTER_LINEAR)
seconds = []
for _ in range(repeats + 1):
    start = time.perf_counter()
    *_, summary = tab.segment(image, 0.5, False, model, progress=lambda *a, **k: None)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"first_s": seconds[0], "warm_s": float(np.median(seconds[1:])),
                  "tiles": int(re.search(r"(\d+) tile", summary).group(1))}))
"""


def image_for(model: str) -> tuple[Path, str]:
    if model == "nuclei":
        if U2OS.exists():
            return U2OS, "U2OS nuclei (Coelho et al. 2009), cropped"
        return ROOT / "demos" / "assets" / "synthetic_cells.png", "synthetic cells, enlarged (no U2OS images here)"
    if model == "em":
        return ROOT / "demos" / "assets" / "isbi2012_em_26.png", "ISBI 2012 slice 26, resized"
    return ROOT / "demos" / "assets" / "synthetic_cells.png", "synthetic cells, enlarged"


def probe(threads: int, repeats: int, model: str, side: int) -> dict:
    path, _ = image_for(model)
    done = subprocess.run([sys.executable, "-c", PROBE, str(threads), str(repeats), model, str(side), str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"})
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    for model in ("nuclei", "em", "synthetic"):
        for side in (512, 1024):
            for threads in (1, 2):
                r = probe(threads, args.repeats, model, side)
                print(model, side, threads, r, flush=True)
                rows.append(f"| {model} ({image_for(model)[1]}) | {side}×{side} | {r['tiles']} | {threads} | "
                            f"{r['first_s']:.2f} | **{r['warm_s']:.2f}** |")
    table = "\n".join([
        START, "## U-Net tab on big images\n",
        f"Measured on {machine()} by `python bench/unet_sizes.py --write`: the Segment button "
        f"(`demos.unet.segment`: the U-Net (for nuclei the two shipped nuclei models, averaged), its post-processing and the Otsu + watershed baseline) on one "
        f"image; seconds, warm = median of {args.repeats} after the first call.\n",
        "| model (image) | size | tiles | torch threads | first call (s) | warm (s) |",
        "| --- | --- | --- | --- | --- | --- |", *rows, END])
    print(table)
    if args.write:
        write_section(table, START, END)


if __name__ == "__main__":
    main()
