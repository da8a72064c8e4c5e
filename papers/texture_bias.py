"""ImageNet-trained CNNs are biased towards texture; increasing shape bias improves accuracy and
robustness — Geirhos, Rubisch, Michaelis, Bethge, Wichmann & Brendel, ICLR 2019.
arXiv:1811.12231 (https://arxiv.org/abs/1811.12231).

Shown a *cue-conflict* image (the shape of one class, the texture of another, made with
Gatys-style transfer), ImageNet CNNs mostly answer with the texture class, people with the
shape class. Training on Stylized-ImageNet, where style transfer randomises every image's
texture so that only shape predicts the class, raises a ResNet-50's shape bias from about a
fifth to about four fifths (people decide almost always by shape). Shape bias = shape decisions /
(shape + texture decisions), over cue-conflict images only, counting only decisions that match
one of the two cues (Sec. 2). Measured here: results/texture-bias.json → shape_bias (stylized vs
natural, with the paper's figures), natural_shape_bias, own_data_accuracy
(`python -m papers.reproduce texture-bias`).

Here the claim is reproduced at small scale, offline, in seconds: two identical small CNNs are
trained on generated silhouettes filled with textures — "natural" data, where each class
mostly comes with its own texture, and "stylized" data, where the texture is random — and
both are then tested on cue-conflict silhouettes. In the stylized data texture carries no class
information, so that model's shape bias is built in; what the run shows is that the natural model
learns to decide by texture when texture predicts the class. The control
(shape_bias_vs_texture_match) retrains the natural model with its class's texture from 1/6 of
the time (texture says nothing about the class) to always: the shape bias follows.

Deviations from the paper:
- Data: 6 generated classes (32×32 grey silhouettes: circle, square, triangle, star, cross,
  heart) instead of 16 ImageNet categories; textures are scikit-image's brick/grass/gravel
  photos and three procedural ones, pasted inside the silhouette instead of style-transferred
  over a photo (the style-transfer route is available in the tab when VGG-19 weights are).
- "Natural" data ties each class to its texture with probability `texture_match` (0.9),
  standing in for ImageNet, where texture is a strong but imperfect cue.
- Models: a 3-layer CNN (about 25k parameters), trained from scratch for seconds, not a
  ResNet-50 trained for days. Per-class shape bias is grouped by the shape's class.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from papers.checkpoints import get_device, seeded_init



# --------------------------------------------------------------------------- configuration
SHAPES = ("circle", "square", "triangle", "star", "cross", "heart")
TEXTURES = ("brick", "grass", "gravel", "stripes", "checker", "dots")  # TEXTURES[k] goes with SHAPES[k]
IMAGE_SIZE = 32
TEXTURE_BANK = 128  # side of each pre-rendered texture sheet patches are cut from
BACKGROUND = 0.5
PAPER_SHAPE_BIAS = {  # Geirhos et al. 2019, Fig. 5 / Table 2 (means over 16 categories)
    "ResNet-50, ImageNet (paper)": 0.22,
    "ResNet-50, Stylized-ImageNet (paper)": 0.81,
    "humans (paper)": 0.96,
}
REGIMES = ("natural", "stylized")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 120  # per model
    batch_size: int = 32
    lr: float = 3e-3
    texture_match: float = 0.9  # P(class texture) in "natural" data
    time_budget_s: float = 30.0
    eval_every: int = 50
    conflicts_per_pair: int = 8  # cue-conflict test images per (shape, texture) pair
    seed: int = 0


# --------------------------------------------------------------------------- silhouettes
def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    angles = np.arange(2 * points) * math.pi / points - math.pi / 2
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def _regular(sides: int) -> np.ndarray:
    angles = np.arange(sides) * 2 * math.pi / sides - math.pi / 2 + (math.pi / sides if sides == 4 else 0)
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def _cross(arm: float = 0.36) -> np.ndarray:
    a, b = arm, 1.0
    return np.array([(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b),
                     (-a, a), (-b, a), (-b, -a), (-a, -a)])


def _heart(n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)  # the classic heart curve
    x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y], 1) / 16.0


OUTLINES = {  # unit outlines, (V, 2) x/y in about [-1, 1]
    "circle": _regular(48), "square": _regular(4) * 0.85,
    "triangle": _regular(3), "star": _star(), "cross": _cross(), "heart": _heart(),
}


def silhouette(shape: str, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """A randomly scaled, rotated and shifted filled outline: (size, size) bool mask."""
    from skimage.draw import polygon2mask

    outline = OUTLINES[shape]
    angle = rng.uniform(-0.4, 0.4)  # radians; small, so a square stays a square, not a diamond
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    radius = size * rng.uniform(0.28, 0.40)
    centre = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    xy = outline @ rotation.T * radius + centre  # (V, 2)
    return polygon2mask((size, size), xy[:, ::-1])  # polygon2mask wants (row, col)


# --------------------------------------------------------------------------- textures
def _standardise(sheet: np.ndarray) -> np.ndarray:
    """Mean 0.5, std 0.2: brightness and contrast are not a cue, only the pattern is."""
    sheet = sheet.astype(np.float32)
    return np.clip((sheet - sheet.mean()) / max(sheet.std(), 1e-6) * 0.2 + 0.5, 0, 1)


def _photo_sheet(name: str) -> np.ndarray:
    from skimage import data

    grey = getattr(data, name)()  # (512, 512) uint8, bundled with scikit-image
    return np.asarray(Image.fromarray(grey).resize((TEXTURE_BANK, TEXTURE_BANK), Image.BILINEAR))


def texture_sheet_from_image(grey: np.ndarray) -> np.ndarray:
    """Any (H, W) grey image -> a standardised (TEXTURE_BANK, TEXTURE_BANK) texture sheet."""
    side = min(grey.shape)
    top, left = (grey.shape[0] - side) // 2, (grey.shape[1] - side) // 2
    square = Image.fromarray(grey[top:top + side, left:left + side].astype(np.uint8))
    return _standardise(np.asarray(square.resize((TEXTURE_BANK, TEXTURE_BANK), Image.BILINEAR)))


def _procedural_sheet(name: str) -> np.ndarray:
    y, x = np.mgrid[:TEXTURE_BANK, :TEXTURE_BANK].astype(np.float32)
    if name == "stripes":  # diagonal stripes, period ~5 px
        return (np.sin((x + y) * 2 * math.pi / (5 * math.sqrt(2))) > 0).astype(np.float32)
    if name == "checker":  # 4-px squares
        return ((x // 4 + y // 4) % 2).astype(np.float32)
    if name == "dots":  # dots of radius 1.5 px on a 6-px grid
        return (((x % 6) - 2.5) ** 2 + ((y % 6) - 2.5) ** 2 < 2.3 ** 2).astype(np.float32)
    raise ValueError(f"unknown texture {name!r}")


@functools.cache
def texture_sheets() -> tuple[np.ndarray, ...]:
    """One standardised (TEXTURE_BANK, TEXTURE_BANK) float sheet per entry of TEXTURES."""
    return tuple(_standardise(_photo_sheet(n) if n in ("brick", "grass", "gravel") else _procedural_sheet(n))
                 for n in TEXTURES)


def texture_patch(sheet: np.ndarray, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """A random (size, size) crop of a texture sheet, randomly flipped."""
    top, left = rng.integers(0, sheet.shape[0] - size + 1), rng.integers(0, sheet.shape[1] - size + 1)
    patch = sheet[top:top + size, left:left + size]
    return patch[:, ::-1] if rng.random() < 0.5 else patch


def compose(mask: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """The texture inside the silhouette, plain grey outside: (size, size) float in [0, 1]."""
    return np.where(mask, texture, BACKGROUND).astype(np.float32)


# --------------------------------------------------------------------------- data sets
def sample_batch(regime: str, n: int, rng: np.random.Generator, texture_match: float = 0.9):
    """`n` images of random classes. "natural": class k wears texture k with probability
    `texture_match`, else another; "stylized": any texture (the Stylized-ImageNet idea).
    Returns images (n, 1, S, S), labels (n,), texture ids (n,)."""
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}")
    k = len(SHAPES)
    labels = rng.integers(0, k, n)
    if regime == "natural":
        other = (labels + rng.integers(1, k, n)) % k  # a texture that is not the class's
        textures = np.where(rng.random(n) < texture_match, labels, other)
    else:
        textures = rng.integers(0, k, n)
    sheets = texture_sheets()
    images = np.stack([compose(silhouette(SHAPES[c], rng), texture_patch(sheets[t], rng))
                       for c, t in zip(labels, textures)])
    return torch.from_numpy(images)[:, None], torch.from_numpy(labels), torch.from_numpy(textures)


def cue_conflict_set(per_pair: int, seed: int = 12345):
    """Every (shape a, texture b) pair with a != b, `per_pair` times: images (N, 1, S, S),
    shape labels (N,), texture labels (N,)."""
    rng = np.random.default_rng(seed)
    sheets = texture_sheets()
    pairs = [(a, b) for a in range(len(SHAPES)) for b in range(len(TEXTURES)) if a != b] * per_pair
    images = np.stack([compose(silhouette(SHAPES[a], rng), texture_patch(sheets[b], rng)) for a, b in pairs])
    shapes, textures = zip(*pairs)
    return torch.from_numpy(images)[:, None], torch.tensor(shapes), torch.tensor(textures)


# --------------------------------------------------------------------------- the model
class SmallCNN(nn.Module):
    """Three conv-BN-ReLU-maxpool stages, global average pooling and a linear classifier,
    like a tiny ResNet-50 without the residuals (identical for both regimes)."""

    def __init__(self, channels=(16, 32, 64), classes: int = len(SHAPES)):
        super().__init__()
        layers, in_ch = [], 1
        for out_ch in channels:
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch),
                       nn.ReLU(), nn.MaxPool2d(2)]
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_ch, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, S, S) in [0, 1] -> logits (B, classes)."""
        features = self.features(x - BACKGROUND)  # (B, C, S/8, S/8)
        return self.classifier(features.mean(dim=(2, 3)))  # global average pool, as ResNet-50: (B, C)


# --------------------------------------------------------------------------- shape bias
@dataclass
class CueDecisions:
    shape: int
    texture: int
    neither: int

    @property
    def shape_bias(self) -> float:
        """Shape decisions / (shape + texture decisions) (Sec. 2); NaN when there are none."""
        hits = self.shape + self.texture
        return self.shape / hits if hits else float("nan")


def cue_decisions(predictions: torch.Tensor, shapes: torch.Tensor, textures: torch.Tensor) -> CueDecisions:
    """Count decisions on cue-conflict images. Only images whose cues differ count."""
    conflict = shapes != textures
    p, s, t = predictions[conflict], shapes[conflict], textures[conflict]
    shape_hits, texture_hits = int((p == s).sum()), int((p == t).sum())
    return CueDecisions(shape_hits, texture_hits, len(p) - shape_hits - texture_hits)


def shape_bias_per_class(predictions, shapes, textures) -> dict[str, float]:
    """Shape bias of the images whose *shape* is each class."""
    return {name: cue_decisions(predictions[shapes == k], shapes[shapes == k], textures[shapes == k]).shape_bias
            for k, name in enumerate(SHAPES)}


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return model(images.to(device)).argmax(1).cpu()


@torch.inference_mode()
def probabilities(model: nn.Module, image: np.ndarray) -> dict[str, float]:
    """One (S, S) float image -> {class: probability}."""
    model.eval()
    device = next(model.parameters()).device
    probs = F.softmax(model(torch.from_numpy(image.astype(np.float32))[None, None].to(device)), 1)[0].cpu()
    return {name: float(p) for name, p in zip(SHAPES, probs)}


# --------------------------------------------------------------------------- training both
@dataclass
class TrainProgress:
    step: int
    elapsed_s: float
    loss: dict  # regime -> latest training loss
    accuracy: dict  # regime -> accuracy on its own held-out data
    decisions: dict  # regime -> CueDecisions on the cue-conflict set
    models: dict  # regime -> SmallCNN
    done: bool = False
    reason: str = ""

    def shape_bias(self) -> dict[str, float]:
        return {r: d.shape_bias for r, d in self.decisions.items()}


def evaluate(models: dict, held_out: dict, conflicts) -> tuple[dict, dict]:
    accuracy = {r: float((predict(m, held_out[r][0]) == held_out[r][1]).float().mean()) for r, m in models.items()}
    images, shapes, textures = conflicts
    decisions = {r: cue_decisions(predict(m, images), shapes, textures) for r, m in models.items()}
    return accuracy, decisions


def train_both(config: TrainConfig = TrainConfig(), regimes: tuple[str, ...] = REGIMES) -> Iterator[TrainProgress]:
    """Train two identical CNNs (same initial weights), one per regime, step by step in turn;
    yields progress every `eval_every` steps and at the end (`steps` or the time budget).
    `regimes=("natural",)` trains only that one (the texture-correlation control)."""
    with seeded_init(config.seed):  # same weights as seeding torch, without touching its global RNG
        initial = SmallCNN()
    device = get_device()
    models = {r: SmallCNN().to(device) for r in regimes}
    for model in models.values():
        model.load_state_dict(initial.state_dict())
    optimisers = {r: torch.optim.Adam(m.parameters(), lr=config.lr) for r, m in models.items()}
    rngs = {r: np.random.default_rng([config.seed, REGIMES.index(r)]) for r in regimes}
    eval_rng = np.random.default_rng([config.seed, 99])
    held_out = {r: sample_batch(r, 300, eval_rng, config.texture_match)[:2] for r in REGIMES if r in regimes}
    conflicts = cue_conflict_set(config.conflicts_per_pair, seed=config.seed + 12345)
    held_out = {r: (images.to(device), labels) for r, (images, labels) in held_out.items()}  # images stay on the device
    conflicts = (conflicts[0].to(device), *conflicts[1:])

    start, losses, step, reason = time.perf_counter(), {}, 0, "steps done"
    while step < config.steps:
        for regime, model in models.items():
            images, labels, _ = sample_batch(regime, config.batch_size, rngs[regime], config.texture_match)
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            model.train()
            loss = F.cross_entropy(model(images), labels)
            optimisers[regime].zero_grad()
            loss.backward()
            optimisers[regime].step()
            losses[regime] = loss.detach()  # read (one sync) only when progress is reported
        step += 1
        elapsed = time.perf_counter() - start
        if elapsed > config.time_budget_s:
            reason = f"time budget ({config.time_budget_s:.0f} s) reached"
            break
        if step % config.eval_every == 0 and step < config.steps:
            accuracy, decisions = evaluate(models, held_out, conflicts)
            yield TrainProgress(step, elapsed, {r: float(v) for r, v in losses.items()}, accuracy, decisions, models)
    accuracy, decisions = evaluate(models, held_out, conflicts)
    yield TrainProgress(step, time.perf_counter() - start, {r: float(v) for r, v in losses.items()}, accuracy,
                        decisions, models,
                        done=True, reason=reason)


def final_result(config: TrainConfig) -> TrainProgress:
    *_, last = train_both(config)
    return last


def to_model_image(rgb: np.ndarray) -> np.ndarray:
    """Any (H, W[, 3]) uint8 picture -> the models' input: (S, S) grey float in [0, 1]."""
    grey = rgb.mean(axis=2) if rgb.ndim == 3 else rgb
    small = Image.fromarray(grey.astype(np.uint8)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


# ---- experiments behind the claims
EXPERIMENT_STEPS = {False: TrainConfig.steps, True: 40}  # quick -> steps per model


@functools.lru_cache(maxsize=8)
def _trained_pair(seed: int, quick: bool) -> TrainProgress:
    """Both CNNs trained at the tab's defaults for `seed` (no time budget: the same steps on
    any machine); shared by the claims below so each seed trains once."""
    config = TrainConfig(steps=EXPERIMENT_STEPS[quick], time_budget_s=math.inf, seed=seed)
    return final_result(config)


def _measure_shape_bias(seed: int, quick: bool) -> dict[str, float]:
    bias = _trained_pair(seed, quick).shape_bias()
    return {"ours": 100 * bias["stylized"], "natural": 100 * bias["natural"]}


def _measure_natural_shape_bias(seed: int, quick: bool) -> dict[str, float]:
    return {"ours": 100 * _trained_pair(seed, quick).shape_bias()["natural"]}


def _measure_accuracy(seed: int, quick: bool) -> dict[str, float]:
    accuracy = _trained_pair(seed, quick).accuracy
    return {"ours": 100 * accuracy["stylized"], "natural": 100 * accuracy["natural"]}


TEXTURE_MATCHES = (1 / 6, 0.4, 0.6, 0.8, 0.9, 1.0)  # the control: how often a class wears its own texture


def match_key(match: float) -> str:
    """The results key of one texture-label correlation (e.g. "match_17" for 1/6)."""
    return f"match_{round(100 * match)}"


def _measure_bias_vs_match(seed: int, quick: bool) -> dict[str, float]:
    """The natural model alone, retrained at each texture-label correlation (1/6: texture says
    nothing about the class, like stylized data; 1: always the class's own texture)."""
    bias = {}
    for match in TEXTURE_MATCHES:
        config = TrainConfig(steps=EXPERIMENT_STEPS[quick], time_budget_s=math.inf, seed=seed, texture_match=match)
        *_, last = train_both(config, regimes=("natural",))
        bias[match_key(match)] = 100 * last.shape_bias()["natural"]
    bias["ours"] = bias.pop(match_key(TrainConfig.texture_match))
    return bias


def _experiments():
    from papers.results import Experiment, Paper

    paper = PAPER_SHAPE_BIAS
    budget = f"{TrainConfig.steps} steps of {TrainConfig.batch_size} images per model"
    return [
        Experiment(
            "shape_bias",
            "Training on stylized data (random texture) raises the shape bias on cue-conflict images "
            "above the natural-trained CNN's (" + budget + ")",
            "% shape decisions / (shape + texture decisions), 240 cue-conflict silhouettes",
            _measure_shape_bias, seeds=5, higher_is_better=True, digits=1,
            paper=Paper(100 * paper["ResNet-50, Stylized-ImageNet (paper)"], "Fig. 5 / Table 2",
                        "ResNet-50 trained on Stylized-ImageNet, 16-class ImageNet cue-conflict stimuli; "
                        f"trained on ImageNet: {100 * paper['ResNet-50, ImageNet (paper)']:.0f} %; "
                        f"humans: {100 * paper['humans (paper)']:.0f} %"),
            labels={"ours": "stylized-trained CNN", "natural": "natural-trained CNN"}),
        Experiment(
            "natural_shape_bias",
            "The natural-trained CNN (class texture 90 % of the time) decides mostly by texture (" + budget + ")",
            "% shape decisions / (shape + texture decisions), 240 cue-conflict silhouettes",
            _measure_natural_shape_bias, seeds=5, higher_is_better=None, digits=1,
            paper=Paper(100 * paper["ResNet-50, ImageNet (paper)"], "Fig. 5 / Table 2",
                        "ResNet-50 trained on ImageNet, 16-class cue-conflict stimuli")),
        Experiment(
            "shape_bias_vs_texture_match",
            "The control: the natural-trained CNN's shape bias falls as texture predicts the class more often "
            "(the class's own texture in 1/6 of the images, i.e. texture independent of the class as in stylized "
            f"data, up to 100 %; ours: {TrainConfig.texture_match:.0%}, the tab's default; " + budget + ")",
            "% shape decisions / (shape + texture decisions), 240 cue-conflict silhouettes",
            _measure_bias_vs_match, seeds=3, higher_is_better=None, digits=1,
            labels={match_key(m): f"class texture {m:.0%} of the time" for m in TEXTURE_MATCHES}),
        Experiment(
            "own_data_accuracy",
            "Held-out accuracy of each CNN on data like its own training data (" + budget + ")",
            "% correct, 300 held-out images per regime",
            _measure_accuracy, seeds=5, higher_is_better=True, digits=1,
            labels={"ours": "stylized-trained CNN on stylized data", "natural": "natural-trained CNN on natural data"}),
    ]


EXPERIMENTS = _experiments()
