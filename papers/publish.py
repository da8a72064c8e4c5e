"""Upload the gallery's checkpoints to one Hub repo, with a generated model card.

    python -m papers.publish --repo OWNER/NAME [--dry-run]

What goes: every declared `Checkpoint` whose safetensors file (in our key layout) is on this
machine: the self-trained ones in weights/ and the converted upstream ones in the cache. A
Space then sets GALLERY_HUB_REPO=OWNER/NAME and finds them all in one place.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

import papers
from papers.checkpoints import Checkpoint, local_dirs, sha256_file


def declared_checkpoints() -> list[Checkpoint]:
    """Every module-level Checkpoint in the papers package, in module order."""
    found: dict[str, Checkpoint] = {}
    for info in sorted(pkgutil.iter_modules(papers.__path__), key=lambda m: m.name):
        if info.name in ("publish", "train"):
            continue
        module = importlib.import_module(f"papers.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Checkpoint):
                found.setdefault(value.filename, value)
    return list(found.values())


def local_file(ckpt: Checkpoint) -> Path | None:
    for directory in local_dirs():
        if (directory / ckpt.filename).is_file():
            return directory / ckpt.filename
    return None


def plan(checkpoints: list[Checkpoint]) -> tuple[list[tuple[Checkpoint, Path]], list[Checkpoint]]:
    ready = [(c, p) for c in checkpoints if (p := local_file(c)) is not None]
    missing = [c for c in checkpoints if local_file(c) is None]
    return ready, missing


def model_card(repo: str, ready: list[tuple[Checkpoint, Path]]) -> str:
    rows = "\n".join(
        f"| `{c.filename}` | {c.name} | {c.source or 'self-trained'} | {c.license} | "
        f"{p.stat().st_size:,} | `{sha256_file(p)}` | {c.reproduce or c.upstream_url or ''} |"
        for c, p in ready)
    return f"""---
library_name: pytorch
tags: [computer-vision, paper-demo-gallery, safetensors]
---
# Paper Demo Gallery weights

Checkpoints used by the Paper Demo Gallery, in safetensors, in the gallery's own key layout.
Point a gallery at this repo with `GALLERY_HUB_REPO={repo}`.

| file | model | source | licence | bytes | sha256 | reproduce / upstream |
| --- | --- | --- | --- | --- | --- | --- |
{rows}
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="OWNER/NAME of a Hub model repo")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    args = parser.parse_args(argv)
    ready, missing = plan(declared_checkpoints())
    for ckpt, path in ready:
        print(f"upload {ckpt.filename:40s} {path.stat().st_size:>12,} bytes  from {path.parent}")
    for ckpt in missing:
        print(f"skip   {ckpt.filename:40s} not on this machine (use its tab once to fetch and convert it)")
    if args.dry_run:
        print(f"dry run: {len(ready)} file(s) and README.md would go to {args.repo}")
        return
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.repo, repo_type="model", exist_ok=True)
    for ckpt, path in ready:
        api.upload_file(path_or_fileobj=str(path), path_in_repo=ckpt.filename, repo_id=args.repo)
    api.upload_file(path_or_fileobj=model_card(args.repo, ready).encode(), path_in_repo="README.md",
                    repo_id=args.repo)
    print(f"uploaded {len(ready)} file(s) to {args.repo}")


if __name__ == "__main__":
    main()
