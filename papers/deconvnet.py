"""Visualizing and Understanding Convolutional Networks.

Matthew D. Zeiler, Rob Fergus, ECCV 2014. https://arxiv.org/abs/1311.2901

A deconvnet (§2.1, Fig. 1) is attached to every layer of a conv/ReLU/max-pool network. To see
what one activation responds to, all other activations of its layer are set to zero and the
signal is sent back down: *unpooling* puts each value where the forward max-pool found its
maximum (the recorded "switches"), *rectification* passes it through a ReLU, and *filtering*
applies the transposed filters of the forward convolution, down to pixel space. Fig. 2 shows, for
one feature map, its 9 strongest activations over a data set, each projected alone, beside the
image patch under it. §4.2 checks that the network localises the object: a grey square slides
over the image and the probability of the class, the strongest feature map's activation and the
most probable label are recorded (Fig. 7(b), (d), (e)).

This module also holds the backbones that this tab and the Grad-CAM tab share: ImageNet
AlexNet (papers.alexnet), ImageNet VGG16, and a small conv/ReLU/max-pool CNN trained here on
digits in clutter, so that both tabs work offline.

Measured (``python -m papers.reproduce deconvnet``, results/deconvnet.json): the shipped digits
CNN's test_accuracy, occlusion_localises (§4.2) and label_map_follows_the_digit (Fig. 7(e));
Grad-CAM's claims on the same CNN are in results/gradcam.json.

**Deviations from the paper**
- Backbones: the paper's own ImageNet network (an AlexNet variant, Fig. 3) has no public
  weights; we use torchvision's AlexNet and VGG16 (its successor family) and a small
  CNN trained offline on handwritten digits pasted into clutter (not ImageNet).
- Unpooling sums the values that overlapping pooling windows send to the same input position
  (the exact transpose of the switch selection); the paper does not say how it handles
  collisions with its 3×3/2 overlapping pools.
- The projection starts from a conv layer's rectified output (before pooling); the paper
  projects from the pooled maps. Unpooling that top pool back is the same operation.
- Occlusion maps are shown per pixel, as the mean over all square positions that covered it
  (the paper plots one value per square position); Fig. 7(e)'s label map gives each pixel the
  label of the square position whose centre is nearest.
- Fig. 2 searches a fixed set of held-out digit canvases (FIG2_CANVASES; the paper: the ImageNet
  validation set) and counts each canvas once, with its map's largest activation (the paper does
  not say whether one image may contribute several of the nine);
  projections and patches are cropped to the unit's theoretical receptive field (clipped at the
  canvas border), and each projection is contrast-stretched on its own.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.nn.modules.utils import _pair

from papers import alexnet
from papers.checkpoints import Checkpoint, cached_model, get_device, load_state_dict
from papers.data import digits

# --------------------------------------------------------------------------- offline data
CANVAS = 64  # digits in clutter live on a 64 x 64 canvas
CLUTTER_PIECES = 6  # fragments of other digits scattered over each canvas
CLUTTER_SIZE = 10  # side of one fragment
NOISE_STD = 0.05
INK_THRESHOLD = 0.3  # a digit pixel above this is "ink" (for its bounding box)


def cluttered_digits(n: int, split: str = "train", seed: int = 0):
    """n real digits pasted at random places on a 64×64 canvas among fragments of other digits.

    Returns images (n, 1, 64, 64) in [0, 1], labels (n,), boxes (n, 4) as (x0, y0, x1, y1) of
    the digit's ink (exclusive ends): where a localisation map *should* point."""
    rng = np.random.default_rng(seed)
    source, source_labels = digits(split)
    source = source[:, 0].numpy()  # (N, 28, 28)
    size = source.shape[-1]
    pick = rng.integers(len(source), size=n)
    canvas = np.zeros((n, CANVAS, CANVAS), np.float32)
    boxes = np.zeros((n, 4), np.int64)
    pieces = rng.integers(len(source), size=(n, CLUTTER_PIECES))
    cuts = rng.integers(size - CLUTTER_SIZE, size=(n, CLUTTER_PIECES, 2))  # where in the donor
    spots = rng.integers(CANVAS - CLUTTER_SIZE, size=(n, CLUTTER_PIECES, 2))  # where on the canvas
    places = rng.integers(CANVAS - size + 1, size=(n, 2))
    for i in range(n):
        for piece, (py, px), (cy, cx) in zip(pieces[i], cuts[i], spots[i]):
            region = canvas[i, cy:cy + CLUTTER_SIZE, cx:cx + CLUTTER_SIZE]
            np.maximum(region, source[piece, py:py + CLUTTER_SIZE, px:px + CLUTTER_SIZE], out=region)
        (top, left), digit = places[i], source[pick[i]]
        region = canvas[i, top:top + size, left:left + size]
        np.maximum(region, digit, out=region)
        ys, xs = np.nonzero(digit > INK_THRESHOLD)
        boxes[i] = (left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1)
    canvas = np.clip(canvas + rng.normal(0, NOISE_STD, canvas.shape).astype(np.float32), 0, 1)
    return torch.from_numpy(canvas)[:, None], source_labels[torch.from_numpy(pick)], torch.from_numpy(boxes)


def two_digit_canvases(n: int, split: str = "test", seed: int = 0):
    """n canvases with two digits of different classes, one in each half, among the same clutter
    as `cluttered_digits`: the test bed for class discrimination (Grad-CAM §4, Fig. 1's cat and dog).

    Returns images (n, 1, 64, 64) in [0, 1], labels (n, 2) (left, right) and boxes (n, 2, 4) as
    (x0, y0, x1, y1) of each digit's ink."""
    rng = np.random.default_rng(seed)
    source, source_labels = digits(split)
    source, source_labels = source[:, 0].numpy(), source_labels.numpy()  # (N, 28, 28), (N,)
    size, half = source.shape[-1], CANVAS // 2
    canvas = np.zeros((n, CANVAS, CANVAS), np.float32)
    labels = np.zeros((n, 2), np.int64)
    boxes = np.zeros((n, 2, 4), np.int64)
    for i in range(n):
        for piece in rng.integers(len(source), size=CLUTTER_PIECES):
            py, px = rng.integers(size - CLUTTER_SIZE, size=2)
            cy, cx = rng.integers(CANVAS - CLUTTER_SIZE, size=2)
            region = canvas[i, cy:cy + CLUTTER_SIZE, cx:cx + CLUTTER_SIZE]
            np.maximum(region, source[piece, py:py + CLUTTER_SIZE, px:px + CLUTTER_SIZE], out=region)
        first = rng.integers(len(source))
        second = rng.choice(np.flatnonzero(source_labels != source_labels[first]))
        for k, pick in enumerate((first, second)):
            top, left = rng.integers(CANVAS - size + 1), k * half + rng.integers(half - size + 1)
            digit = source[pick]
            region = canvas[i, top:top + size, left:left + size]
            np.maximum(region, digit, out=region)
            ys, xs = np.nonzero(digit > INK_THRESHOLD)
            boxes[i, k] = (left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1)
            labels[i, k] = source_labels[pick]
    canvas = np.clip(canvas + rng.normal(0, NOISE_STD, canvas.shape).astype(np.float32), 0, 1)
    return torch.from_numpy(canvas)[:, None], torch.from_numpy(labels), torch.from_numpy(boxes)


@functools.cache
def _pixel_stats() -> tuple[float, float]:
    """Mean and std of the training canvases (so 0 after normalising is the 'grey' occluder)."""
    images, _, _ = cluttered_digits(256, "train", seed=123)
    return float(images.mean()), float(images.std())


# --------------------------------------------------------------------------- the small CNN
@dataclass(frozen=True)
class SmallCNNConfig:
    channels: tuple[int, ...] = (16, 32, 64, 64)
    kernels: tuple[int, ...] = (5, 3, 3, 3)
    pooled: tuple[bool, ...] = (True, True, True, False)  # 64 -> 32 -> 16 -> 8, conv4 at 8x8
    classes: int = 10
    dropout: float = 0.3


class SmallCNN(nn.Module):
    """A Zeiler–Fergus-style stack (conv → ReLU → max-pool) and one linear classifier."""

    def __init__(self, config: SmallCNNConfig = SmallCNNConfig()):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for out_channels, kernel, pool in zip(config.channels, config.kernels, config.pooled):
            layers += [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        side = CANVAS // 2 ** sum(config.pooled)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout),
                                        nn.Linear(in_channels * side * side, config.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))  # (B, C*8*8) -> (B, 10)


SMALL_CNN = Checkpoint(
    name="Digits-in-clutter CNN",
    filename="deconvnet_cluttered_digits.safetensors",
    sha256="a76f2fbbaae2bb67bc4b1680c9f68b45e4d2c3f20eb9e628b21c5e63d9f3d6f7",
    license="BSD-3-Clause (trained here on scikit-learn's digits)",
    size_bytes=406_784,
    num_params=101_450,
    reproduce="python -m papers.train deconvnet",
    source="trained by this project on scikit-learn's handwritten digits pasted into clutter",
    description="4 conv/ReLU/max-pool layers + linear, 64x64 grey input, 10 digit classes; "
                "test accuracy: results/deconvnet.json -> test_accuracy",
)

# --------------------------------------------------------------------------- VGG16
VGG16 = Checkpoint(
    name="VGG16 ImageNet-1k (torchvision weights via timm)",
    filename="vgg16_imagenet1k_v1.safetensors",
    repo_id="timm/vgg16.tv_in1k",
    hub_filename="model.safetensors",
    # Pinned at the commit that added the file ("Add model", 2023-04-25); sha256 = its Git LFS oid as
    # shown on huggingface.co/timm/vgg16.tv_in1k/blob/main/model.safetensors (553 MB).
    revision="3394518cba29aee1ea82a49d971be90d2dd1dab7",
    hub_sha256="57b026918159a6bf9faf8405c3a551903768e7138989d9c6224a14227203fad8",
    license="BSD-3-Clause (torchvision)",
    size_bytes=553_430_176,  # 138,357,544 float32 parameters
    num_params=138_357_544,
    source="timm/vgg16.tv_in1k = torchvision VGG16_Weights.IMAGENET1K_V1 (top-1 71.6 %)",
)


def timm_vgg_to_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's VGG layout -> torchvision's: its classifier is a conv MLP (fc1 7×7, fc2 1×1)."""
    renames = {"pre_logits.fc1": "classifier.0", "pre_logits.fc2": "classifier.3", "head.fc": "classifier.6"}
    out = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix in renames:
            key = f"{renames[prefix]}.{leaf}"
            value = value.flatten(1) if value.ndim == 4 else value  # (4096, 512, 7, 7) -> (4096, 25088)
        out[key] = value
    return out


# --------------------------------------------------------------------------- backbones
@dataclass(frozen=True)
class Backbone:
    """A classifier with a conv/ReLU/max-pool `features` stack, and how to feed it an image."""
    key: str
    label: str
    checkpoint: Checkpoint
    load: Callable[[], nn.Module]
    input_size: int
    grey: bool
    categories: Callable[[], list[str]]
    adds: str  # what its weights add, for the "missing weights" note

    def view(self, rgb: np.ndarray) -> np.ndarray:
        """The square (input_size²) uint8 RGB view of `rgb` the network sees."""
        view = alexnet.square_view(rgb, self.input_size)
        if self.grey:
            view = np.repeat(view.mean(axis=2, keepdims=True).round().astype(np.uint8), 3, axis=2)
        return view

    def to_tensor(self, view: np.ndarray) -> torch.Tensor:
        """A view from `view()` -> the normalised (1, C, S, S) input."""
        if not self.grey:
            return alexnet.normalise(view)
        mean, std = _pixel_stats()
        return (torch.from_numpy(view[..., 0].astype(np.float32) / 255.0)[None, None] - mean) / std


@cached_model
def small_cnn(device=None) -> SmallCNN:
    device = device or get_device()
    model = SmallCNN()
    model.load_state_dict(load_state_dict(SMALL_CNN, device))
    return model.to(device).eval()


@cached_model
def vgg16(device=None) -> nn.Module:
    from torchvision.models import vgg16 as torchvision_vgg16

    device = device or get_device()
    state = load_state_dict(VGG16, device)  # first: a missing file fails before any allocation
    with torch.device("meta"):
        model = torchvision_vgg16(weights=None)
    model.load_state_dict(state, assign=True)
    return model.eval()


BACKBONES: dict[str, Backbone] = {b.key: b for b in (
    Backbone("digits", "Digits-in-clutter CNN (offline, shipped)", SMALL_CNN, small_cnn, CANVAS, True,
             lambda: [f"digit {d}" for d in range(10)], "a small CNN that finds digits in clutter"),
    Backbone("alexnet", "AlexNet (ImageNet)", alexnet.IMAGENET, alexnet.imagenet_model, alexnet.INPUT_SIZE,
             False, alexnet.imagenet_categories, "AlexNet's 1000 ImageNet classes for your photos"),
    Backbone("vgg16", "VGG16 (ImageNet)", VGG16, vgg16, alexnet.INPUT_SIZE, False,
             alexnet.imagenet_categories, "VGG16's 1000 ImageNet classes for your photos"),
)}


def conv_layers(features: nn.Sequential) -> dict[str, int]:
    """conv1..convN -> index in `features` of the ReLU that rectifies that conv's output."""
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    return {f"conv{n}": i + 1 for n, i in enumerate(convs, 1)}


# --------------------------------------------------------------------------- deconvnet (§2.1)
@dataclass
class Switches:
    """What the forward pass records for the way back: per layer, its input shape and, for
    max-pools, where each maximum came from (flat indices into the input map)."""
    shapes: list[torch.Size]
    indices: dict[int, torch.Tensor]


def forward_recording(features: nn.Sequential, x: torch.Tensor, upto: int) -> tuple[torch.Tensor, Switches]:
    """Run features[0..upto] (inclusive), recording the pooling switches (§2.1, "Unpooling")."""
    switches = Switches([], {})
    for i, layer in enumerate(features[:upto + 1]):
        switches.shapes.append(x.shape)
        if isinstance(layer, nn.MaxPool2d):
            x, switches.indices[i] = F.max_pool2d(x, layer.kernel_size, layer.stride, layer.padding,
                                                  layer.dilation, layer.ceil_mode, return_indices=True)
        elif isinstance(layer, (nn.Conv2d, nn.ReLU)):
            x = F.relu(x) if isinstance(layer, nn.ReLU) else layer(x)
        else:
            raise ValueError(f"The deconvnet handles conv, ReLU and max-pool layers, not {type(layer).__name__}.")
    return x, switches


def unpool(y: torch.Tensor, switches: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
    """Put each pooled value back where its maximum was; overlapping windows add up."""
    b, c = y.shape[:2]
    out = torch.zeros(b, c, input_shape[-2] * input_shape[-1], dtype=y.dtype, device=y.device)
    out.scatter_add_(2, switches.flatten(2), y.flatten(2))  # (B, C, H*W)
    return out.view(b, c, *input_shape[-2:])


def transposed_filtering(y: torch.Tensor, conv: nn.Conv2d, input_shape: torch.Size) -> torch.Tensor:
    """§2.1 "Filtering": the same filters, transposed (flipped, in/out swapped); no bias."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    out_h, out_w = y.shape[-2:]
    output_padding = (input_shape[-2] - ((out_h - 1) * sh - 2 * ph + dh * (kh - 1) + 1),
                      input_shape[-1] - ((out_w - 1) * sw - 2 * pw + dw * (kw - 1) + 1))
    return F.conv_transpose2d(y, conv.weight, None, conv.stride, conv.padding, output_padding,
                              conv.groups, conv.dilation)


def deconvnet_backward(features: nn.Sequential, y: torch.Tensor, switches: Switches) -> torch.Tensor:
    """Send a (zeroed-but-one) layer output back to pixel space: unpool, rectify, filter^T."""
    for i in reversed(range(len(switches.shapes))):
        layer = features[i]
        if isinstance(layer, nn.MaxPool2d):
            y = unpool(y, switches.indices[i], switches.shapes[i])
        elif isinstance(layer, nn.ReLU):
            y = F.relu(y)  # §2.1 "Rectification": the reconstruction is kept non-negative
        else:
            y = transposed_filtering(y, layer, switches.shapes[i])
    return y


@dataclass
class Projection:
    pixels: torch.Tensor  # (C_in, H, W) the reconstruction in input space
    channel: int
    position: tuple[int, int]  # (row, col) of the kept activation in its feature map
    value: float


def backproject(features: nn.Sequential, maps: torch.Tensor, switches: Switches, channels: list[int],
                whole_map: bool = False) -> list[Projection]:
    """One projection per channel of `maps` (1, C, h, w), all sent down in one batch: each keeps
    its map's largest activation (the paper's figures), or the whole map with `whole_map`."""
    for channel in channels:
        if not 0 <= channel < maps.shape[1]:
            raise ValueError(f"This layer has {maps.shape[1]} feature maps: choose a channel from 0 to {maps.shape[1] - 1}.")
    n, (h, w) = len(channels), maps.shape[-2:]
    kept = torch.zeros(n, *maps.shape[1:], dtype=maps.dtype, device=maps.device)  # (n, C, h, w)
    found = []
    for j, channel in enumerate(channels):
        chosen = maps[0, channel]  # (h, w)
        row, col = divmod(int(chosen.argmax()), w)
        if whole_map:
            kept[j, channel] = chosen
        else:
            kept[j, channel, row, col] = chosen[row, col]
        found.append((row, col, float(chosen[row, col])))
    batched = Switches(switches.shapes, {i: s.expand(n, *s.shape[1:]) for i, s in switches.indices.items()})
    pixels = deconvnet_backward(features, kept, batched).cpu()  # (n, C_in, H, W)
    return [Projection(pixels[j], c, (r, col), v) for j, (c, (r, col, v)) in enumerate(zip(channels, found))]


def strongest_channels(maps: torch.Tensor, count: int) -> list[int]:
    """The `count` feature maps of (1, C, h, w) with the largest single activation, strongest first."""
    return maps[0].flatten(1).amax(1).argsort(descending=True)[:count].tolist()


@torch.no_grad()
def project(features: nn.Sequential, x: torch.Tensor, layer: str, channel: int | None = None,
            whole_map: bool = False) -> Projection:
    """Project one feature map of `layer` for image `x` (1, C, H, W) back to pixel space;
    channel None picks the map with the strongest activation."""
    maps, switches = forward_recording(features, x, conv_layers(features)[layer])  # (1, C, h, w)
    channel = strongest_channels(maps, 1)[0] if channel is None else channel
    return backproject(features, maps, switches, [channel], whole_map)[0]


def projection_image(pixels: torch.Tensor) -> np.ndarray:
    """A reconstruction (C, H, W) as uint8 RGB, centred on grey and contrast-stretched (as in Fig. 2)."""
    p = pixels.float()
    p = p - p.mean()
    scale = p.abs().max().clamp(min=1e-12)
    rgb = ((p / scale) * 127.5 + 127.5).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb


def receptive_box(projection: torch.Tensor, quantile: float = 0.99) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the reconstruction's strongest pixels: where the activation looks."""
    energy = projection.abs().sum(0)  # (H, W)
    ys, xs = torch.nonzero(energy >= torch.quantile(energy.flatten(), quantile), as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def receptive_field(features: nn.Sequential, shapes: list[torch.Size], row: int, col: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive ends: the input pixels that the unit at (row, col) of the output
    of features[len(shapes) - 1] can see (`shapes` = each layer's input shape, from forward_recording);
    each conv/pool maps output rows [a, b] to input rows [a·s − p, b·s − p + d(k − 1)], clipped."""
    top, bottom, left, right = row, row, col, col  # inclusive
    for i in reversed(range(len(shapes))):
        layer = features[i]
        if isinstance(layer, nn.ReLU):
            continue
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(getattr(layer, a, 1)) for a in
                                                  ("kernel_size", "stride", "padding", "dilation"))
        h, w = shapes[i][-2:]
        top, bottom = max(top * sh - ph, 0), min(bottom * sh - ph + dh * (kh - 1), h - 1)
        left, right = max(left * sw - pw, 0), min(right * sw - pw + dw * (kw - 1), w - 1)
    return left, top, right + 1, bottom + 1


# --------------------------------------------------------------------------- Fig. 2: one map's top 9
# Fig. 2 shows, for a feature map, its 9 strongest activations over the validation set, each
# projected down alone (§2.1) beside the image patch under it. Here the set is held-out test-split
# canvases from `cluttered_digits`; a canvas counts once, with its map's largest activation.
FIG2_CANVASES = 600
FIG2_SEED = 2  # not seed 1 (train's report) nor 101..105 (the accuracy claim's seeds)
TOP_K = 9


@dataclass
class TopActivation:
    image: int  # index of the canvas in the set
    position: tuple[int, int]  # (row, col) in the feature map
    value: float
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1): the unit's receptive field in input pixels
    pixels: torch.Tensor  # (C_in, H, W) the deconvnet projection of this one activation


@torch.no_grad()
def layer_maxima(features: nn.Sequential, x: torch.Tensor, batch: int = 200) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For every conv layer: each image's largest activation of each map and its flat position,
    as (values (N, C), positions (N, C)); one forward pass over `x` (N, C_in, H, W)."""
    relus = {index: name for name, index in conv_layers(features).items()}
    found: dict[str, list] = {name: [] for name in relus.values()}
    for chunk in x.split(batch):
        y = chunk
        for i, layer in enumerate(features[:max(relus) + 1]):
            y = layer(y)
            if i in relus:
                found[relus[i]].append(y.flatten(2).max(2))  # (B, C) values and flat indices
    return {name: (torch.cat([v for v, _ in parts]).cpu(), torch.cat([p for _, p in parts]).cpu())
            for name, parts in found.items()}


@torch.no_grad()
def top_activations(features: nn.Sequential, x: torch.Tensor, maxima: tuple[torch.Tensor, torch.Tensor],
                    layer: str, channel: int, k: int = TOP_K) -> list[TopActivation]:
    """Fig. 2 for one map: the k images of `x` where map `channel` of `layer` fires most (strongest
    first, from `layer_maxima`), each activation projected down alone in one batched pass."""
    values, positions = maxima  # (N, C)
    if not 0 <= channel < values.shape[1]:
        raise ValueError(f"This layer has {values.shape[1]} feature maps: choose a channel from 0 to {values.shape[1] - 1}.")
    order = values[:, channel].argsort(descending=True, stable=True)[:k].tolist()
    maps, switches = forward_recording(features, x[order], conv_layers(features)[layer])  # (k, C, h, w)
    w = maps.shape[-1]
    kept = torch.zeros_like(maps)
    spots = [divmod(int(positions[i, channel]), w) for i in order]
    for j, (row, col) in enumerate(spots):
        kept[j, channel, row, col] = maps[j, channel, row, col]  # all other activations zeroed (§2.1)
    pixels = deconvnet_backward(features, kept, switches).cpu()  # (k, C_in, H, W)
    return [TopActivation(i, (row, col), float(values[i, channel]),
                          receptive_field(features, switches.shapes, row, col), pixels[j])
            for j, (i, (row, col)) in enumerate(zip(order, spots))]


@functools.cache
def fig2_canvases() -> torch.Tensor:
    """The fixed held-out set: FIG2_CANVASES test-split canvases (seed FIG2_SEED), in [0, 1]."""
    images, _, _ = cluttered_digits(FIG2_CANVASES, "test", seed=FIG2_SEED)
    return images  # (N, 1, 64, 64)


@cached_model(max_entries=2)
def _fig2_maxima(device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    mean, std = _pixel_stats()
    return layer_maxima(small_cnn(device).features, ((fig2_canvases() - mean) / std).to(device))


@cached_model(max_entries=64)
def shipped_top_activations(layer: str, channel: int, device=None) -> list[TopActivation]:
    """Fig. 2 for the shipped digits CNN: map `channel` of `layer` over the held-out canvases
    (the per-map maxima of every layer are computed once, then each map is one small pass)."""
    device = device or get_device()
    features, (mean, std) = small_cnn(device).features, _pixel_stats()
    if layer not in conv_layers(features):
        raise ValueError(f"Pick a layer of this network: {', '.join(conv_layers(features))}.")
    maxima = _fig2_maxima(device)[layer]
    values = maxima[0]
    if not 0 <= channel < values.shape[1]:
        raise ValueError(f"This layer has {values.shape[1]} feature maps: choose a channel from 0 to {values.shape[1] - 1}.")
    order = values[:, channel].argsort(descending=True, stable=True)[:TOP_K]
    subset = ((fig2_canvases()[order] - mean) / std).to(device)
    found = top_activations(features, subset, (values[order], maxima[1][order]), layer, channel)
    for top in found:
        top.image = int(order[top.image])  # back to the index in the whole set
    return found


# --------------------------------------------------------------------------- occlusion (§4.2)
def occluder_positions(side: int, size: int, stride: int) -> list[int]:
    """Top-left offsets of the square along one side, always reaching the far edge."""
    if not 1 <= size <= side:
        raise ValueError(f"The grey square must be between 1 and {side} pixels wide.")
    if stride < 1:
        raise ValueError("The stride must be at least 1 pixel.")
    starts = list(range(0, side - size + 1, stride))
    return starts if starts[-1] == side - size else starts + [side - size]


@dataclass
class OcclusionMaps:
    probability: np.ndarray  # (H, W) mean class probability while each pixel was covered
    activation: np.ndarray  # (H, W) mean activation of the watched feature map
    done: int
    total: int
    tops: list[int]  # the square's top offsets (rows of `labels`)
    lefts: list[int]  # its left offsets (columns of `labels`)
    labels: np.ndarray  # (len(tops), len(lefts)) Fig. 7(e): the most probable class per square position; -1 = not yet

    def label_pixels(self, size: int) -> np.ndarray:
        """`labels` spread over the image (H, W): each pixel takes the label of the square position
        whose centre is nearest (Fig. 7(e) draws one cell per position)."""
        h, w = self.probability.shape
        centre = (size - 1) / 2
        rows = np.abs(np.arange(h)[:, None] - (np.array(self.tops) + centre)[None]).argmin(1)  # (H,)
        cols = np.abs(np.arange(w)[:, None] - (np.array(self.lefts) + centre)[None]).argmin(1)  # (W,)
        return self.labels[rows[:, None], cols[None, :]]


@torch.no_grad()
def occlusion(model: nn.Module, x: torch.Tensor, class_idx: int, layer: str, channel: int,
              size: int, stride: int, batch: int = 16) -> Iterator[OcclusionMaps]:
    """§4.2, Fig. 7: slide a grey (0 = data mean after normalising) square over `x` (1, C, H, W),
    record p(class) (Fig. 7(d)), the total activation of `layer`'s map `channel` (Fig. 7(b)) and
    the most probable class (Fig. 7(e)) at each position; yields after each batch."""
    _, _, h, w = x.shape
    tops, lefts = occluder_positions(h, size, stride), occluder_positions(w, size, stride)
    spots = [(t, l) for t in tops for l in lefts]
    labels = np.full((len(tops), len(lefts)), -1, np.int64)
    relu_index = conv_layers(model.features)[layer]
    watched = {}
    hook = model.features[relu_index].register_forward_hook(
        lambda m, i, out: watched.__setitem__("maps", out[:, channel].sum((1, 2))))
    prob_sum, act_sum, cover = np.zeros((h, w)), np.zeros((h, w)), np.zeros((h, w))
    try:
        for start in range(0, len(spots), batch):
            chunk = spots[start:start + batch]
            occluded = x.repeat(len(chunk), 1, 1, 1)  # (n, C, H, W)
            for j, (t, l) in enumerate(chunk):
                occluded[j, :, t:t + size, l:l + size] = 0.0
            logits = model(occluded)  # (n, classes)
            probs = logits.softmax(-1)[:, class_idx].cpu().numpy()
            acts = watched["maps"].cpu().numpy()
            labels.flat[start:start + len(chunk)] = logits.argmax(-1).cpu().numpy()  # spots run row by row
            for (t, l), p, a in zip(chunk, probs, acts):
                prob_sum[t:t + size, l:l + size] += p
                act_sum[t:t + size, l:l + size] += a
                cover[t:t + size, l:l + size] += 1
            covered = np.maximum(cover, 1)
            yield OcclusionMaps(prob_sum / covered, act_sum / covered, start + len(chunk), len(spots),
                                tops, lefts, labels.copy())
    finally:
        hook.remove()


# --------------------------------------------------------------------------- display helpers
def heatmap_overlay(rgb: np.ndarray, heat: np.ndarray, opacity: float = 0.5,
                    low: float | None = None, high: float | None = None) -> np.ndarray:
    """Colour `heat` (H, W) with the jet map (blue low, red high) and blend it over `rgb`."""
    import cv2

    low = float(heat.min()) if low is None else low
    high = float(heat.max()) if high is None else high
    scaled = np.clip((heat - low) / max(high - low, 1e-12), 0, 1)
    if scaled.shape != rgb.shape[:2]:
        scaled = np.asarray(Image.fromarray((scaled * 255).astype(np.uint8)).resize(rgb.shape[1::-1], Image.BILINEAR)) / 255.0
    colour = cv2.applyColorMap((scaled * 255).round().astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (rgb * (1 - opacity) + colour * opacity).round().clip(0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- training
TRAIN_SIZE = 8_000
TEST_SIZE = 2_000
EPOCHS = 5
BATCH = 64
LEARNING_RATE = 2e-3


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    mean, std = _pixel_stats()
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model((chunk - mean) / std).argmax(1) for chunk in images.split(256)])
    return float((predictions == labels).float().mean())


def train(variant: str | None, out_dir) -> dict:
    """Train the digits-in-clutter CNN (seeded, a few CPU minutes) and save it to `out_dir`."""
    from pathlib import Path

    from safetensors.torch import save_file

    if variant:
        raise ValueError("papers.deconvnet has one self-trained model; run `python -m papers.train deconvnet`.")
    torch.manual_seed(0)
    mean, std = _pixel_stats()
    test_images, test_labels, _ = cluttered_digits(TEST_SIZE, "test", seed=1)
    model = SmallCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=EPOCHS * (TRAIN_SIZE // BATCH))
    history = []
    for epoch in range(EPOCHS):
        images, labels, _ = cluttered_digits(TRAIN_SIZE, "train", seed=1000 + epoch)  # fresh clutter
        model.train()
        order = torch.randperm(TRAIN_SIZE)
        for start in range(0, TRAIN_SIZE - BATCH + 1, BATCH):
            idx = order[start:start + BATCH]
            loss = F.cross_entropy(model((images[idx] - mean) / std), labels[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        history.append(round(evaluate(model, test_images, test_labels), 4))
        print(f"epoch {epoch + 1}/{EPOCHS}: loss {loss.item():.3f}, test accuracy {history[-1]:.4f}", flush=True)
    path = Path(out_dir) / SMALL_CNN.filename
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"source": SMALL_CNN.source, "reproduce": SMALL_CNN.reproduce})
    return {"test_accuracy": history[-1], "accuracy_per_epoch": history,
            "test_images": TEST_SIZE, "params": sum(p.numel() for p in model.parameters())}


# ---- experiments behind the claims
# The shipped digits-in-clutter CNN, evaluated (checkable); a seed draws fresh random test canvases
# (seed 0 = the canvases `train` reports on). Grad-CAM's claims on this CNN are in papers.gradcam.
OCCLUSION_CANVASES = 100
OCCLUDER, OCCLUDER_STRIDE = 16, 8  # the tab's default grey square


def measure_test_accuracy(seed: int, quick: bool) -> dict[str, float]:
    images, labels, _ = cluttered_digits(TEST_SIZE // (10 if quick else 1), "test", seed=seed + 1)
    return {"ours": 100 * evaluate(small_cnn("cpu"), images, labels)}


def measure_occlusion(seed: int, quick: bool) -> dict[str, float]:
    """§4.2, Fig. 7: does hiding the object lower the class probability more than hiding the rest?
    % of canvases where the mean p(true class) over square positions covering the digit's box is
    below the mean over the positions that do not."""
    model, (mean, std) = small_cnn("cpu"), _pixel_stats()
    images, labels, boxes = cluttered_digits(OCCLUSION_CANVASES // (5 if quick else 1), "test", seed=seed + 100)
    x = (images - mean) / std
    lower = 0
    for i in range(len(labels)):
        *_, maps = occlusion(model, x[i:i + 1], int(labels[i]), "conv4", 0, OCCLUDER, OCCLUDER_STRIDE, batch=64)
        x0, y0, x1, y1 = boxes[i].tolist()
        on_digit = np.zeros(maps.probability.shape, bool)
        on_digit[y0:y1, x0:x1] = True
        lower += maps.probability[on_digit].mean() < maps.probability[~on_digit].mean()
    return {"ours": 100 * int(lower) / len(labels)}


def measure_label_map(seed: int, quick: bool) -> dict[str, float]:
    """Fig. 7(e): the most probable label per square position. % of positions whose label is the
    true class, for squares that do not touch the digit's box ("ours") and for squares that cover
    the box's centre ("on_digit")."""
    model, (mean, std) = small_cnn("cpu"), _pixel_stats()
    images, labels, boxes = cluttered_digits(OCCLUSION_CANVASES // (5 if quick else 1), "test", seed=seed + 200)
    x = (images - mean) / std
    kept = {"ours": [0, 0], "on_digit": [0, 0]}  # [true label, positions]
    for i in range(len(labels)):
        *_, maps = occlusion(model, x[i:i + 1], int(labels[i]), "conv4", 0, OCCLUDER, OCCLUDER_STRIDE, batch=64)
        x0, y0, x1, y1 = boxes[i].tolist()
        cy, cx = (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2
        for r, top in enumerate(maps.tops):
            for c, left in enumerate(maps.lefts):
                apart = top >= y1 or top + OCCLUDER <= y0 or left >= x1 or left + OCCLUDER <= x0
                covers = top <= cy < top + OCCLUDER and left <= cx < left + OCCLUDER
                for key, counts in (("ours", apart), ("on_digit", covers)):
                    if counts:
                        kept[key][0] += int(maps.labels[r, c] == labels[i])
                        kept[key][1] += 1
    return {key: 100 * right / max(total, 1) for key, (right, total) in kept.items()}


def _experiments():
    from papers.results import Experiment, Paper

    return [
        Experiment("test_accuracy", "The shipped digits-in-clutter CNN reads the digit among clutter",
                   f"% test accuracy on {TEST_SIZE:,} random cluttered test-split canvases (seed = the canvases)",
                   measure_test_accuracy, seeds=5, higher_is_better=True, checkable=True, tolerance=0.15, digits=1,
                   paper=Paper(None, "Table 2 (ImageNet 2012)", "the paper's network is an ImageNet AlexNet variant; "
                               "no comparable figure for digits")),
        Experiment("occlusion_localises",
                   "Hiding the digit with a grey square lowers the class probability more than hiding the clutter "
                   "(§4.2, Fig. 7)",
                   f"% of {OCCLUSION_CANVASES} random test canvases where p(true class) is lower with the "
                   f"{OCCLUDER}-pixel square on the digit than elsewhere (stride {OCCLUDER_STRIDE})",
                   measure_occlusion, seeds=3, higher_is_better=True, checkable=True, tolerance=1.0, digits=1,
                   paper=Paper(None, "§4.2, Fig. 7", "shown on five ImageNet images, not counted")),
        Experiment("label_map_follows_the_digit",
                   "The most probable label stays the true digit while the grey square is away from the digit, "
                   "and changes far more often when it covers the digit (§4.2, Fig. 7(e))",
                   f"% of {OCCLUDER}-pixel square positions (stride {OCCLUDER_STRIDE}) whose most probable label "
                   f"is the true class, over {OCCLUSION_CANVASES} random test canvases: squares not touching the "
                   "digit's box (ours) vs squares covering its centre",
                   measure_label_map, seeds=3, higher_is_better=True, checkable=True, tolerance=1.0, digits=1,
                   labels={"ours": "square away from the digit", "on_digit": "square on the digit's centre"},
                   paper=Paper(None, "§4.2, Fig. 7(e)", "shown on three ImageNet images (e.g. the Pomeranian "
                               "becomes a tennis ball when its face is covered), not counted")),
    ]


EXPERIMENTS = _experiments()
