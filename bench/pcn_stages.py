"""Where PCN's time goes on one 640×480 frame, per stage, and how it compares with the PyTorch
port of the authors' code measured in the same run.

    python bench/pcn_stages.py [--port DIR] [--repeats 15] [--write]

Each setting runs in a fresh process: torch threads 1 and 2, each idle and with a heavy tab's
work (VGG-like 3×3 convolutions, 64 channels at 256², as style transfer runs) running on another Python thread of the same process,
as a second Gradio worker would. The stages are timed by wrapping papers.pcn's own functions
(the pipeline itself is not copied): pyramid (resizing on the calling thread: the first level),
"pyramid, helper" (the later levels, resized on papers.pcn.pyramid's helper thread while PCN-1
runs: overlapped, so not part of the sum), PCN-1 per level, crops (the warps of PCN-2/3's
candidates), PCN-2 and PCN-3 networks, NMS (and nested-window removal), and the rest (Python,
numpy bookkeeping) as what remains of the total.

Both detectors first run WARMUP times on the frame, untimed, as a live stream would; then they
alternate, call by call, so that both see the same state of the machine. The
"faults" columns count minor page faults per call over the timed repeats: memory that glibc's
allocator handed back to the system and that is touched again, each fault costing kernel time
(~4,000 faults ≈ 11 ms on this machine). How many there are depends on the allocator's history
in the process, for ours and for the port alike; they explain much of the spread between runs.
"pyramid, helper" is empty where torch's threads use every core (papers.pcn.pyramid then
resizes level by level on the calling thread).

`--port DIR`: a checkout of siriusdemon/pytorch-PCN (the port the weights come from; its
`pcn/pth/*.pth` in place); its `pcn.pcn.pcn_detect` is timed on the same frame (BGR, its
minimum face 20 px). Not part of this repository (BSD-2; fetch it yourself). On torch ≥ 2 its
`x.view(batch_size, -1)` in PCN2/PCN3.forward needs `.reshape` (the input is not contiguous).
With --write the tables replace the PCN section of bench/RESULTS.md (between its markers).
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

START, END = "<!-- pcn-stages:start -->", "<!-- pcn-stages:end -->"
FRAME = ROOT / "demos" / "assets" / "pcn_turned_faces.jpg"  # four turned faces, resized to 640×480
STAGES = ("pyramid", "pyramid, helper", "PCN-1", "crops", "PCN-2", "PCN-3", "NMS", "rest")
WARMUP = 40

PROBE = r"""
import json, resource, sys, threading, time
import numpy as np, torch
threads, busy, repeats, min_face, port, warmup = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[7])
torch.set_num_threads(threads)
import cv2
from PIL import Image
from papers import pcn

frame = cv2.resize(np.asarray(Image.open(sys.argv[6]).convert("RGB")), (640, 480), interpolation=cv2.INTER_AREA)
spent = {}

timing = [False]  # only our calls are timed per stage (the port calls cv2.resize too)

def timed(name, fn):
    def wrapper(*args, **kwargs):
        if not timing[0]:
            return fn(*args, **kwargs)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            key = name if threading.current_thread() is threading.main_thread() else name + ", helper"
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
    return wrapper

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

cv2.resize = timed("pyramid", cv2.resize)  # stage 1 resizes each pyramid level (and nothing else)
pcn.crop_views = timed("crops", pcn.crop_views)
pcn.suppress = timed("NMS", pcn.suppress)
pcn.drop_nested = timed("NMS", pcn.drop_nested)
for cls, name in ((pcn.PCN1, "PCN-1"), (pcn.PCN2, "PCN-2"), (pcn.PCN3, "PCN-3")):
    cls.forward = timed(name, cls.forward)

stop = threading.Event()
def heavy():  # another tab's heavy request in the same server process: VGG-like 3x3 convolutions
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(1, 64, 256, 256)
    with torch.inference_mode():
        while not stop.is_set():
            conv(x)
worker = threading.Thread(target=heavy)
if busy:
    worker.start()
    time.sleep(3)

settings = pcn.PCNSettings(min_face=min_face)
faces = pcn.detect_faces(frame, min_face=min_face)
detectors = {"ours": lambda: pcn.run_pcn(frame, settings)}
result = {"faces": len(faces)}
if port != "-":
    sys.path.insert(0, port)
    from pcn.pcn import pcn_detect, load_model
    nets = load_model()
    bgr = np.ascontiguousarray(frame[..., ::-1])
    detectors["port"] = lambda: pcn_detect(bgr, nets)
    result["port_faces"] = len(detectors["port"]())
for _ in range(warmup):
    for detect in detectors.values():
        detect()
times = {name: [] for name in detectors}
page_faults = dict.fromkeys(detectors, 0)
for _ in range(repeats):  # the two detectors alternate, call by call: both see the same machine
    for name, detect in detectors.items():
        spent.clear()
        timing[0] = name == "ours"
        before, start = faults(), time.perf_counter()
        detect()
        total = time.perf_counter() - start
        page_faults[name] += faults() - before
        timing[0] = False
        if name == "ours":
            spent["rest"] = total - sum(v for k, v in spent.items() if not k.endswith(", helper"))
            times[name].append({"total": total, **spent})
        else:
            times[name].append(total)
result.update(ours=times["ours"], faults=page_faults["ours"] / repeats)
if "port" in detectors:
    result.update(port=times["port"], port_faults=page_faults["port"] / repeats)
stop.set()
if busy:
    worker.join()
print(json.dumps(result))
"""


def measure(threads: int, busy: bool, repeats: int, min_face: float, port: str | None) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(threads), "1" if busy else "0", str(repeats),
                          str(min_face), port or "-", str(FRAME), str(WARMUP)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_ms(values) -> float:
    values = sorted(values)
    return 1000 * values[len(values) // 2]


def table(results: dict, min_face: float) -> list[str]:
    has_port = any("port" in r for r in results.values())
    lines = [f"640×480 frame ({FRAME.name}), minimum face {min_face:.0f} px; median ms over the repeats, "
             f"after {WARMUP} untimed calls of each detector.\n",
             "| torch threads | heavy tab running | " + " | ".join(STAGES) + " | **total** | faults |"
             + (" port | port faults | ours / port |" if has_port else ""),
             "| --- | --- | " + " | ".join("---" for _ in STAGES) + " | --- | --- |" + (" --- | --- | --- |" if has_port else "")]
    for (threads, busy), r in results.items():
        cells = [f"{median_ms([row.get(s, 0.0) for row in r['ours']]):.1f}" for s in STAGES]
        total = median_ms([row["total"] for row in r["ours"]])
        line = f"| {threads} | {'yes' if busy else 'no'} | " + " | ".join(cells) + f" | **{total:.1f}** | {r['faults']:.0f} |"
        if has_port:
            port = median_ms(r["port"])
            line += f" {port:.1f} | {r['port_faults']:.0f} | {total / port:.2f} |"
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="a checkout of siriusdemon/pytorch-PCN (timed on the same frame)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--min-face", type=float, default=20.0)
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args()
    results = {}
    for threads in (1, 2):
        for busy in (False, True):
            results[threads, busy] = r = measure(threads, busy, args.repeats, args.min_face, args.port)
            print(threads, busy, f"{median_ms([row['total'] for row in r['ours']]):.1f} ms",
                  f"port {median_ms(r['port']):.1f} ms" if "port" in r else "", f"faces {r['faces']}")
    lines = table(results, args.min_face)
    print("\n".join(lines))
    if args.write:
        write_section("\n".join([START, f"## PCN per stage ({machine()})\n", *lines, "",
                                 "Made by `python bench/pcn_stages.py --port DIR --write`.", END]), START, END)


if __name__ == "__main__":
    main()
