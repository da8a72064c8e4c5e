"""Reproduce a self-trained checkpoint: ``python -m papers.train PAPER[:VARIANT] [--out DIR]``.

PAPER is a module of this package (e.g. ``stn``) that defines
``train(variant: str | None, out_dir: pathlib.Path) -> dict`` : it seeds torch before building
each model (so a variant trained alone equals the same variant in the full run), trains on
offline data, writes its safetensors file(s) into `out_dir` and returns the metrics it reached.

The files go to the cache (``$GALLERY_CACHE_DIR/trained``) unless ``--out`` says otherwise, never
silently over the shipped files in weights/: to replace a shipped checkpoint, pass
``--out weights`` and update its sha256 where the module declares it.
"""
from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

from papers.checkpoints import cache_dir, sha256_file


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="PAPER or PAPER:VARIANT, e.g. stn or stn:st_cnn_r")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the cache's trained/ folder, not weights/)")
    args = parser.parse_args(argv)
    paper, _, variant = args.name.partition(":")
    module = importlib.import_module(f"papers.{paper}")
    if not hasattr(module, "train"):
        raise SystemExit(f"papers.{paper} has no self-trained checkpoint (no train()).")
    args.out = args.out or cache_dir() / "trained"
    args.out.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime for p in args.out.glob("*.safetensors")}
    start = time.perf_counter()
    metrics = module.train(variant or None, args.out)
    metrics["train_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(metrics, indent=2))
    for path in sorted(args.out.glob("*.safetensors")):
        if before.get(path) != path.stat().st_mtime:
            print(f"wrote {path} ({path.stat().st_size} bytes) sha256 {sha256_file(path)}")
    print(f"to use these files: GALLERY_WEIGHTS_DIR={args.out} python app.py")


if __name__ == "__main__":
    main()
