"""Texture vs shape at the paper's own scale: ImageNet AlexNet and VGG-16 on the authors'
cue-conflict stimuli — Geirhos, Rubisch, Michaelis, Bethge, Wichmann & Brendel, ICLR 2019.
arXiv:1811.12231 (https://arxiv.org/abs/1811.12231); data and code: https://github.com/rgeirhos/texture-vs-shape.

The paper's headline measurement (Sec. 2 and 3, Fig. 4): show ImageNet-trained CNNs 1,280
*cue-conflict* images — a photo of one of 16 categories (its shape) style-transferred with the
texture of another — map each network's 1,000 ImageNet probabilities to the 16 categories, and
count which cue the decision followed. Shape bias = shape decisions / (shape + texture decisions),
over the images whose two cues differ, counting only decisions that match one of them (Sec. 2;
papers.texture_bias.cue_decisions does the counting for both measurements).

Both the images and the 16-category → ImageNet index lists come from a checkout of the authors'
repository: no licence is stated for the images, so the gallery does not ship them, and the
index lists are the authors' own (`code/helper/human_categories.py`, the `<category>_indices`
attributes of `HumanCategories`), read at run time with `ast` — the file is never imported or
executed. Point `$GALLERY_CUE_CONFLICT_DIR` at the checkout (or at its
`stimuli/style-transfer-preprocessed-512` folder). Measured: `python -m papers.reproduce
cue-conflict` writes results/cue-conflict.json (alexnet_shape_bias, vgg16_shape_bias) beside the
authors' figures for the same torchvision weights.

Deviations from the paper:
- Models: only the two ImageNet networks this gallery already loads, torchvision's AlexNet and
  VGG-16. The paper's Fig. 4 used caffe's AlexNet, VGG-16 and GoogLeNet and torchvision's
  ResNet-50; for the torchvision AlexNet and VGG-16 the authors' repository README (section
  "data-analysis", from its issue #7) gives lower shape biases than the caffe ones in the paper,
  and those README figures are the ones we compare with (`PUBLISHED_SHAPE_BIAS`).
- Aggregation: the mean of each category's fine-grained ImageNet probabilities, then the most
  probable of the 16 (ties: the first category alphabetically, as the authors' loop does). The
  README recommends this average and says it differs slightly from the aggregation the paper
  reported.
- Preprocessing: torchvision's evaluation transform (shorter side 256, centre crop 224,
  ImageNet mean/std; the README's validation transform), fp32 on every device.
- Per-category shape bias is grouped by the image's *shape* category (its folder).
- The tab may measure a balanced subset (round robin over shape categories, shuffled by a seed)
  or stop at its time budget; the reproduce command measures every image.
"""
from __future__ import annotations

import ast
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from papers import alexnet, deconvnet
from papers.checkpoints import Checkpoint
from papers.texture_bias import CueDecisions, cue_decisions

# --------------------------------------------------------------------------- configuration
ENV_VAR = "GALLERY_CUE_CONFLICT_DIR"
REPOSITORY_URL = "https://github.com/rgeirhos/texture-vs-shape"
STIMULI_PATH = Path("stimuli", "style-transfer-preprocessed-512")  # inside the checkout
CATEGORIES_PATH = Path("code", "helper", "human_categories.py")  # inside the checkout
CATEGORIES_CLASS = "HumanCategories"
INDICES_SUFFIX = "_indices"  # `bear_indices = [294, 295, 296, 297]`: ImageNet classes of "bear"
NUM_IMAGENET_CLASSES = alexnet.NUM_CLASSES
# <shape category><n>-<texture category><m>.png, e.g. cat1-elephant2.png (in the folder "cat")
STIMULUS_NAME = re.compile(r"(?P<shape>[a-z]+)(?P<shape_n>\d+)-(?P<texture>[a-z]+)(?P<texture_n>\d+)\.png")
BATCH_SIZE = 8
QUICK_IMAGES = 64  # `--quick`: a balanced subset of this many cue-conflict images

# The authors' shape bias (%) for torchvision's ImageNet weights: README of rgeirhos/texture-vs-shape,
# section "data-analysis" (the paper's Fig. 4 reports caffe models, whose shape bias is higher).
PUBLISHED_SHAPE_BIAS = {"alexnet": 25.3, "vgg16": 9.2}
PUBLISHED_WHERE = "rgeirhos/texture-vs-shape README, section data-analysis (torchvision weights)"


class CueConflictUnavailable(ValueError):
    """The authors' stimuli (or their category file) are not where the gallery looks."""


@dataclass(frozen=True)
class ImageNetModel:
    key: str
    label: str
    checkpoint: Checkpoint
    load: Callable[[], nn.Module]  # raises WeightsUnavailable with directions


MODELS: dict[str, ImageNetModel] = {m.key: m for m in (
    ImageNetModel("alexnet", "AlexNet", alexnet.IMAGENET, alexnet.imagenet_model),
    ImageNetModel("vgg16", "VGG-16", deconvnet.VGG16, deconvnet.vgg16),
)}


def how_to_get(problem: str) -> str:
    return (f"{problem}. The authors' cue-conflict images are not shipped with the gallery (no licence is "
            f"stated for them): `git clone {REPOSITORY_URL}` and set {ENV_VAR} to that folder (or to its "
            f"{STIMULI_PATH.as_posix()} folder); the checkout also provides the 16-category ImageNet index "
            f"lists ({CATEGORIES_PATH.as_posix()}).")


# --------------------------------------------------------------------------- the checkout
@dataclass(frozen=True)
class Checkout:
    stimuli: Path  # .../stimuli/style-transfer-preprocessed-512: one folder per shape category
    categories_file: Path  # .../code/helper/human_categories.py


def _is_stimuli_folder(folder: Path) -> bool:
    return folder.is_dir() and any(STIMULUS_NAME.fullmatch(p.name) for sub in folder.iterdir() if sub.is_dir()
                                   for p in sub.glob("*.png"))


def locate(directory: str | Path | None = None) -> Checkout:
    """The checkout named by `directory` (default: $GALLERY_CUE_CONFLICT_DIR): its root or its
    stimuli folder itself. Raises CueConflictUnavailable saying how to get it."""
    raw = os.environ.get(ENV_VAR, "") if directory is None else str(directory)
    if not raw.strip():
        raise CueConflictUnavailable(how_to_get(f"{ENV_VAR} is not set"))
    base = Path(raw).expanduser()
    if _is_stimuli_folder(base / STIMULI_PATH):
        root, stimuli = base, base / STIMULI_PATH
    elif _is_stimuli_folder(base):
        root, stimuli = base.parent.parent, base  # <root>/stimuli/style-transfer-preprocessed-512
    else:
        raise CueConflictUnavailable(how_to_get(f"No cue-conflict stimuli found in {ENV_VAR} ({base.name or raw})"))
    categories = root / CATEGORIES_PATH
    if not categories.is_file():
        raise CueConflictUnavailable(how_to_get(f"The checkout lacks {CATEGORIES_PATH.as_posix()}"))
    return Checkout(stimuli, categories)


def parse_category_indices(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The authors' `<category>_indices` lists of class `HumanCategories`, read with `ast`
    (literal lists only; the file is never imported or executed), by category name, sorted
    (the authors iterate over `sorted(categories)`)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=Path(path).name)
    found = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == CATEGORIES_CLASS]
    if not found:
        raise ValueError(f"{Path(path).name}: no class {CATEGORIES_CLASS}")
    indices = {}
    for node in found[0].body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.endswith(INDICES_SUFFIX)):
            continue
        name = node.targets[0].id[:-len(INDICES_SUFFIX)]
        values = ast.literal_eval(node.value)  # literals only: a call or a name raises ValueError
        if not (isinstance(values, (list, tuple)) and values
                and all(type(v) is int and 0 <= v < NUM_IMAGENET_CLASSES for v in values)):
            raise ValueError(f"{Path(path).name}: {node.targets[0].id} is not a list of ImageNet class indices")
        indices[name] = tuple(values)
    if not indices:
        raise ValueError(f"{Path(path).name}: no <category>{INDICES_SUFFIX} lists in {CATEGORIES_CLASS}")
    return dict(sorted(indices.items()))


@dataclass(frozen=True)
class Stimulus:
    path: Path
    shape: str  # the category of the photo the image was made from (its folder)
    texture: str  # the category of the style image

    @property
    def conflict(self) -> bool:
        return self.shape != self.texture


def list_stimuli(stimuli_dir: Path, categories) -> list[Stimulus]:
    """Every `<shape><n>-<texture><m>.png` in a shape category's folder, both categories known."""
    found = []
    for folder in sorted(p for p in Path(stimuli_dir).iterdir() if p.is_dir() and p.name in categories):
        for path in sorted(folder.glob("*.png")):
            match = STIMULUS_NAME.fullmatch(path.name)
            if match and match["shape"] == folder.name and match["texture"] in categories:
                found.append(Stimulus(path, match["shape"], match["texture"]))
    return found


def balanced_order(stimuli: list[Stimulus], seed: int = 0) -> list[Stimulus]:
    """Round robin over shape categories, each shuffled by `seed`: any prefix is balanced."""
    rng = np.random.default_rng(seed)
    groups = {}
    for s in stimuli:
        groups.setdefault(s.shape, []).append(s)
    queues = [[group[i] for i in rng.permutation(len(group))] for _, group in sorted(groups.items())]
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


@dataclass(frozen=True)
class Plan:
    stimuli: list[Stimulus]  # cue-conflict images to classify, in a balanced order
    excluded: int  # conflict-free images (shape = texture) left out
    indices: dict[str, tuple[int, ...]]  # category -> its ImageNet class indices


def plan(checkout: Checkout, limit: int | None = None, seed: int = 0) -> Plan:
    """The images a measurement classifies: conflict-free ones excluded, at most `limit`."""
    indices = parse_category_indices(checkout.categories_file)
    every = list_stimuli(checkout.stimuli, indices)
    if not every:
        raise CueConflictUnavailable(how_to_get("No stimuli named <shape><n>-<texture><m>.png were found"))
    conflict = [s for s in every if s.conflict]
    ordered = balanced_order(conflict, seed)
    return Plan(ordered if limit is None else ordered[:max(0, int(limit))], len(every) - len(conflict), indices)


# --------------------------------------------------------------------------- ImageNet -> 16 categories
def aggregate(probabilities: np.ndarray, indices: dict[str, tuple[int, ...]]) -> np.ndarray:
    """(N, 1000) softmax -> (N, K): each category's *mean* fine-grained probability (the authors'
    ImageNetProbabilitiesTo16ClassesMapping with its default np.mean)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return np.stack([probabilities[:, list(idx)].mean(axis=1) for idx in indices.values()], axis=1)


def decide(probabilities: np.ndarray, indices: dict[str, tuple[int, ...]]) -> list[str]:
    """The 16-class decision per image: the category with the largest mean (first one on ties)."""
    names = list(indices)
    return [names[k] for k in aggregate(probabilities, indices).argmax(axis=1)]


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@torch.inference_mode()
def softmax(model: nn.Module, stimuli: list[Stimulus]) -> np.ndarray:
    """(N, 1000) ImageNet probabilities, torchvision's evaluation transform, fp32."""
    model.eval()
    device = next(model.parameters()).device
    batch = torch.cat([alexnet.preprocess(load_rgb(s.path)) for s in stimuli])  # (N, 3, 224, 224)
    return model(batch.to(device)).float().softmax(-1).cpu().numpy()


class ProbabilityCache:
    """Softmax outputs per (model, image file), kept for the process: a second measurement of the
    same images (a larger subset, the other model) classifies only what is new."""

    def __init__(self, max_entries: int = 8 * 1280):
        self._store: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, model: str, path: Path):
        with self._lock:
            return self._store.get((model, str(path)))

    def put(self, model: str, path: Path, probabilities: np.ndarray) -> None:
        with self._lock:
            if len(self._store) >= self.max_entries:
                self._store.pop(next(iter(self._store)))
            self._store[(model, str(path))] = probabilities.astype(np.float32)

    def clear(self) -> None:
        with self._lock:
            self._store.clear()

    def __len__(self) -> int:
        return len(self._store)


PROCESS_CACHE = ProbabilityCache()


def _probabilities(key: str, model: nn.Module, batch: list[Stimulus], cache: ProbabilityCache | None) -> np.ndarray:
    cached = [None if cache is None else cache.get(key, s.path) for s in batch]
    todo = [s for s, c in zip(batch, cached) if c is None]
    fresh = iter(softmax(model, todo)) if todo else iter(())
    rows = []
    for s, c in zip(batch, cached):
        if c is None:
            c = next(fresh)
            if cache is not None:
                cache.put(key, s.path, c)
        rows.append(c)
    return np.stack(rows)  # (B, 1000)


# --------------------------------------------------------------------------- the measurement
@dataclass
class Measurement:
    stimuli: list[Stimulus]  # the planned images, in evaluation order
    categories: tuple[str, ...]
    excluded: int  # conflict-free images left out
    decisions: dict[str, list[str]] = field(default_factory=dict)  # model -> one decision per classified image
    elapsed_s: float = 0.0
    done: bool = False
    reason: str = ""

    def evaluated(self, model: str) -> int:
        return len(self.decisions.get(model, []))

    def cue_decisions(self, model: str, shape: str | None = None) -> CueDecisions:
        """Shape / texture / neither counts of `model`'s decisions (of one shape category)."""
        code = {c: k for k, c in enumerate(self.categories)}
        rows = [(code[d], code[s.shape], code[s.texture]) for s, d in zip(self.stimuli, self.decisions.get(model, []))
                if shape is None or s.shape == shape]
        p, s, t = torch.tensor(rows, dtype=torch.long).reshape(-1, 3).unbind(1)
        return cue_decisions(p, s, t)

    def shape_bias(self, model: str) -> float:
        """Shape decisions / (shape + texture decisions), in % (NaN without any)."""
        return 100 * self.cue_decisions(model).shape_bias

    def per_category(self, model: str) -> dict[str, float]:
        """Fig. 4: shape bias (%) of the images of each shape category."""
        return {c: 100 * self.cue_decisions(model, c).shape_bias for c in self.categories}


def run(models: dict[str, nn.Module], chosen: Plan, budget_s: float = math.inf, batch_size: int = BATCH_SIZE,
        cache: ProbabilityCache | None = None) -> Iterator[Measurement]:
    """Classify the planned images with every model, batch by batch (all models on the same
    images), yielding the measurement so far after each batch; stops at `budget_s`."""
    state = Measurement(chosen.stimuli, tuple(chosen.indices), chosen.excluded, {k: [] for k in models})
    start = time.perf_counter()
    for first in range(0, len(chosen.stimuli), batch_size):
        batch = chosen.stimuli[first:first + batch_size]
        for key, model in models.items():
            state.decisions[key] += decide(_probabilities(key, model, batch, cache), chosen.indices)
        state.elapsed_s = time.perf_counter() - start
        if first + batch_size >= len(chosen.stimuli):
            break
        if state.elapsed_s >= budget_s:
            state.reason = f"time budget of {budget_s:.0f} s reached"
            break
        yield state
    state.done, state.reason = True, state.reason or "all images classified"
    yield state


# --------------------------------------------------------------------------- experiments
def _measure(key: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        """Deterministic on the full set (seed: which balanced subset `--quick` takes)."""
        chosen = plan(locate(), QUICK_IMAGES if quick else None, seed=seed)
        *_, last = run({key: MODELS[key].load()}, chosen)
        return {"ours": last.shape_bias(key)}
    return measure


def _experiments():
    from papers.results import Experiment, Paper

    return [Experiment(
        f"{key}_shape_bias",
        f"torchvision's ImageNet {m.label} decides the authors' cue-conflict images mostly by texture "
        "(fewer shape than texture decisions)",
        "% shape decisions / (shape + texture decisions), the authors' cue-conflict images without the "
        "conflict-free ones, 16-class decision by the mean of each category's ImageNet probabilities",
        _measure(key), seeds=1, higher_is_better=None, digits=1,
        paper=Paper(PUBLISHED_SHAPE_BIAS[key], PUBLISHED_WHERE,
                    "the same torchvision weights; the paper's Fig. 4 shows caffe models (higher shape bias)"),
        labels={"ours": f"{m.label} (torchvision, ImageNet)"})
        for key, m in MODELS.items()]


EXPERIMENTS = _experiments()
