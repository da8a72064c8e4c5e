"""U-Net: Convolutional Networks for Biomedical Image Segmentation.

Ronneberger, Fischer & Brox, MICCAI 2015. https://arxiv.org/abs/1505.04597

A contracting path (3×3 valid convolutions, ReLU, 2×2 max-pooling, channels doubled at each
step) and a symmetric expanding path (2×2 up-convolutions that halve the channels, concatenated
with the cropped feature map of the same level, two 3×3 convolutions), then a 1×1 convolution to
the classes (§2, Fig. 1). Because every convolution is valid, the output is smaller than the
input; arbitrarily large images are segmented seamlessly by the overlap-tile strategy with a
mirrored border (Fig. 2). Touching cells are separated by a pixel-wise weight map (Eq. 2) that
makes the thin background gaps between cells expensive to get wrong, and training data is
multiplied by elastic deformations (§3.1).

Deviations from the paper:
- CPU-sized: `base_channels=8` for the shipped model (the paper's 64 gives 31M parameters; the
  architecture is otherwise the paper's, and `UNet()` with defaults is the paper's size).
- Data: a procedural generator of microscopy-like images with touching cells, not the ISBI EM
  stacks or the PhC-U373/DIC-HeLa sets (not available offline).
- Optimiser: Adam, batch of 4 tiles of 212×212 output; the paper used SGD with momentum 0.99 and
  one large tile per batch.
- The border term of Eq. 2 is applied to background pixels only (where Fig. 3d shows it: the
  gaps between cells); inside a cell d₁ would be 0 and the term is not meaningful.
- Instances are read from the prediction as connected components of the "cell" class, with the
  touching borders labelled background as the paper does for its targets.
- Input: one grey channel, standardised per image (zero mean, unit variance).
- Evaluation: the paper's ISBI measures (warping, Rand and pixel error) need EM stacks; here
  foreground IoU, object-count error and instance precision/recall/F1 at IoU > 0.5 (a merge of
  two cells misses both, which foreground IoU does not show), against a classical baseline
  (Otsu threshold + distance-transform watershed, scikit-image), on held-out synthetic images
  and on real U2OS nuclei (Coelho et al. 2009; read from ../shared/data, reduced 4× so nuclei
  have the training cells' size). The weight-map ablation is trained at a small budget
  (150 steps of 2 tiles of 100 px), not the shipped 300 steps of 4 tiles of 212 px.

Measured: results/unet.json → synthetic_iou / _f1 / _recall / _count_error (shipped model vs
Otsu + watershed), u2os_f1 / _recall / _iou (real nuclei), weight_map_* (with vs without Eq. 2,
3 seeds); `python -m papers.reproduce unet`.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import ndimage
from safetensors.torch import save_file

from papers.checkpoints import Checkpoint, cached_model, get_device, load_state_dict


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 1
    num_classes: int = 2  # background, cell
    base_channels: int = 64  # the paper's; the shipped CPU model uses 8
    depth: int = 4  # number of 2×2 poolings (the paper's four)


# --------------------------------------------------------------------------- building blocks
class DoubleConv(nn.Sequential):
    """Two 3×3 unpadded convolutions, each followed by a ReLU (§2). Shrinks H and W by 4."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3), nn.ReLU(inplace=True),
        )


def center_crop(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The "copy and crop" of Fig. 1: cut the centre of a contracting-path map to size."""
    top = (features.shape[-2] - height) // 2
    left = (features.shape[-1] - width) // 2
    return features[..., top:top + height, left:left + width]


class UpStep(nn.Module):
    """2×2 up-convolution halving the channels, concatenation with the cropped skip, DoubleConv."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, in_channels // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)  # (B, C/2, 2H, 2W)
        skip = center_crop(skip, x.shape[-2], x.shape[-1])  # (B, C/2, 2H, 2W)
        return self.conv(torch.cat([skip, x], dim=1))  # (B, C/2, 2H-4, 2W-4)


class UNet(nn.Module):
    """The U-Net of Fig. 1. With the default config a 572×572 input gives a 388×388 output."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, base_channels: int = 64, depth: int = 4):
        super().__init__()
        self.config = UNetConfig(in_channels, num_classes, base_channels, depth)
        widths = [base_channels * 2 ** level for level in range(depth + 1)]  # 64, 128, ..., 1024
        self.down = nn.ModuleList([DoubleConv(in_channels, widths[0])] + [
            DoubleConv(widths[level - 1], widths[level]) for level in range(1, depth + 1)])
        self.up = nn.ModuleList([UpStep(widths[level]) for level in range(depth, 0, -1)])
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.down):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        x = skips.pop()  # the bottom of the U
        for step in self.up:
            x = step(x, skips.pop())
        return self.head(x)  # (B, num_classes, H_out, W_out)


# --------------------------------------------------------------------------- sizes
def output_size(input_size: int, depth: int = 4) -> int | None:
    """Output side for an input side, or None when a 2×2 pooling would meet an odd size."""
    size = input_size
    for _ in range(depth):
        size -= 4
        if size <= 0 or size % 2:
            return None
        size //= 2
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    return size if size > 0 else None


def input_size_for(output: int, depth: int = 4) -> int:
    """The smallest valid input side whose output side is at least `output`."""
    size = 1
    while output_size(size, depth) is None or output_size(size, depth) < output:
        size += 1
    return size


def border(depth: int = 4) -> int:
    """Pixels lost on each side by the valid convolutions (92 for the paper's depth 4)."""
    size = input_size_for(1, depth)
    return (size - output_size(size, depth)) // 2


# --------------------------------------------------------------------------- overlap-tile (Fig. 2)
def mirror_pad(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Extrapolate the missing context by mirroring the image (Fig. 2)."""
    pad = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="reflect" if min(image.shape[:2]) > 1 else "edge")


def tile_grid(height: int, width: int, tile_output: int, depth: int) -> tuple[int, list[tuple[int, int]]]:
    """Tile step and the output-space corners of the tiles covering (height, width).

    The step is the tile's output side rounded down to a multiple of 2**depth, so that every
    tile's pooling grid is aligned with the whole image's: tiles then fit seamlessly."""
    step = tile_output - tile_output % 2 ** depth
    rows = range(0, max(height - tile_output, 0) + step, step)
    cols = range(0, max(width - tile_output, 0) + step, step)
    corners = [(y, x) for y in rows for x in cols]
    return step, corners


@torch.inference_mode()
def predict_logits(model: UNet, image: np.ndarray, tile_output: int = 212,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Logits (num_classes, H, W) for a standardised grey image (H, W) of any size, by overlap-tile."""
    depth = model.config.depth
    tile_output = output_size(input_size_for(tile_output, depth), depth)
    tile_input = input_size_for(tile_output, depth)
    margin = (tile_input - tile_output) // 2
    height, width = image.shape
    step, corners = tile_grid(height, width, tile_output, depth)
    covered_h = max(y for y, _ in corners) + tile_output
    covered_w = max(x for _, x in corners) + tile_output
    padded = mirror_pad(image, margin, covered_h - height + margin, margin, covered_w - width + margin)
    device = next(model.parameters()).device
    logits = np.zeros((model.config.num_classes, covered_h, covered_w), np.float32)
    for index, (y, x) in enumerate(corners):
        tile = torch.from_numpy(np.ascontiguousarray(padded[y:y + tile_input, x:x + tile_input]))
        out = model(tile[None, None].float().to(device))[0].float().cpu().numpy()  # (K, T, T)
        # Later tiles overwrite the overlap; both compute the same values there.
        logits[:, y:y + tile_output, x:x + tile_output] = out
        if progress:
            progress(index + 1, len(corners))
    return logits[:, :height, :width]


# --------------------------------------------------------------------------- weight map (Eq. 2)
W0 = 10.0
SIGMA = 5.0


def separation_target(instances: np.ndarray) -> np.ndarray:
    """Cell (1) / background (0) target with touching borders labelled background (§3, Fig. 3)."""
    grown = ndimage.grey_dilation(instances, size=3)
    shrunk = -ndimage.grey_dilation(-np.where(instances > 0, instances, instances.max() + 1), size=3)
    touching = (instances > 0) & ((grown != instances) | (shrunk != instances))
    return ((instances > 0) & ~touching).astype(np.int64)


def class_balance_weights(target: np.ndarray) -> np.ndarray:
    """w_c(x): each class weighted by the inverse of its pixel frequency, normalised to mean 1."""
    counts = np.bincount(target.ravel(), minlength=2).astype(np.float64)
    per_class = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / (counts > 0).sum(), 0)
    return per_class[target]


def weight_map(instances: np.ndarray, w0: float = W0, sigma: float = SIGMA) -> np.ndarray:
    """Eq. 2: w(x) = w_c(x) + w0 · exp(-(d1(x) + d2(x))² / (2σ²)) on the background.

    d1, d2: distances to the border of the nearest and the second nearest cell."""
    target = separation_target(instances)
    weights = class_balance_weights(target)
    ids = [i for i in np.unique(instances) if i > 0]
    if len(ids) >= 2:
        distances = np.stack([ndimage.distance_transform_edt(instances != i) for i in ids])  # (N, H, W)
        nearest_two = np.partition(distances, 1, axis=0)[:2]  # (2, H, W): d1, d2
        border_term = w0 * np.exp(-(nearest_two.sum(axis=0) ** 2) / (2 * sigma ** 2))
        weights = weights + border_term * (target == 0)
    return weights.astype(np.float32)


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 1: the energy Σ w(x) · log p_l(x)(x), as a mean over pixels (soft-max over classes)."""
    per_pixel = F.cross_entropy(logits, target, reduction="none")  # (B, H, W)
    return (weights * per_pixel).mean()


# --------------------------------------------------------------------------- elastic deformation (§3.1)
def elastic_displacement(height: int, width: int, sigma: float = 10.0, grid: int = 3,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """Random displacement vectors on a coarse grid × grid, N(0, σ²) pixels, bicubically
    interpolated to a smooth per-pixel field (2, H, W) (§3.1)."""
    rng = rng or np.random.default_rng()
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid)).astype(np.float32)
    return np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse])


def elastic_deform(image: np.ndarray, displacement: np.ndarray, is_label: bool = False) -> np.ndarray:
    """Warp an image (or a label map, with nearest-neighbour sampling) by a displacement field."""
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = xs + displacement[0], ys + displacement[1]
    if is_label:
        return cv2.remap(image.astype(np.float32), map_x, map_y, cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_REFLECT_101).astype(image.dtype)
    return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


# --------------------------------------------------------------------------- synthetic microscopy
def synthetic_cells(size: int = 212, rng: np.random.Generator | None = None,
                    density: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A microscopy-like grey image (H, W) float32 in [0, 1] with many touching cells, and its
    instance map (H, W) int32 (0 = background). Cells: ellipses of varied size, elongation and
    orientation, textured, with nuclei; uneven illumination, blur and noise."""
    rng = rng or np.random.default_rng()
    instances = np.zeros((size, size), np.int32)
    n_cells = max(2, int(rng.integers(12, 28) * density * (size / 212) ** 2))
    centres = rng.uniform(0, size, size=(n_cells, 2))
    for index, (cy, cx) in enumerate(centres, start=1):
        major = rng.uniform(9, 22)
        minor = major * rng.uniform(0.55, 1.0)
        angle = rng.uniform(0, 180)
        cell = np.zeros_like(instances, np.uint8)
        cv2.ellipse(cell, (int(cx), int(cy)), (int(major), int(minor)), angle, 0, 360, 1, -1)
        # Wobbly outlines: a small random elastic warp of each cell.
        cell = elastic_deform(cell, elastic_displacement(size, size, sigma=3.0, grid=5, rng=rng), is_label=True)
        instances[(cell > 0) & (instances == 0)] = index  # later cells touch, never overlap
    # Renumber so ids are 1..N after cells fully hidden by others are dropped.
    ids = np.unique(instances)
    instances = np.searchsorted(ids, instances).astype(np.int32) if ids[0] == 0 else instances

    ys, xs = np.mgrid[0:size, 0:size] / size
    gx, gy = rng.uniform(-0.3, 0.3, size=2)
    illumination = 0.35 + gx * (xs - 0.5) + gy * (ys - 0.5)
    image = np.full((size, size), 0.15, np.float32) * illumination / 0.35
    brightness = rng.uniform(0.45, 0.9, size=instances.max() + 1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.5)
    inside = instances > 0
    interior = ndimage.distance_transform_edt(separation_target(instances) > 0)
    image[inside] = (brightness[instances] * (0.75 + 0.25 * np.clip(interior / 6, 0, 1)))[inside]
    image += 0.08 * texture * inside
    for index in range(1, instances.max() + 1):  # a darker nucleus in most cells
        cell_ys, cell_xs = np.nonzero(instances == index)
        if len(cell_ys) > 40 and rng.random() < 0.8:
            cv2.circle(image, (int(cell_xs.mean()), int(cell_ys.mean())), int(rng.integers(3, 6)),
                       float(brightness[index] * 0.6), -1)
    image = image * (illumination / 0.35).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.4))
    image += rng.normal(0, rng.uniform(0.01, 0.05), image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32), instances


def standardise(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    return (image - image.mean()) / (image.std() + 1e-6)


def grey_from_rgb(rgb: np.ndarray, invert: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float32 in [0, 1]; `invert` for dark cells on a bright background."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return 1.0 - grey if invert else grey


# --------------------------------------------------------------------------- checkpoint
SHIPPED_CONFIG = UNetConfig(base_channels=8)
CHECKPOINT = Checkpoint(
    name="U-Net (synthetic cells, weight map)",
    filename="unet_cells.safetensors",
    size_bytes=1_946_464,
    sha256="bfdce0fbb4e2793bb7a3a746ff2eecae4d3e68433ac0b768208f0707608c8b89",
    license="MIT (this project)",
    source="self-trained on papers.unet.synthetic_cells",
    reproduce="python -m papers.train unet",
    description="base_channels=8, depth 4, trained with the Eq. 2 weight map",
)


def build_model(config: UNetConfig = SHIPPED_CONFIG) -> UNet:
    return UNet(config.in_channels, config.num_classes, config.base_channels, config.depth)


@cached_model
def pretrained(device_name: str | None = None) -> UNet:
    device = torch.device(device_name) if device_name else get_device()
    model = build_model().to(device)
    model.load_state_dict(load_state_dict(CHECKPOINT, device))
    return model.eval()


# --------------------------------------------------------------------------- segmentation
@dataclass
class Segmentation:
    probability: np.ndarray  # (H, W) P(cell)
    instances: np.ndarray  # (H, W) int32, 0 = background
    count: int


def instances_from_probability(probability: np.ndarray, threshold: float = 0.5, min_area: int = 12) -> np.ndarray:
    """Connected components of the cell class (holes filled: a dark nucleus is still the cell);
    specks smaller than `min_area` pixels dropped."""
    labels, count = ndimage.label(ndimage.binary_fill_holes(probability > threshold))
    if count:
        areas = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
        keep = np.concatenate([[0], np.cumsum(areas >= min_area) * (areas >= min_area)])
        labels = keep[labels]
    return labels.astype(np.int32)


def segment(model: UNet, grey: np.ndarray, threshold: float = 0.5, tile_output: int = 212,
            progress: Callable[[int, int], None] | None = None) -> Segmentation:
    """A grey image (H, W) in [0, 1] -> cell probability and separated instances."""
    logits = predict_logits(model, standardise(grey), tile_output, progress)
    probability = torch.softmax(torch.from_numpy(logits), dim=0)[1].numpy()
    instances = instances_from_probability(probability, threshold)
    return Segmentation(probability, instances, int(instances.max()))


# --------------------------------------------------------------------------- metrics
def foreground_iou(predicted: np.ndarray, instances: np.ndarray) -> float:
    pred, true = predicted > 0, instances > 0
    union = (pred | true).sum()
    return float((pred & true).sum() / union) if union else 1.0


def count_error(predicted: np.ndarray, instances: np.ndarray) -> float:
    """Relative error of the number of separated objects: |found - true| / true."""
    true = len(np.unique(instances)) - 1
    found = len(np.unique(predicted)) - 1
    return abs(found - true) / max(true, 1)


# --------------------------------------------------------------------------- training
TRAIN_TILE = 212  # output side; input side 396 for depth 4


def training_batch(rng: np.random.Generator, batch: int, depth: int, use_weight_map: bool,
                   augment: bool = True, tile: int = TRAIN_TILE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mirror-padded inputs (B, 1, I, I), targets (B, T, T) and weights (B, T, T); T = `tile`
    must be a valid output side for `depth`."""
    margin = (input_size_for(tile, depth) - tile) // 2
    images, targets, weights = [], [], []
    for _ in range(batch):
        image, instances = synthetic_cells(tile, rng)
        if augment:
            field = elastic_displacement(tile, tile, sigma=10.0, rng=rng)
            image, instances = elastic_deform(image, field), elastic_deform(instances, field, is_label=True)
        images.append(mirror_pad(standardise(image), margin, margin, margin, margin))
        targets.append(separation_target(instances))
        weights.append(weight_map(instances) if use_weight_map else np.ones(instances.shape, np.float32))
    return (torch.from_numpy(np.stack(images))[:, None].float(), torch.from_numpy(np.stack(targets)),
            torch.from_numpy(np.stack(weights)))


def train_steps(model: UNet, steps: int | None = None, seconds: float | None = None, seed: int = 0,
                use_weight_map: bool = True, batch: int = 4, lr: float = 3e-3,
                tile: int = TRAIN_TILE) -> Iterator[dict]:
    """Train in place; yields {"step", "loss", "elapsed"} after every step until `steps` or `seconds`."""
    rng = np.random.default_rng(seed)  # every random draw of the loop (tiles, deformations) comes from here
    device = next(model.parameters()).device
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start, step = time.perf_counter(), 0
    try:
        while (steps is None or step < steps) and (seconds is None or time.perf_counter() - start < seconds):
            x, target, weights = training_batch(rng, batch, model.config.depth, use_weight_map, tile=tile)
            loss = weighted_cross_entropy(model(x.to(device)), target.to(device), weights.to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            yield {"step": step, "loss": loss.item(), "elapsed": time.perf_counter() - start}
    finally:
        model.eval()


def evaluate(model: UNet, n_images: int = 24, seed: int = 1234) -> dict:
    """Held-out synthetic images (a seed never used in training): foreground IoU, count error."""
    rng = np.random.default_rng(seed)
    ious, errors = [], []
    for _ in range(n_images):
        image, instances = synthetic_cells(256, rng)
        result = segment(model, image)
        ious.append(foreground_iou(result.instances, instances))
        errors.append(count_error(result.instances, instances))
    return {"iou": round(float(np.mean(ious)), 4), "count_error": round(float(np.mean(errors)), 4)}


TRAIN_STEPS = 300


def train(variant: str | None, out_dir: Path) -> dict:
    """`python -m papers.train unet`: the shipped model, trained with the Eq. 2 weight map.
    `python -m papers.train unet:no_weight_map`: the same training with uniform weights, for the
    comparison in weights/README.md (not shipped)."""
    use_weight_map = variant != "no_weight_map"
    torch.manual_seed(0)
    model = build_model()
    for record in train_steps(model, steps=TRAIN_STEPS, seed=0, use_weight_map=use_weight_map):
        if record["step"] % 25 == 0:
            print(f"step {record['step']} loss {record['loss']:.4f} ({record['elapsed']:.0f} s)", flush=True)
    name = CHECKPOINT.filename if use_weight_map else "unet_cells_no_weight_map.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / name))
    return {"weight_map": use_weight_map, "steps": TRAIN_STEPS, **evaluate(model)}


# --------------------------------------------------------------------------- instance metrics and a classical baseline
def matched_instances(predicted: np.ndarray, instances: np.ndarray, iou: float = 0.5) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) when a predicted object matches a true
    one with IoU > `iou` (above 0.5 a match is unique, so no assignment problem)."""
    true_ids, pred_ids = int(instances.max()), int(predicted.max())
    if true_ids == 0 or pred_ids == 0:
        n_true, n_pred = len(np.unique(instances)) - 1, len(np.unique(predicted)) - 1
        return 0, n_pred, n_true
    pairs = np.bincount(instances.ravel().astype(np.int64) * (pred_ids + 1) + predicted.ravel(),
                        minlength=(true_ids + 1) * (pred_ids + 1)).reshape(true_ids + 1, pred_ids + 1)
    overlap = pairs[1:, 1:]  # (true, predicted) pixel counts
    true_area, pred_area = pairs[1:].sum(1), pairs[:, 1:].sum(0)
    union = true_area[:, None] + pred_area[None, :] - overlap
    ious = np.where(union > 0, overlap / np.maximum(union, 1), 0.0)
    present_true, present_pred = true_area > 0, pred_area > 0
    tp = int((ious > iou).sum())
    return tp, int(present_pred.sum()) - tp, int(present_true.sum()) - tp


def instance_scores(predicted: np.ndarray, instances: np.ndarray, iou: float = 0.5) -> dict:
    """Object-level precision, recall and F1 at IoU > `iou`: a merge of two cells counts as a
    miss of both, which foreground IoU does not see."""
    tp, fp, fn = matched_instances(predicted, instances, iou)
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "f1": 2 * tp / max(2 * tp + fp + fn, 1)}


WATERSHED_MIN_DISTANCE = 5  # px between distance-transform peaks (cells here are ≥ 10 px across)


def otsu_watershed(grey: np.ndarray, min_distance: int = WATERSHED_MIN_DISTANCE, min_area: int = 12) -> np.ndarray:
    """The classical baseline: Otsu threshold, holes filled, and a watershed of the distance
    transform seeded at its local maxima (scikit-image) -> instance map (H, W) int32."""
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    smooth = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)
    mask = ndimage.binary_fill_holes(smooth > threshold_otsu(smooth))
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=ndimage.label(mask)[0], exclude_border=False)
    markers = np.zeros(grey.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=mask)
    areas = np.bincount(labels.ravel())
    labels[areas[labels] < min_area] = 0
    return labels.astype(np.int32)


# ---- experiments behind the claims
HELD_OUT_SEED = 4321  # evaluation images (training uses seeds 0..; WATERSHED_MIN_DISTANCE was picked on seed 1234)
EVAL_IMAGES = 6  # 256×256 synthetic images per seed
COMPARE_TILE, COMPARE_BATCH, COMPARE_STEPS = 100, 2, 150  # the small weight-map comparison's budget
U2OS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "coelho_u2os"
U2OS_SCALE = 4  # nuclei are ~110 px across; reduced 4× they are the size of the training cells
U2OS_IMAGES = 4  # per seed


def _scores(predicted: np.ndarray, instances: np.ndarray) -> dict[str, float]:
    found = instance_scores(predicted, instances)
    return {"iou": foreground_iou(predicted, instances), "count_error": count_error(predicted, instances),
            "recall": found["recall"], "f1": found["f1"]}


def _mean_scores(pairs) -> dict[str, float]:
    scores = [_scores(predicted, instances) for predicted, instances in pairs]
    return {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}


def held_out_images(seed: int, n: int = EVAL_IMAGES) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng([HELD_OUT_SEED, seed])
    return [synthetic_cells(256, rng) for _ in range(n)]


@functools.lru_cache(maxsize=16)
def _shipped_on_synthetic(seed: int, quick: bool) -> dict[str, dict[str, float]]:
    """The shipped model and Otsu + watershed on the same held-out synthetic images."""
    model = pretrained("cpu")
    images = held_out_images(seed, 2 if quick else EVAL_IMAGES)
    return {"ours": _mean_scores((segment(model, image).instances, truth) for image, truth in images),
            "otsu_watershed": _mean_scores((otsu_watershed(image), truth) for image, truth in images)}


@functools.lru_cache(maxsize=16)
def _weight_map_pair(seed: int, quick: bool) -> dict[str, dict[str, float]]:
    """The same small training with and without the Eq. 2 weight map (seeded before each model
    is built), scored on held-out synthetic images."""
    images = held_out_images(seed, 2 if quick else EVAL_IMAGES)
    out = {}
    for key, use_weight_map in (("ours", True), ("no_weight_map", False)):
        torch.manual_seed(seed)
        model = build_model()
        for _ in train_steps(model, steps=10 if quick else COMPARE_STEPS, seed=seed, use_weight_map=use_weight_map,
                             batch=COMPARE_BATCH, tile=COMPARE_TILE):
            pass
        out[key] = _mean_scores((segment(model, image).instances, truth) for image, truth in images)
    return out


def u2os_pairs(seed: int, n: int = U2OS_IMAGES) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` of the 48 real U2OS images (picked by `seed`), reduced U2OS_SCALE×: grey (h, w) in [0, 1]
    and the hand-made instance labels (h, w)."""
    from PIL import Image

    names = sorted(p.name for p in (U2OS_DIR / "image").glob("*.png"))
    picked = np.random.default_rng(seed).choice(len(names), n, replace=False)
    pairs = []
    for index in sorted(picked):
        image = np.asarray(Image.open(U2OS_DIR / "image" / names[index]).convert("L"), np.float32) / 255.0
        labels = np.asarray(Image.open(U2OS_DIR / "label" / names[index]))
        size = (image.shape[1] // U2OS_SCALE, image.shape[0] // U2OS_SCALE)
        pairs.append((cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                      cv2.resize(labels.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)))
    return pairs


@functools.lru_cache(maxsize=16)
def _u2os(seed: int, quick: bool) -> dict[str, dict[str, float]]:
    model = pretrained("cpu")
    pairs = u2os_pairs(seed, 1 if quick else U2OS_IMAGES)
    return {"ours": _mean_scores((segment(model, image).instances, truth) for image, truth in pairs),
            "otsu_watershed": _mean_scores((otsu_watershed(image), truth) for image, truth in pairs)}


def _measure(source: Callable, metric: str, percent: bool = False):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        scale = 100.0 if percent else 1.0
        return {key: scale * scores[metric] for key, scores in source(seed, quick).items()}
    return measure


def _experiments():
    from papers.results import Experiment, Paper

    shipped = f"Synthetic cells: shipped U-Net ({TRAIN_STEPS} steps) vs Otsu + watershed"
    small = (f"Synthetic cells: U-Net trained from scratch with vs without the Eq. 2 weight map "
             f"({COMPARE_STEPS} Adam steps of {COMPARE_BATCH} {COMPARE_TILE}×{COMPARE_TILE} tiles)")
    real = f"Real U2OS nuclei (Coelho et al. 2009, reduced {U2OS_SCALE}×): shipped U-Net vs Otsu + watershed"
    synthetic_images = f"{EVAL_IMAGES} held-out 256×256 images per seed"
    real_images = (f"{U2OS_IMAGES} of the 48 images per seed; unlabelled border or out-of-focus nuclei "
                   "count as false positives for both")
    shipped_labels = {"ours": "U-Net (shipped)", "otsu_watershed": "Otsu + watershed"}
    compare_labels = {"ours": "with weight map", "no_weight_map": "without weight map"}
    metrics = {"iou": ("foreground IoU (pixels, cell vs background)", True),
               "count_error": ("count error: abs(found − true objects) / true objects", False),
               "recall": ("instance recall: true cells matched at IoU > 0.5", True),
               "f1": ("instance F1 at IoU > 0.5 (a merge misses both cells)", True)}
    isbi = Paper(None, "§4, Table 1 (ISBI 2012 EM)", "the paper reports warping/Rand/pixel errors on EM stacks, "
                                                     "not these measures on these data")
    experiments = []
    if (U2OS_DIR / "image").is_dir():  # real data: measured only where ../shared/data is present
        for metric in ("f1", "recall", "iou"):
            meaning, higher = metrics[metric]
            experiments.append(Experiment(
                f"u2os_{metric}", f"{real}; {real_images}", meaning, _measure(_u2os, metric), seeds=3,
                higher_is_better=higher, checkable=True, tolerance=0.01, digits=3, labels=shipped_labels,
                paper=Paper(None, "not in the paper", "U-Net was not evaluated on these data")))
    for metric, (meaning, higher) in metrics.items():
        experiments.append(Experiment(
            f"synthetic_{metric}", f"{shipped}; {synthetic_images}", meaning,
            _measure(_shipped_on_synthetic, metric), seeds=3, higher_is_better=higher, checkable=True,
            tolerance=0.01, digits=3, paper=isbi, labels=shipped_labels))
    for metric, (meaning, higher) in metrics.items():
        experiments.append(Experiment(
            f"weight_map_{metric}", f"{small}; {synthetic_images}", meaning,
            _measure(_weight_map_pair, metric), seeds=3, higher_is_better=higher, digits=3,
            labels=compare_labels,
            paper=Paper(None, "§3, Eq. 2, Fig. 3", "the paper motivates the weight map qualitatively "
                                                   "(separating touching cells); no ablation number")))
    return experiments


EXPERIMENTS = _experiments()
