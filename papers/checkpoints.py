"""The one way weights are found, verified and loaded (see DESIGN.md, "Weights").

A `Checkpoint` declares where a set of weights lives. `load_state_dict` resolves it, in order:

1. a local directory: ``$GALLERY_WEIGHTS_DIR``, the repo's ``weights/``, then our cache
   (``$GALLERY_CACHE_DIR``, default ``~/.cache/paper-demo-gallery``). A local directory may
   also hold the checkpoint's *upstream* file under its upstream name: it is verified,
   converted and used (how an offline user supplies weights by hand);
2. the Hugging Face Hub (``hf_hub_download``; normal cache; honours ``HF_HUB_OFFLINE``);
   ``repo_id=None`` means the project's own repo, ``$GALLERY_HUB_REPO``;
3. the upstream publisher: download, verify sha256, ``torch.load(weights_only=True)``, convert
   the keys, save as safetensors in the cache;
4. otherwise `WeightsUnavailable`, whose message says what is missing, its size, and how to
   get it.

Files that are not in our layout (upstream pickles, safetensors from another project's Hub
repo) go through ``checkpoint.convert`` and are cached as safetensors in our layout.

Verification: every file that comes from outside the repo is checked against a sha256 declared
in code before it is used, once per process (memoised by path, mtime and size):

- our own files (local dirs, the project's Hub repo): `Checkpoint.sha256`;
- another project's Hub file: `hub_sha256` at the pinned commit `revision`;
- an upstream pickle: `upstream_sha256`. torchvision-style names carry only a hash prefix; a
  prefix is still checked, but such a checkpoint does not count as fully verified
  (`Checkpoint.verification_gaps()` says why, and a warning is logged on every load);
- our cache holds only our own conversions: each has a ``.sha256.json`` record written when it
  was converted (the converted file's hash and the hash of the file it came from); an entry whose
  record is missing, does not match, or came from another source file is ignored and rebuilt.

A converted checkpoint whose own-layout hash is not declared is never taken from the project's
Hub repo (nothing in code could vouch for it); it is rebuilt from its verified source.
"""
from __future__ import annotations

try:  # ZeroGPU: `spaces` must be imported before anything initialises CUDA.
    import spaces as _spaces
except ImportError:
    _spaces = None

import collections
import contextlib
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import re
import tempfile
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_WEIGHTS_DIR = REPO_ROOT / "weights"
DEFAULT_HUB_REPO = "paper-demo-gallery/weights"
DOWNLOAD_TIMEOUT_S = 60

StateDict = dict[str, torch.Tensor]
log = logging.getLogger(__name__)
_FULL_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_full_sha256(value: str | None) -> bool:
    return bool(value) and bool(_FULL_SHA256.fullmatch(value.lower()))


class WeightsUnavailable(RuntimeError):
    """No source could provide a checkpoint; the message tells the user how to get it."""


@dataclass(frozen=True)
class Checkpoint:
    """Where one set of weights comes from. `filename` is its name in our layout (local dirs and
    the project's Hub repo); `sha256` is that safetensors file's hash (None when unknown)."""

    name: str
    filename: str
    repo_id: str | None = None  # None: the project's own Hub repo ($GALLERY_HUB_REPO)
    sha256: str | None = None
    hub_filename: str | None = None  # file name inside an external `repo_id` (default: filename)
    revision: str | None = None  # external `repo_id`: the commit the file is pinned at (40 hex digits)
    hub_sha256: str | None = None  # external `repo_id`: that file's full sha256 (its Git LFS oid)
    upstream_url: str | None = None
    upstream_sha256: str | None = None  # full hash, or a prefix of >= 8 hex digits (torchvision)
    convert: Callable[[StateDict], StateDict] | None = None  # foreign keys -> our keys
    license: str = "unknown"
    size_bytes: int | None = None
    num_params: int | None = None
    source: str = ""  # human-readable credit
    reproduce: str = ""  # command that reproduces a self-trained checkpoint
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def upstream_filename(self) -> str | None:
        if not self.upstream_url:
            return None
        return Path(urllib.parse.urlparse(self.upstream_url).path).name

    @property
    def is_foreign_on_hub(self) -> bool:
        return self.repo_id is not None

    def hub_repo(self) -> str:
        return self.repo_id or os.environ.get("GALLERY_HUB_REPO", DEFAULT_HUB_REPO)

    @property
    def source_sha256(self) -> str | None:
        """The declared hash of the foreign file our cached conversion is made from."""
        return self.hub_sha256 if self.is_foreign_on_hub else self.upstream_sha256

    def verification_gaps(self) -> list[str]:
        """Why some file this checkpoint may be loaded from is not checked against a full sha256
        declared in code (empty: fully verified)."""
        gaps = []
        if self.is_foreign_on_hub:
            if not (self.revision and _COMMIT.fullmatch(self.revision)):
                gaps.append(f"Hub file {self.repo_id}/{self.hub_filename or self.filename} has no pinned commit")
            if not is_full_sha256(self.hub_sha256):
                gaps.append(f"Hub file {self.repo_id}/{self.hub_filename or self.filename} has no full sha256")
        if self.upstream_url and not is_full_sha256(self.upstream_sha256):
            declared = self.upstream_sha256 or ""
            gaps.append(f"upstream {self.upstream_filename} is checked against a {len(declared)}-digit sha256 "
                        "prefix only" if declared else f"upstream {self.upstream_filename} has no sha256")
        if not self.sha256 and not self.upstream_url and not self.is_foreign_on_hub:
            gaps.append(f"{self.filename} has no sha256")
        elif self.sha256 and not is_full_sha256(self.sha256):
            gaps.append(f"{self.filename}'s sha256 is not a full 64-digit hash")
        return gaps

    @property
    def fully_verified(self) -> bool:
        return not self.verification_gaps()

    def size_text(self) -> str:
        if not self.size_bytes:
            return "size unknown"
        return f"{self.size_bytes / 1e6:.1f} MB" if self.size_bytes >= 1e5 else f"{self.size_bytes / 1e3:.0f} kB"


# --------------------------------------------------------------------------- devices
def get_device() -> torch.device:
    """CUDA, else MPS, else CPU; ``GALLERY_DEVICE`` overrides."""
    forced = os.environ.get("GALLERY_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


GPU_MARGIN_S = 30  # seconds a ZeroGPU call may run beyond its own time budget (model load, last frame)


def gpu(fn=None, *, duration: int = 60, budget: tuple[str, float] | None = None):
    """`spaces.GPU` on a ZeroGPU Space, a no-op elsewhere. Use as ``@gpu`` or ``@gpu(duration=120)``.

    ``budget=("budget_s", 600)`` asks, per call, for the handler's own time-budget argument
    (capped at 600 s, as the handler caps it) plus ``GPU_MARGIN_S``. A generator handler stays a
    generator function (Gradio streams only those), and the signature is kept (gr.Progress)."""
    if fn is None:
        return lambda f: gpu(f, duration=duration, budget=budget)
    if _spaces is None:
        return fn
    seconds = duration
    if budget is not None:
        seconds = _budget_duration(fn, *budget)
    wrapped = _spaces.GPU(duration=seconds)(fn)
    if inspect.isgeneratorfunction(fn) and not inspect.isgeneratorfunction(wrapped):
        inner = wrapped

        def wrapped(*args, **kwargs):
            yield from inner(*args, **kwargs)
    if getattr(wrapped, "__wrapped__", None) is None:
        functools.update_wrapper(wrapped, fn)
    return wrapped


def _budget_duration(fn, name: str, cap_s: float) -> Callable[..., int]:
    """A ZeroGPU duration callable: the call's `name` argument (seconds, capped) + GPU_MARGIN_S."""
    signature = inspect.signature(fn)

    def seconds(*args, **kwargs) -> int:
        bound = signature.bind_partial(*args, **kwargs)
        value = bound.arguments.get(name, signature.parameters[name].default)
        try:
            requested = min(max(float(value), 0.0), cap_s)
        except (TypeError, ValueError):  # junk from the API: the handler will reject or cap it
            requested = cap_s
        return int(math.ceil(requested)) + GPU_MARGIN_S

    return seconds


def budget(cpu, gpu):
    """A default that grows with a GPU: `gpu` when the models run on CUDA, else `cpu`. Reads the
    device without initialising CUDA (safe at build time, also on ZeroGPU)."""
    return gpu if get_device().type == "cuda" else cpu


def autocast(device: torch.device | str, enabled: bool | None = None):
    """bf16 mixed precision for the forward passes of large ImageNet CNNs (VGG, AlexNet,
    Xception). On by default on CUDA only; a context manager either way. Callers compute
    losses, Gram matrices and softmax in fp32 (``.float()``); tests check the tolerance."""
    device_type = torch.device(device).type
    if enabled is None:
        enabled = device_type == "cuda"
    if not enabled or device_type not in ("cuda", "cpu"):
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16)


def cached_model(fn=None, *, max_entries: int = 8):
    """Build a model once per process and argument set, lazily and thread-safely. At most
    `max_entries` argument sets are kept (least recently used dropped first), so arguments a
    visitor can vary through the API cannot grow memory without bound."""
    if fn is None:
        return lambda f: cached_model(f, max_entries=max_entries)
    cache: collections.OrderedDict = collections.OrderedDict()
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        with lock:
            if key not in cache:
                cache[key] = fn(*args, **kwargs)
                while len(cache) > max_entries:
                    cache.popitem(last=False)
            cache.move_to_end(key)
            return cache[key]

    wrapper.cache_clear = cache.clear
    wrapper.cache_len = lambda: len(cache)
    return wrapper


_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_init(seed: int):
    """Build models with torch's default initialisation drawn from `seed`, leaving the process's
    global RNG as it was: its state is saved, seeded, and restored on exit, under a lock so two
    requests building models at once cannot interleave. Use it around model construction only
    (never across a yield); everything random after that takes a `torch.Generator`. This gives
    the same weights as ``torch.manual_seed(seed)`` followed by the same construction."""
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        yield


# --------------------------------------------------------------------------- hashing
def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, computed once per process for each (path, mtime, size)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _DIGESTS_LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
    digest = sha256_file(path)
    with _DIGESTS_LOCK:
        _DIGESTS[key] = digest
    return digest


def _hash_matches(actual: str, expected: str) -> bool:
    expected = expected.lower()
    return actual == expected if is_full_sha256(expected) else actual.startswith(expected)


def _check_hash(path: Path, expected: str | None, what: str) -> str:
    """Verify `path` against the declared `expected` hash (full, or a >= 8-digit prefix, which is
    checked but logged as not fully verified); returns the file's full sha256."""
    if not expected:
        raise WeightsUnavailable(f"{what}: no sha256 is declared for {display_path(path)}, so it is not used.")
    actual = file_sha256(path)
    if not _hash_matches(actual, expected):
        raise WeightsUnavailable(
            f"{what}: sha256 mismatch for {display_path(path)} (expected {expected}, got {actual}). "
            "The file is corrupt or not the published one; delete it and try again."
        )
    if not is_full_sha256(expected):
        log.warning("%s: %s matches only a %d-digit sha256 prefix (%s); not fully verified.",
                    what, display_path(path), len(expected), expected)
    return actual


# --------------------------------------------------------------------------- locations
def cache_dir() -> Path:
    return Path(os.environ.get("GALLERY_CACHE_DIR", Path.home() / ".cache" / "paper-demo-gallery"))


def local_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("GALLERY_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["GALLERY_WEIGHTS_DIR"]))
    return dirs + [REPO_WEIGHTS_DIR, cache_dir()]


def display_dir(directory: Path) -> str:
    """How a weights folder is named to a visitor: by its environment variable or relative to the
    app, never as an absolute server path."""
    directory = Path(directory)
    if os.environ.get("GALLERY_WEIGHTS_DIR") and directory == Path(os.environ["GALLERY_WEIGHTS_DIR"]):
        return "$GALLERY_WEIGHTS_DIR"
    if directory == REPO_WEIGHTS_DIR:
        return "the app's weights/ folder"
    if directory == cache_dir():
        return "$GALLERY_CACHE_DIR" if os.environ.get("GALLERY_CACHE_DIR") else "~/.cache/paper-demo-gallery"
    return directory.name + "/"


def display_path(path: str | Path) -> str:
    """A file path without the server's absolute prefix (see `display_dir`)."""
    path = Path(path)
    for directory in local_dirs():
        try:
            return f"{display_dir(directory)}/{path.relative_to(directory)}"
        except ValueError:
            pass
    return path.name


def _load_safetensors(path: Path, device) -> StateDict:
    return load_file(str(path), device=str(device))


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _convert_and_cache(ckpt: Checkpoint, state: StateDict, device, source_sha256: str) -> StateDict:
    """Convert a verified foreign state dict, save it in our cache with a record of its hash and
    of the hash of the file it came from, and load it."""
    state = ckpt.convert(state) if ckpt.convert else state
    state = {k: v.contiguous() for k, v in state.items()}
    target = cache_dir() / ckpt.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"source": ckpt.source or ckpt.name})
    record = {"sha256": sha256_file(tmp), "source_sha256": source_sha256, "source": ckpt.source or ckpt.name}
    tmp.replace(target)
    _record_path(target).write_text(json.dumps(record, indent=1))
    if ckpt.sha256:
        _check_hash(target, ckpt.sha256, ckpt.name)
    return _load_safetensors(target, device)


def _cache_entry_ok(ckpt: Checkpoint, path: Path) -> bool:
    """A cached conversion is used only when its hash matches the declared one, or else its
    record (written when it was converted) and comes from the currently declared source file."""
    try:
        if ckpt.sha256:
            _check_hash(path, ckpt.sha256, ckpt.name)
            return True
        record = json.loads(_record_path(path).read_text())
        source_ok = not ckpt.source_sha256 or _hash_matches(str(record.get("source_sha256", "")),
                                                           ckpt.source_sha256)
        return source_ok and file_sha256(path) == record.get("sha256")
    except (OSError, ValueError, WeightsUnavailable) as exc:
        log.warning("%s: ignoring cached %s (%s)", ckpt.name, display_path(path), exc)
        return False


def _load_upstream_file(ckpt: Checkpoint, path: Path, device) -> StateDict:
    """Verify an upstream pickle, load it safely, convert, cache as safetensors."""
    digest = _check_hash(path, ckpt.upstream_sha256, ckpt.name)
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return _convert_and_cache(ckpt, dict(state), device, source_sha256=digest)


def _from_local(ckpt: Checkpoint, device) -> StateDict | None:
    cache = cache_dir().resolve()
    for directory in local_dirs():
        path = directory / ckpt.filename
        if path.is_file():
            if directory.resolve() == cache:
                if _cache_entry_ok(ckpt, path):
                    return _load_safetensors(path, device)
                continue  # rebuilt from its verified source below
            if ckpt.sha256:
                _check_hash(path, ckpt.sha256, ckpt.name)
            else:  # an operator's own file in $GALLERY_WEIGHTS_DIR: their call, but say so
                log.warning("%s: using %s, which has no declared sha256 (not verified).", ckpt.name,
                            display_path(path))
            return _load_safetensors(path, device)
        if ckpt.upstream_filename and (directory / ckpt.upstream_filename).is_file():
            return _load_upstream_file(ckpt, directory / ckpt.upstream_filename, device)
    return None


@functools.cache
def hub_reachable(host: str = "huggingface.co", timeout_s: float = 3.0) -> bool:
    """One quick connection attempt per process, so that an offline machine does not wait for
    huggingface_hub's retries on every load (it still reads its local cache)."""
    import socket

    try:
        socket.create_connection((os.environ.get("HF_ENDPOINT_HOST", host), 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def _from_hub(ckpt: Checkpoint, device) -> StateDict:
    from huggingface_hub import constants, hf_hub_download  # imported lazily: keeps start-up fast

    if not ckpt.is_foreign_on_hub and not ckpt.sha256:
        raise LookupError("no sha256 declared for our conversion on the Hub; rebuilt from its source")
    local_only = constants.HF_HUB_OFFLINE or not hub_reachable()
    path = Path(hf_hub_download(
        repo_id=ckpt.hub_repo(), filename=ckpt.hub_filename or ckpt.filename, revision=ckpt.revision,
        local_files_only=local_only,
    ))
    if ckpt.is_foreign_on_hub:
        digest = _check_hash(path, ckpt.hub_sha256, ckpt.name)
        return _convert_and_cache(ckpt, load_file(str(path)), device, source_sha256=digest)
    _check_hash(path, ckpt.sha256, ckpt.name)
    return _load_safetensors(path, device)


def _from_upstream(ckpt: Checkpoint, device) -> StateDict:
    if not ckpt.upstream_sha256:
        raise LookupError("no sha256 declared for the upstream file")
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir(), suffix=".download", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with urllib.request.urlopen(ckpt.upstream_url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                open(tmp_path, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        return _load_upstream_file(ckpt, tmp_path, device)
    finally:
        tmp_path.unlink(missing_ok=True)


def load_state_dict(ckpt: Checkpoint, device=None) -> StateDict:
    """Resolve `ckpt` (local dir -> Hub -> upstream) and load it onto `device`."""
    device = device or get_device()
    found = _from_local(ckpt, device)
    if found is not None:
        return found
    reasons = []
    try:
        return _from_hub(ckpt, device)
    except WeightsUnavailable:
        raise
    except Exception as exc:  # offline, repo or file missing, network error ...
        reasons.append(f"Hub {ckpt.hub_repo()}: {type(exc).__name__}")
        log.info("%s: not from the Hub (%s: %s)", ckpt.name, type(exc).__name__, exc)
    if ckpt.upstream_url:
        try:
            return _from_upstream(ckpt, device)
        except WeightsUnavailable:
            raise
        except Exception as exc:
            reasons.append(f"upstream {ckpt.upstream_filename}: {type(exc).__name__}")
            log.info("%s: not from upstream %s (%s: %s)", ckpt.name, ckpt.upstream_url, type(exc).__name__, exc)
    raise WeightsUnavailable(missing_message(ckpt, reasons))


def missing_message(ckpt: Checkpoint, reasons: list[str] = ()) -> str:
    """What is missing, how large it is, and how to get it."""
    where = " or ".join(display_dir(d) for d in local_dirs()[:-1])
    hub = ckpt.hub_repo() + "/" + (ckpt.hub_filename or ckpt.filename)
    how = [f"connect to the internet (they come from the Hugging Face Hub, {hub})"]
    if ckpt.upstream_url:
        how.append(f"download {ckpt.upstream_url} and put it, under that name, in {where}")
    else:
        how.append(f"put {ckpt.filename} in {where}")
    if ckpt.reproduce:
        how.append(f"reproduce them with `{ckpt.reproduce}`")
    tried = f" (tried: {'; '.join(reasons)})" if reasons else ""
    return (f"Weights '{ckpt.name}' ({ckpt.size_text()}, licence {ckpt.license}) are not available"
            f"{tried}. To get them: " + "; or ".join(how) + ".")


def is_available_locally(ckpt: Checkpoint) -> bool:
    """True when a local directory already holds the checkpoint (no download needed)."""
    names = [ckpt.filename] + ([ckpt.upstream_filename] if ckpt.upstream_filename else [])
    return any((d / n).is_file() for d in local_dirs() for n in names)


def count_params(state: StateDict) -> int:
    return sum(t.numel() for t in state.values())
