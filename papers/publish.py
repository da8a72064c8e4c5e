"""Publish the gallery to the Hugging Face Hub: the whole app to a Space, or its checkpoints to a
model repo.

    python -m papers.publish --space OWNER/NAME [--private] [--hardware cpu-basic] [--dry-run]
    python -m papers.publish --repo OWNER/NAME [--dry-run]

`--space` creates the Space if needed (Gradio SDK) and uploads only what it runs, chosen by the
one list `SPACE_FILES`, with `HfApi.upload_folder` (which stores binaries in Xet/LFS, as the Hub
requires; a plain `git push` of this repository is refused because its history holds
.safetensors files and images as ordinary git blobs). Before anything is sent, and alone with
`--dry-run` (no network at all), it lists the files and their total size and checks the
README's Space front matter against the code: sdk, sdk_version = the installed Gradio,
app_file, python_version, and `models` = the external Hub repos the Checkpoints declare.

`--repo` uploads every declared `Checkpoint` whose safetensors file (in our key layout) is on
this machine: the self-trained ones in weights/ and the converted upstream ones in the cache.
A Space then sets GALLERY_HUB_REPO=OWNER/NAME and finds them all in one place.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import pkgutil
import re
import subprocess
from pathlib import Path

import papers
from papers.checkpoints import REPO_ROOT, Checkpoint, local_dirs, sha256_file


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


# --------------------------------------------------------------------------- Space
# What a Space needs, as upload_folder patterns (fnmatch on paths relative to the repo root; `*`
# crosses "/", a trailing "/" means everything below). "!" marks what never goes, even inside
# an included folder. Not listed, so not sent: tests/, bench/, docs/ (but the screenshot the
# README shows), .ci/, .git, caches. The Space installs requirements.txt on top of Gradio.
SPACE_FILES: tuple[str, ...] = (
    "app.py",
    "requirements.txt",
    "README.md",  # the Space's configuration (front matter) and its card
    "LICENSE*",
    "demos/",  # UI modules, demos/assets/ (example images) and their LICENSES.md
    "papers/",
    "weights/*.safetensors",
    "weights/README.md",  # the weights' sources, licences and hashes
    "weights/LICENSE*",  # licence texts that must travel with their weights (PCN: BSD-2)
    "results/",  # every figure a tab shows is read from here
    "docs/*.png",  # the screenshots README.md shows
    "!*.pyc",  # all that __pycache__/ folders hold
    "!*.tmp",
    "!*.download",  # partial downloads (see papers.checkpoints)
    "!.*",  # hidden files and folders at the top (.git, .ci, .gradio caches, ...)
    "!*/.*",  # ... and inside included folders
)
SPACE_REPO_LIMIT_BYTES = 1_000_000_000  # the storage Hub staff quote for a Space repository (1 GB)
SHORT_DESCRIPTION_MAX = 60  # the Hub rejects a longer short_description


def space_patterns() -> tuple[list[str], list[str]]:
    """(allow_patterns, ignore_patterns) for upload_folder, both from SPACE_FILES."""
    allow = [p for p in SPACE_FILES if not p.startswith("!")]
    ignore = [p[1:] for p in SPACE_FILES if p.startswith("!")]
    return allow, ignore


def space_files(root: Path) -> list[Path]:
    """The files upload_folder will send from `root`, relative to it, in its order: the same
    listing and filter (`filter_repo_objects`, plus the Hub's default ignores) it applies."""
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    allow, ignore = space_patterns()
    relative = [p.relative_to(root).as_posix() for p in sorted(root.glob("**/*")) if p.is_file()]
    kept = filter_repo_objects(relative, allow_patterns=allow, ignore_patterns=ignore + DEFAULT_IGNORE_PATTERNS)
    return [Path(r) for r in kept]


def space_url(space: str) -> str:
    return f"https://huggingface.co/spaces/{space}"


def external_hub_repos() -> list[str]:
    """The other projects' Hub repos our Checkpoints load from (the Space card's `models`)."""
    return sorted({c.repo_id for c in declared_checkpoints() if c.repo_id})


def _markdown_images(text: str) -> list[str]:
    """Relative paths of the images a markdown text shows (![alt](path) and <img src=...>)."""
    found = re.findall(r"!\[[^\]]*\]\(\s*([^)\s]+)", text) + re.findall(r"<img[^>]+src=[\"']([^\"']+)", text)
    return [f for f in found if not re.match(r"^[a-z][a-z0-9+.-]*:|^/|^#", f, re.I)]


def check_space_card(root: Path, files: list[Path], models: list[str] | None = None) -> list[str]:
    """Problems with README.md as a Space card (empty list: fine). Offline."""
    from huggingface_hub import metadata_load

    readme = root / "README.md"
    if not readme.is_file():
        return ["README.md is missing: a Space is configured by its front matter"]
    try:
        meta = metadata_load(readme)
    except Exception as error:  # yaml.YAMLError; the YAML library is huggingface_hub's
        return [f"README.md front matter is not valid YAML: {error}"]
    if not meta:
        return ["README.md has no front matter (a '---' block at the top with sdk, sdk_version, app_file ...)"]
    problems = []
    if meta.get("sdk") != "gradio":
        problems.append(f"sdk is {meta.get('sdk')!r}; this app needs sdk: gradio")
    gradio_version = importlib.metadata.version("gradio")
    if str(meta.get("sdk_version")) != gradio_version:
        problems.append(f"sdk_version is {meta.get('sdk_version')!r} but the installed Gradio is {gradio_version} "
                        f"(the one tested here): set sdk_version: {gradio_version}")
    problems += _requirements_admit_gradio(root, gradio_version)
    app_file = meta.get("app_file")
    if not app_file:
        problems.append("app_file is missing (app_file: app.py)")
    elif Path(str(app_file)) not in files:
        problems.append(f"app_file {app_file!r} is not among the files that would be uploaded")
    python_version = meta.get("python_version")
    if not isinstance(python_version, str) or not re.fullmatch(r"3\.\d+(\.\d+)?", python_version):
        problems.append(f"python_version is {python_version!r}: give it as a quoted string such as \"3.11\" "
                        "(unquoted, YAML reads 3.10 as the number 3.1)")
    short = meta.get("short_description")
    if short and len(str(short)) > SHORT_DESCRIPTION_MAX:
        problems.append(f"short_description has {len(str(short))} characters; the Hub allows {SHORT_DESCRIPTION_MAX}")
    declared = external_hub_repos() if models is None else sorted(models)
    listed = meta.get("models") or []
    if not isinstance(listed, list) or sorted(map(str, listed)) != declared:
        problems.append(f"models is {listed!r} but the Checkpoints load from {declared!r} "
                        "(external repo_id values in papers/): list exactly those")
    for image in _markdown_images(readme.read_text(encoding="utf-8")):
        if Path(image) not in files:
            problems.append(f"README.md shows {image!r}, which would not be uploaded (add it to SPACE_FILES)")
    return problems


def _requirements_admit_gradio(root: Path, version: str) -> list[str]:
    """The Space installs Gradio sdk_version, then requirements.txt: a gradio line there that
    excludes sdk_version would replace it."""
    from packaging.requirements import InvalidRequirement, Requirement

    path = root / "requirements.txt"
    if not path.is_file():
        return ["requirements.txt is missing"]
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name.lower() == "gradio" and not requirement.specifier.contains(version, prereleases=True):
            return [f"requirements.txt asks for {line!r}, which excludes the sdk_version {version}"]
    return []


def _git_tracked(root: Path) -> set[Path] | None:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {Path(p) for p in out.decode().split("\0") if p}


def _size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def plan_space(root: Path, models: list[str] | None = None) -> tuple[list[Path], int, list[str]]:
    """Print the files a Space gets (marking any that git does not track) and their total size;
    return (files, total bytes, problems)."""
    files = space_files(root)
    tracked = _git_tracked(root)
    total = 0
    for rel in files:
        size = (root / rel).stat().st_size
        total += size
        note = "  (not in git: a local change)" if tracked is not None and rel not in tracked else ""
        print(f"  {rel.as_posix():48s} {size:>12,} bytes{note}")
    print(f"{len(files)} files, {_size_text(total)} in all")
    problems = check_space_card(root, files, models)
    if total > SPACE_REPO_LIMIT_BYTES:
        problems.append(f"{_size_text(total)} is over a Space's {_size_text(SPACE_REPO_LIMIT_BYTES)}")
    for name in ("app.py", "requirements.txt"):
        if Path(name) not in files:
            problems.append(f"{name} is missing")
    return files, total, problems


def publish_space(space: str, *, root: Path, private: bool, hardware: str | None, api=None) -> str:
    """Create the Space if needed, upload SPACE_FILES from `root` (removing files of ours that
    are gone locally), request hardware if asked; return its URL."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    allow, ignore = space_patterns()
    api.create_repo(space, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.upload_folder(repo_id=space, repo_type="space", folder_path=str(root),
                      allow_patterns=allow, ignore_patterns=ignore,
                      delete_patterns=allow,  # a file deleted here (a removed demo) goes there too
                      commit_message="Deploy the Paper Demo Gallery (python -m papers.publish --space)")
    if hardware:
        api.request_space_hardware(space, hardware)
    return space_url(space)


def _hub_id(kind: str):
    """argparse type: OWNER/NAME as the Hub accepts it."""
    def parse(text: str) -> str:
        from huggingface_hub.utils import HFValidationError, validate_repo_id

        if text.count("/") != 1:
            raise argparse.ArgumentTypeError(f"{text!r}: give the {kind} as OWNER/NAME (e.g. alice/paper-demo-gallery)")
        try:
            validate_repo_id(text)
        except HFValidationError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind} id: {error}") from None
        return text
    return parse


def _hardware_names() -> list[str]:
    from huggingface_hub import SpaceHardware

    return [h.value for h in SpaceHardware]


def _hardware(text: str) -> str:
    names = _hardware_names()
    if text not in names:
        raise argparse.ArgumentTypeError(f"unknown hardware {text!r}; one of: {', '.join(names)}")
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m papers.publish", description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--space", type=_hub_id("Space"), metavar="OWNER/NAME",
                        help="deploy the gallery to this Hugging Face Space (created if needed)")
    target.add_argument("--repo", type=_hub_id("model repo"), metavar="OWNER/NAME",
                        help="upload the checkpoints to this Hub model repo")
    parser.add_argument("--private", action="store_true",
                        help="create the Space private (an existing Space keeps its visibility)")
    parser.add_argument("--hardware", type=_hardware, metavar="NAME",
                        help="request Space hardware, e.g. cpu-basic, cpu-upgrade, zero-a10g, t4-small")
    parser.add_argument("--dry-run", action="store_true", help="list and check what would be uploaded; no network")
    args = parser.parse_args(argv)
    if args.space:
        _main_space(args)
        return
    if args.private or args.hardware:
        parser.error("--private and --hardware apply to --space only")
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


def _main_space(args) -> None:
    where = space_url(args.space)
    print(f"{'dry run: ' if args.dry_run else ''}files for {where}")
    _, total, problems = plan_space(REPO_ROOT)
    if problems:
        raise SystemExit("README.md / the files are not ready for a Space:\n" + "\n".join(f"  - {p}" for p in problems))
    print("front matter: sdk, sdk_version, app_file, python_version and models agree with the code")
    if args.dry_run:
        extra = f", hardware {args.hardware}" if args.hardware else ""
        print(f"dry run: nothing sent. Without --dry-run these {_size_text(total)} go to {where}"
              f"{' (private)' if args.private else ''}{extra}")
        return
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    try:
        url = publish_space(args.space, root=REPO_ROOT, private=args.private, hardware=args.hardware)
    except LocalTokenNotFoundError:
        raise SystemExit("not logged in to the Hub: run `hf auth login` or set HF_TOKEN "
                         "(a token with write access)") from None
    except HfHubHTTPError as error:
        raise SystemExit(f"the Hub refused: {error}\n(a token with write access to {args.space.split('/')[0]} "
                         "is needed; some hardware needs a PRO account or billing)") from None
    print(f"deployed: {url}  (it builds for a few minutes; build log: {url}?logs=build)")


if __name__ == "__main__":
    main()
