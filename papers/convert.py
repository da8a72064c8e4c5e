"""Reproduce a converted checkpoint from its upstream files: ``python -m papers.convert PAPER [--from DIR] [--out DIR]``.

For every checkpoint of ``papers.PAPER`` that declares an upstream file (``CHECKPOINTS``): take
that file from ``--from DIR`` (under its upstream name), or else download it from its pinned
upstream address; check it against its full sha256; load it with ``torch.load(weights_only=True)``
(never a full unpickle); rename the keys (``checkpoint.convert``); write our safetensors file
into ``--out`` (default: the repo's weights/). The result must have the declared sha256: the
conversion is reproducible byte for byte, and it is the same conversion `papers.checkpoints`
applies to an upstream file found in ``$GALLERY_WEIGHTS_DIR`` (tests check both against the
declared hash).

    python -m papers.convert pcn --from ../shared/weights/pcn
"""
from __future__ import annotations

import argparse
import importlib
import tempfile
import urllib.request
from pathlib import Path

import torch
from safetensors.torch import save_file

from papers.checkpoints import DOWNLOAD_TIMEOUT_S, REPO_WEIGHTS_DIR, Checkpoint, sha256_file


class ConversionError(RuntimeError):
    """An upstream file is missing or not the published one, or the result is not the declared file."""


def upstream_checkpoints(paper: str) -> list[Checkpoint]:
    """The checkpoints of papers.<paper> that are converted from an upstream file."""
    module = importlib.import_module(f"papers.{paper}")
    declared = getattr(module, "CHECKPOINTS", ())
    declared = declared.values() if isinstance(declared, dict) else declared
    return [c for c in declared if c.upstream_url]


def _verify(path: Path, expected: str | None, what: str) -> str:
    actual = sha256_file(path)
    if expected and actual != expected.lower():
        raise ConversionError(f"{what}: sha256 of {path.name} is {actual}, expected {expected}.")
    return actual


def convert_file(ckpt: Checkpoint, upstream: Path, out_dir: Path) -> Path:
    """Verify one upstream file, convert it, write ``out_dir / ckpt.filename`` and check its hash."""
    if not ckpt.upstream_sha256 or len(ckpt.upstream_sha256) != 64:
        raise ConversionError(f"{ckpt.name}: no full upstream sha256 declared; refusing to convert unverified data.")
    _verify(upstream, ckpt.upstream_sha256, f"{ckpt.name} (upstream)")
    state = torch.load(str(upstream), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    state = ckpt.convert(dict(state)) if ckpt.convert else dict(state)
    state = {k: v.contiguous() for k, v in state.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ckpt.filename
    tmp = target.with_suffix(".tmp")
    # the same call, with the same metadata, as papers.checkpoints' conversion into its cache
    save_file(state, str(tmp), metadata={"source": ckpt.source or ckpt.name})
    try:
        _verify(tmp, ckpt.sha256, f"{ckpt.name} (converted)")
    except ConversionError:
        tmp.unlink()
        raise
    tmp.replace(target)
    return target


def _download(ckpt: Checkpoint, directory: Path) -> Path:
    path = directory / ckpt.upstream_filename
    with urllib.request.urlopen(ckpt.upstream_url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(path, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
    return path


def convert(paper: str, source: Path | None, out_dir: Path) -> list[Path]:
    """Convert every upstream checkpoint of `paper`, from `source` (a folder) or downloaded."""
    checkpoints = upstream_checkpoints(paper)
    if not checkpoints:
        raise ConversionError(f"papers.{paper} declares no checkpoint converted from an upstream file.")
    written = []
    with tempfile.TemporaryDirectory(prefix="gallery-convert-") as downloads:
        for ckpt in checkpoints:
            if source is not None:
                upstream = source / ckpt.upstream_filename
                if not upstream.is_file():
                    raise ConversionError(f"{ckpt.name}: {upstream} not found (download {ckpt.upstream_url}).")
            else:
                upstream = _download(ckpt, Path(downloads))
            written.append(convert_file(ckpt, upstream, out_dir))
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", help="a module of papers/ with upstream checkpoints, e.g. pcn")
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="folder holding the upstream files under their upstream names (default: download them)")
    parser.add_argument("--out", type=Path, default=REPO_WEIGHTS_DIR)
    args = parser.parse_args(argv)
    try:
        written = convert(args.paper, args.source, args.out)
    except ConversionError as exc:
        raise SystemExit(f"error: {exc}")
    for path in written:
        print(f"wrote {path} ({path.stat().st_size} bytes) sha256 {sha256_file(path)} (as declared)")


if __name__ == "__main__":
    main()
