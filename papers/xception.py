"""Xception: Deep Learning with Depthwise Separable Convolutions.

François Chollet, CVPR 2017. https://arxiv.org/abs/1610.02357

The "Inception hypothesis" (§1.1): cross-channel correlations and spatial correlations are
decoupled enough that a layer should map them separately. Pushed to its extreme (§1.2, Fig. 4)
this is a depthwise separable convolution: one k×k spatial filter per channel, then a 1×1
pointwise convolution mixing channels, with no non-linearity in between (§4.7, Fig. 10).
Xception (§3, Fig. 5) has 36 convolutional layers — two regular ones in the stem, 34 depthwise
separable ones — in 14 modules, with linear residual connections around all but the first and
last: an entry flow, a middle flow repeated 8 times, and an exit flow. It beats Inception V3 on
ImageNet with about as many parameters (Tables 1 and 3) while doing more multiply-adds. Counted
here (results/xception.json): xception_params, inception_v3_params, xception_macs,
inception_v3_macs, conv_layers, stem_convs, separable_convs, residual_modules; measured:
latency_ratio. §4.7's ablations rerun at small scale on the offline digits, 5 seeds each
(`SmallXception`): fig10_* (nothing vs ReLU vs ELU between depthwise and pointwise, Fig. 10),
fig9_* (with vs without residual connections, Fig. 9), matched_* (separable vs regular vs
Inception-style convolutions at the same parameter count, cf. Tables 1 and 3), matched_params.

**Deviations from the paper**
- Batch-norm ε is PyTorch's 1e-5, as in the PyTorch port whose converted Keras weights we load
  (Keras used 1e-3); the ported weights were checked by their authors at 78.9 % top-1.
- The optional fully connected layers and the dropout (0.5) before the logistic regression
  (§4.3) are training-time details of the paper and are left out: the classifier is global
  average pooling then one linear layer, as in the Keras and timm models.
- Images are resized to 333 pixels (shorter side, bicubic) and centre-cropped to 299, the
  evaluation transform of timm's port; the paper does not state its test-time crop.
- The parameter/multiply-add explorer times single layers with PyTorch's kernels on this
  machine; the paper compares whole networks on 60 K80 GPUs (Table 3, steps/second).
- On CUDA, classification runs in bf16 (autocast), the softmax in fp32 (tests/test_gpu.py:
  logits within 5 % of fp32, relative L2). The explorer and timings stay fp32.
- Fig. 9 and Fig. 10 are curves of the full Xception on ImageNet / JFT (RMSprop or SGD, days on
  60 GPUs). Here they are rerun on a CPU budget: scikit-learn's digits averaged to 14×14 (the
  8×8 originals hold no more detail), 1,078 training / 270 validation (held-out training
  digits, for the curves) / 449 test digits; a small `SmallXception` (matched_params: a regular 3×3
  stem, 2 downsampling entry modules, 2 middle modules of 3 units, no exit flow); 150 Adam steps
  of 32 (lr 2e-3 decayed linearly to 0), every network on the same minibatches. The budget was
  set after one pilot run (seed 0: 300 steps at a constant rate, whose validation curves had
  flattened by about step 100 and then only jittered), not selected on the test digits. The
  digits are easy: every network ends close to the same accuracy, and the differences, where
  any, are in how fast it gets there.
- Fig. 9's non-residual network drops every shortcut, the 1×1 strided ones included (the paper
  does not say how it handled those).
- The parameter-matched comparison is ours, not a figure of the paper: every separable unit of
  `SmallXception` replaced by a regular 3×3 convolution or by Fig. 3's Inception-style unit
  (1×1, ReLU, 3×3 over 3 channel segments), widths set to the same parameter count. The paper
  compares Xception with Inception V3, whose modules also mix 1×1, 3×3, 5×5 and pooling towers.
"""
from __future__ import annotations

import functools
import re
import statistics
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from papers.checkpoints import Checkpoint, autocast, cached_model, get_device, load_state_dict

# --------------------------------------------------------------------------- config
INPUT_SIZE = 299
RESIZE_SIZE = 333  # 299 / 0.8975, the port's crop fraction
MEAN = STD = (0.5, 0.5, 0.5)  # Keras' "tf" preprocessing: x / 127.5 - 1
NUM_CLASSES = 1000
PAPER_PARAMS = 22_855_952  # Table 3
INCEPTION_SEGMENTS = 3  # Fig. 3: three towers = the 1×1 output split into three segments


@dataclass(frozen=True)
class XceptionConfig:
    """Widths of Fig. 5. Each entry-flow module doubles (or sets) the width and halves the size."""
    stem: tuple[int, int] = (32, 64)
    entry: tuple[int, ...] = (128, 256, 728)
    middle_repeats: int = 8
    middle_units: int = 3
    exit_module: tuple[int, int] = (728, 1024)
    exit_convs: tuple[int, int] = (1536, 2048)


# --------------------------------------------------------------------------- building blocks
INTERMEDIATE = {"none": nn.Identity, "ReLU": nn.ReLU, "ELU": nn.ELU}  # §4.7, Fig. 10's three variants


class SeparableConv2d(nn.Module):
    """§1.2: a depthwise k×k convolution (one filter per input channel, `groups=in`) followed by
    a pointwise 1×1 convolution; no non-linearity in between (§4.7 found it best). `intermediate`
    ("none", "ReLU", "ELU") is what sits between the two: Fig. 10's ablation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, intermediate: str = "none"):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding=kernel_size // 2,
                                   groups=in_channels, bias=False)
        self.intermediate = INTERMEDIATE[intermediate]()  # parameter-free: the state dict is unchanged
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.intermediate(self.depthwise(x)))


class SeparableUnit(nn.Module):
    """Fig. 5's "ReLU → SeparableConv → BatchNorm" (every convolution is followed by BN, §3).
    `conv` builds the convolution (in, out) -> module; Xception's is `SeparableConv2d`."""

    def __init__(self, in_channels: int, out_channels: int, relu_first: bool = True, conv=SeparableConv2d):
        super().__init__()
        self.relu_first = relu_first
        self.conv = conv(in_channels, out_channels)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x) if self.relu_first else x  # not in place: the shortcut still needs x
        return self.bn(self.conv(x))


class XceptionModule(nn.Module):
    """One residual module of Fig. 5: separable units, a 3×3 stride-2 max-pool when the module
    downsamples, plus a linear shortcut (identity, or 1×1 stride-2 conv + BN when shapes change).
    `residual=False` drops the shortcut (Fig. 9's non-residual Xception); nothing else changes."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], stride: int = 1, relu_first: bool = True,
                 conv=SeparableConv2d, residual: bool = True):
        super().__init__()
        ins = (in_channels,) + widths[:-1]
        self.units = nn.ModuleList(SeparableUnit(i, o, relu_first or n > 0, conv)
                                   for n, (i, o) in enumerate(zip(ins, widths)))
        self.pool = nn.MaxPool2d(3, stride, padding=1) if stride > 1 else nn.Identity()
        out_channels = widths[-1]
        if not residual:
            self.shortcut = None
        else:
            self.shortcut = nn.Identity() if (in_channels, stride) == (out_channels, 1) else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for unit in self.units:
            y = unit(y)
        y = self.pool(y)
        return y if self.shortcut is None else y + self.shortcut(x)


def separable_bn_relu(in_channels: int, out_channels: int) -> list[tuple[str, nn.Module]]:
    return [("conv", SeparableConv2d(in_channels, out_channels)), ("bn", nn.BatchNorm2d(out_channels)),
            ("relu", nn.ReLU(inplace=True))]


# --------------------------------------------------------------------------- model
class Xception(nn.Module):
    """Fig. 5: entry flow (stem + 3 modules), middle flow (8 modules), exit flow, then global
    average pooling and logistic regression. 36 conv layers (2 regular, 34 separable) in 14 modules (§3)."""

    def __init__(self, num_classes: int = NUM_CLASSES, config: XceptionConfig = XceptionConfig(), in_channels: int = 3):
        super().__init__()
        c1, c2 = config.stem
        # module 1 (no residual): two valid 3×3 convolutions, the first with stride 2 (299→149→147)
        self.stem = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(in_channels, c1, 3, stride=2, bias=False), bn1=nn.BatchNorm2d(c1), relu1=nn.ReLU(inplace=True),
            conv2=nn.Conv2d(c1, c2, 3, bias=False), bn2=nn.BatchNorm2d(c2), relu2=nn.ReLU(inplace=True)))
        entry, width = [], c2
        for n, out in enumerate(config.entry):  # the stem already ends with a ReLU
            entry.append(XceptionModule(width, (out, out), stride=2, relu_first=n > 0))
            width = out
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(XceptionModule(width, (width,) * config.middle_units)
                                           for _ in range(config.middle_repeats)))
        (u1, u2), (e1, e2) = config.exit_module, config.exit_convs
        self.exit_flow = nn.Sequential(OrderedDict(
            [("module", XceptionModule(width, (u1, u2), stride=2))]
            + [(f"{name}1", m) for name, m in separable_bn_relu(u2, e1)]
            + [(f"{name}2", m) for name, m in separable_bn_relu(e1, e2)]))
        self.fc = nn.Linear(e2, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.exit_flow(self.middle_flow(self.entry_flow(self.stem(x))))  # (B, 2048, 10, 10) at 299

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))  # global average pooling -> (B, classes)

    def first_separable(self) -> SeparableConv2d:
        return self.entry_flow[0].units[0].conv


# --------------------------------------------------------------------------- timm's layout
_TIMM_ENTRY, _TIMM_MIDDLE = range(1, 4), range(4, 12)  # timm's block1..3 and block4..11; block12: exit
_TIMM_RENAMES = [  # (pattern on a timm key with its block already renamed, replacement)
    (r"^conv([12])\.", r"stem.conv\1."), (r"^bn([12])\.", r"stem.bn\1."),
    (r"^conv([34])\.conv1\.", lambda m: f"exit_flow.conv{int(m[1]) - 2}.depthwise."),
    (r"^conv([34])\.pointwise\.", lambda m: f"exit_flow.conv{int(m[1]) - 2}.pointwise."),
    (r"^bn([34])\.", lambda m: f"exit_flow.bn{int(m[1]) - 2}."),
]


def _timm_block(number: int) -> str:
    if number in _TIMM_ENTRY:
        return f"entry_flow.{number - _TIMM_ENTRY.start}"
    if number in _TIMM_MIDDLE:
        return f"middle_flow.{number - _TIMM_MIDDLE.start}"
    return "exit_flow.module"


def _timm_rep(number: int, index: int, rest: str) -> str:
    """timm's `blockN.rep` is a flat [ReLU, SepConv, BN]* list (block1 has no leading ReLU):
    index -> our unit, `conv1` (depthwise) / `pointwise` / BN -> our names."""
    offset = 0 if number == _TIMM_ENTRY.start else 1
    unit, role = divmod(index - offset, 3)
    if role == 0:  # the SeparableConv2d
        rest = rest.replace("conv1.", "conv.depthwise.", 1).replace("pointwise.", "conv.pointwise.", 1)
    else:
        rest = "bn." + rest
    return f"units.{unit}.{rest}"


def from_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm `legacy_xception` (= Cadene's port of the Keras weights) keys -> this module's keys."""
    ours = {}
    for key, value in state.items():
        new = key
        block = re.match(r"^block(\d+)\.(?:rep\.(\d+)\.)?(.*)$", key)
        if block:
            number = int(block[1])
            tail = _timm_rep(number, int(block[2]), block[3]) if block[2] else block[3]
            new = f"{_timm_block(number)}.{tail}"
            if not block[2]:
                new = new.replace(".skip.", ".shortcut.0.").replace(".skipbn.", ".shortcut.1.")
        else:
            for pattern, replacement in _TIMM_RENAMES:
                new = re.sub(pattern, replacement, new)
            if new == key and not key.startswith("fc."):
                raise KeyError(f"Unexpected key in a legacy_xception state dict: {key}")
        ours[new] = value
    return ours


# --------------------------------------------------------------------------- checkpoints
IMAGENET = Checkpoint(
    name="Xception ImageNet-1k (Keras weights, Cadene/timm legacy_xception)",
    filename="xception_imagenet1k_keras.safetensors",
    upstream_url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/xception-43020ad28.pth",
    # Only the 9-digit prefix the file name carries is known: no public record of the full sha256
    # was found, so this checkpoint is not fully verified (Checkpoint.verification_gaps says so).
    upstream_sha256="43020ad28",
    convert=from_timm,
    license="Apache-2.0 (timm model card; Keras Applications weights)",
    size_bytes=91_700_000,
    num_params=PAPER_PARAMS,
    source="Keras Applications Xception (79.0 % / 94.5 %), ported to PyTorch by R. Cadene (78.9 % / 94.3 %), "
           "hosted by timm as legacy_xception.tf_in1k",
    description="The paper's Xception trained on ImageNet-1k by Keras, converted to PyTorch",
)


@cached_model
def imagenet_model(device=None) -> Xception:
    """The ImageNet-trained Xception (raises WeightsUnavailable with directions)."""
    device = device or get_device()
    model = Xception()
    model.load_state_dict(load_state_dict(IMAGENET, device))
    return model.to(device).eval()


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, offline (they ship inside torchvision)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


# --------------------------------------------------------------------------- inference
def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, 299, 299): bicubic resize of the shorter side to 333, centre
    crop 299, scale to [-1, 1]."""
    h, w = rgb.shape[:2]
    scale = RESIZE_SIZE / min(h, w)
    size = (max(RESIZE_SIZE, round(w * scale)), max(RESIZE_SIZE, round(h * scale)))
    img = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))
    top, left = (img.shape[0] - INPUT_SIZE) // 2, (img.shape[1] - INPUT_SIZE) // 2
    crop = img[top:top + INPUT_SIZE, left:left + INPUT_SIZE]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255.0  # (3, 299, 299)
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    return x[None]


@torch.inference_mode()
def top_k(model: nn.Module, rgb: np.ndarray, categories: list[str], k: int = 5) -> list[tuple[str, float]]:
    device = next(model.parameters()).device
    with autocast(device):  # bf16 on CUDA
        logits = model(preprocess(rgb).to(device))
    probs = logits.float().softmax(-1)[0].cpu()
    values, indices = probs.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values, indices)]


# --------------------------------------------------------------------------- counting
def count_params(module: nn.Module) -> int:
    """Learnable parameters (BN running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters())


def _dummy_input(module: nn.Module, shape: tuple, make) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """A tensor of `shape` on the module's device, or a tuple of them for a tuple of shapes."""
    if shape and isinstance(shape[0], (tuple, list)):
        return tuple(_dummy_input(module, s, make) for s in shape)
    return make(tuple(shape), device=next(module.parameters(), torch.empty(0)).device)


@torch.inference_mode()
def count_macs(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of the convolutions and matrix products in one forward pass of a zero
    tensor of `input_shape` (a tuple of shapes: a tuple of tensors), however they are called (modules or functional). Counted by
    `torch.utils.flop_counter`, which reports 2 FLOPs per multiply-add."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        module(_dummy_input(module, input_shape, torch.zeros))
    return counter.get_total_flops() // 2


def device_description(device=None) -> str:
    """Where latencies are measured, for people: "CPU (2 PyTorch threads)" or "GPU (name)"."""
    device = torch.device(device or get_device())
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"CPU ({torch.get_num_threads()} PyTorch threads)"
    return device.type.upper()


@torch.inference_mode()
def measure_latencies(items: list[tuple[nn.Module, tuple]], budget_s: float = 0.3, min_repeats: int = 3,
                      max_repeats: int = 50) -> list[float]:
    """Median wall-clock seconds of one forward pass for each (module, input shape) on its
    device. After a warm-up, the modules run in turns, round after round, until `budget_s` is
    spent (at least `min_repeats` rounds): a busy machine slows them all alike, so their ratios
    stay meaningful."""
    inputs = [_dummy_input(module, shape, torch.randn) for module, shape in items]
    devices = {next(m.parameters(), torch.empty(0)).device.type for m, _ in items}
    sync = torch.cuda.synchronize if "cuda" in devices else (lambda: None)
    for (module, _), x in zip(items, inputs):  # warm-up: allocations, kernel selection
        module(x)
    sync()
    times: list[list[float]] = [[] for _ in items]
    start = time.perf_counter()
    rounds = 0
    while rounds < min_repeats or (rounds < max_repeats and time.perf_counter() - start < budget_s):
        for (module, _), x, samples in zip(items, inputs, times):
            t0 = time.perf_counter()
            module(x)
            sync()
            samples.append(time.perf_counter() - t0)
        rounds += 1
    return [statistics.median(samples) for samples in times]


# --------------------------------------------------------------------------- the Inception hypothesis
class InceptionStyle(nn.Module):
    """Fig. 3: the simplified Inception module rewritten as one 1×1 convolution followed by k×k
    convolutions over `segments` non-overlapping segments of its output channels (with the
    ReLU Inception puts between them). segments=channels gives Fig. 4's "extreme" Inception."""

    def __init__(self, channels: int, kernel_size: int, segments: int = INCEPTION_SEGMENTS,
                 out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels  # the 1×1 maps channels -> out, the k×k segments keep out
        self.pointwise = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.spatial = nn.Conv2d(out_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                 groups=segments, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(F.relu(self.pointwise(x)))


@dataclass(frozen=True)
class LayerCost:
    name: str
    params: int
    macs: int
    seconds: float  # measured median latency on this device

    @property
    def macs_per_second(self) -> float:
        return self.macs / self.seconds if self.seconds > 0 else float("nan")


def explorer_layers(channels: int, kernel_size: int, segments: int = INCEPTION_SEGMENTS) -> dict[str, nn.Module]:
    """C→C layers that map the same input to the same output shape, from joint to decoupled."""
    if channels % segments:
        raise ValueError(f"{channels} channels cannot be split into {segments} equal segments.")
    separable = SeparableConv2d(channels, channels, kernel_size)
    return {
        "regular convolution": nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False),
        f"Inception-style ({segments} segments, Fig. 3)": InceptionStyle(channels, kernel_size, segments),
        "depthwise separable (Xception)": separable,
        "  ↳ its depthwise part": separable.depthwise,
        "  ↳ its pointwise part": separable.pointwise,
    }


def explore(channels: int, kernel_size: int, size: int, segments: int = INCEPTION_SEGMENTS,
            device=None, budget_s: float = 0.2, max_macs: int | None = None) -> list[LayerCost]:
    """Parameters, multiply-adds and measured latency of `explorer_layers` on a (1, C, size, size)
    input on `device` (random weights: latency does not depend on their values). Refuses
    layers whose regular convolution needs more than `max_macs` multiply-adds."""
    device = device or get_device()
    regular_macs = channels * channels * kernel_size ** 2 * size ** 2  # C_out · C_in · k² · H · W
    if max_macs is not None and regular_macs > max_macs:
        raise ValueError(f"The regular convolution would need {regular_macs / 1e9:.1f} G multiply-adds, more than "
                         f"the {max_macs / 1e9:.0f} G allowed per measurement here: lower the channels, kernel or size.")
    shape = (1, channels, size, size)
    layers = {name: layer.to(device).eval() for name, layer in explorer_layers(channels, kernel_size, segments).items()}
    seconds = measure_latencies([(layer, shape) for layer in layers.values()], budget_s * len(layers))
    return [LayerCost(name, count_params(layer), count_macs(layer, shape), s)
            for (name, layer), s in zip(layers.items(), seconds)]


def whole_networks(device=None, budget_s: float = 0.5) -> list[LayerCost]:
    """Xception against Inception V3 (torchvision's, the paper's baseline, §4.2), both with
    random weights at 299×299: parameters, multiply-adds and measured latency on `device`."""
    device = device or get_device()
    shape = (1, 3, INPUT_SIZE, INPUT_SIZE)
    builders = {"Xception (Fig. 5)": Xception, "Inception V3 (torchvision)": inception_v3}
    models = {name: build().to(device).eval() for name, build in builders.items()}
    seconds = measure_latencies([(model, shape) for model in models.values()], budget_s, min_repeats=2)
    return [LayerCost(name, count_params(model), count_macs(model, shape), s)
            for (name, model), s in zip(models.items(), seconds)]


# --------------------------------------------------------------------------- filters
def first_block_sizes(model: Xception) -> dict[str, int]:
    """Parameters of the first separable convolution's two parts, and of the regular
    convolution with the same input, output and kernel that it replaces (§1.2)."""
    sep = model.first_separable()
    c_in, c_out, k = sep.depthwise.in_channels, sep.pointwise.out_channels, sep.depthwise.kernel_size[0]
    return {"depthwise": count_params(sep.depthwise), "pointwise": count_params(sep.pointwise),
            "regular": c_in * c_out * k * k, "in": c_in, "out": c_out, "kernel": k}


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] -> uint8 RGB: blue (negative), white (0), red (positive)."""
    v = np.clip(values, -1, 1)[..., None]
    white, red, blue = np.ones(3), np.array([0.80, 0.15, 0.10]), np.array([0.10, 0.30, 0.80])
    rgb = np.where(v >= 0, white + v * (red - white), white - v * (blue - white))
    return (rgb * 255 + 0.5).astype(np.uint8)


def depthwise_image(model: Xception, scale: int = 12, columns: int = 16, gap: int = 2) -> np.ndarray:
    """The first separable block's depthwise k×k filters, one tile per channel, each scaled to
    its own largest magnitude (blue negative, red positive)."""
    w = model.first_separable().depthwise.weight.detach().float().cpu()[:, 0]  # (C, k, k)
    w = (w / w.flatten(1).abs().amax(1).clamp(min=1e-12)[:, None, None]).numpy()
    tiles = diverging_rgb(w).repeat(scale, 1).repeat(scale, 2)  # (C, k*scale, k*scale, 3)
    n, side = len(tiles), tiles.shape[1]
    rows = -(-n // columns)
    grid = np.full((rows * (side + gap) + gap, columns * (side + gap) + gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[gap + r * (side + gap):gap + r * (side + gap) + side, gap + c * (side + gap):gap + c * (side + gap) + side] = t
    return grid


def pointwise_image(model: Xception, scale: int = 4) -> np.ndarray:
    """The first separable block's pointwise weights as an (out × in) heat map."""
    w = model.first_separable().pointwise.weight.detach().float().cpu()[:, :, 0, 0].numpy()  # (out, in)
    return diverging_rgb(w / max(np.abs(w).max(), 1e-12)).repeat(scale, 0).repeat(scale, 1)


# --------------------------------------------------------------------------- §4.7 at small scale
# The paper's ablations (Fig. 9, Fig. 10) and its parameter-matched comparison with Inception V3
# (Tables 1 and 3), rerun on the offline digits (papers.data) with a small Xception of the same
# kind: a regular stem, downsampling modules with 1×1 stride-2 shortcuts, identity-shortcut
# middle modules, global average pooling and logistic regression.
@dataclass(frozen=True)
class SmallConfig:
    """A small Xception-style network for 14×14 digits. `conv` is what every unit's convolution
    is ("separable", "inception" = Fig. 3's 1×1 then 3 segments of 3×3, "regular" 3×3);
    `intermediate` what sits between depthwise and pointwise (separable only, Fig. 10);
    `residual` whether modules have their shortcut (Fig. 9)."""
    conv: str = "separable"
    intermediate: str = "none"
    residual: bool = True
    stem: int = 16
    entry: tuple[int, ...] = (32, 64)  # each entry module halves the size: 14 -> 7 -> 4
    middle_repeats: int = 2
    middle_units: int = 3
    in_channels: int = 1
    classes: int = 10


def _unit_conv(config: SmallConfig):
    """(in, out) -> the convolution module of one unit, for config.conv."""
    if config.conv == "separable":
        return lambda i, o: SeparableConv2d(i, o, intermediate=config.intermediate)
    if config.conv == "inception":
        return lambda i, o: InceptionStyle(i, 3, INCEPTION_SEGMENTS, out_channels=o)
    if config.conv == "regular":
        return lambda i, o: nn.Conv2d(i, o, 3, padding=1, bias=False)
    raise ValueError(f"unknown convolution {config.conv!r}")


class SmallXception(nn.Module):
    """Fig. 5 shrunk to digits: stem (regular 3×3 conv, BN, ReLU), entry modules (two units and a
    stride-2 max-pool each), middle modules (three units, identity shortcut), global average
    pooling, logistic regression."""

    def __init__(self, config: SmallConfig = SmallConfig()):
        super().__init__()
        self.config = config
        conv = _unit_conv(config)
        self.stem = nn.Sequential(OrderedDict(conv=nn.Conv2d(config.in_channels, config.stem, 3, padding=1, bias=False),
                                              bn=nn.BatchNorm2d(config.stem), relu=nn.ReLU()))
        modules, width = [], config.stem
        for n, out in enumerate(config.entry):  # the stem already ends with a ReLU
            modules.append(XceptionModule(width, (out, out), stride=2, relu_first=n > 0, conv=conv,
                                          residual=config.residual))
            width = out
        modules += [XceptionModule(width, (width,) * config.middle_units, conv=conv, residual=config.residual)
                    for _ in range(config.middle_repeats)]
        self.modules_ = nn.Sequential(*modules)
        self.fc = nn.Linear(width, config.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 14, 14)
        y = F.relu(self.modules_(self.stem(x)))  # (B, C, 4, 4); the last unit ends in BN, so ReLU first
        return self.fc(y.mean((2, 3)))  # global average pooling -> (B, classes)


@functools.cache
def matched_config(conv: str, budget: int | None = None, **kwargs) -> SmallConfig:
    """The SmallConfig with convolution `conv` whose module widths come closest in parameters to
    `budget` (default: the separable network's): first all entry widths scaled together, then the
    first and the last one alone. Inception-style widths stay multiples of INCEPTION_SEGMENTS so its
    segments are equal; the stem is unchanged."""
    base = SmallConfig(**kwargs)
    budget = budget or count_params(SmallXception(base))
    step = INCEPTION_SEGMENTS if conv == "inception" else 1

    def gap(entry: tuple[int, ...]) -> int:
        with torch.device("meta"):  # shapes only: counting needs no weights
            model = SmallXception(SmallConfig(**{**vars(base), "conv": conv, "entry": entry}))
        return abs(count_params(model) - budget)

    scaled = [tuple(max(step, round(w * scale / step) * step) for w in base.entry) for scale in np.arange(0.2, 3, 0.05)]
    entry = min(scaled, key=gap)
    for i in (0, len(entry) - 1, 0):  # then the first width, the last, the first again, one at a time
        entry = min((entry[:i] + (w,) + entry[i + 1:] for w in range(step, 2 * entry[i] + 1, step)), key=gap)
    return SmallConfig(**{**vars(base), "conv": conv, "entry": entry})


# Fig. 10 (intermediate activation), Fig. 9 (residual) and the parameter-matched nets, by name.
VARIANTS = {
    "no intermediate activation": dict(conv="separable", intermediate="none"),
    "ReLU in between": dict(conv="separable", intermediate="ReLU"),
    "ELU in between": dict(conv="separable", intermediate="ELU"),
    "no residual connections": dict(conv="separable", residual=False),
    "regular convolutions": dict(conv="regular"),
    "Inception-style (Fig. 3)": dict(conv="inception"),
}
FIG10_VARIANTS = ("no intermediate activation", "ReLU in between", "ELU in between")


def variant_config(name: str) -> SmallConfig:
    spec = dict(VARIANTS[name])
    conv = spec.pop("conv")
    return matched_config(conv, **spec) if conv != "separable" else SmallConfig(conv=conv, **spec)


@dataclass(frozen=True)
class TrainSettings:
    """One budget for every variant: Adam (the paper uses RMSprop on JFT, SGD on ImageNet), the
    learning rate decayed linearly to 0 over the budget, the same minibatches in the same order
    for every network."""
    steps: int = 150
    batch: int = 32
    lr: float = 2e-3
    every: int = 10  # validation accuracy measured every this many steps
    validation_fraction: float = 0.2  # of the training digits, held out for the curves and choices


QUICK = TrainSettings(steps=40, every=10)


@dataclass
class CurvePoint:
    step: int
    method: str
    val_acc: float  # held-out training digits


@dataclass
class DigitsSplit:
    x_train: torch.Tensor  # (N, 1, 14, 14)
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _half(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 28, 28) digits -> (N, 1, 14, 14) by 2×2 averaging (a CPU-sized input; the 8×8 originals
    hold no more detail), labels unchanged."""
    images, labels = pair
    return F.avg_pool2d(images, 2), labels


def digits_split(validation_fraction: float = TrainSettings.validation_fraction) -> DigitsSplit:
    """papers.data's train digits split (fixed seed) into train and validation; the test digits apart."""
    from papers import data

    x, y = _half(data.digits("train"))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(data.SPLIT_SEED))
    n_val = int(round(len(y) * validation_fraction))
    val, train = order[:n_val], order[n_val:]
    x_test, y_test = _half(data.digits("test"))
    return DigitsSplit(x[train], y[train], x[val], y[val], x_test, y_test)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    was = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(y), batch))
    model.train(was)
    return correct / len(y)


def train_together(names: tuple[str, ...], seed: int, settings: TrainSettings = TrainSettings(),
                   split: DigitsSplit | None = None):
    """Train the named VARIANTS side by side on the same minibatches, each initialised from `seed`.
    A generator: yields the list of CurvePoints so far after every `settings.every` steps (and at
    step 0); returns {name: (model, test accuracy)} (StopIteration.value) when done. Touches no
    global RNG state (seeded_init, a torch.Generator for the batches)."""
    from papers.checkpoints import seeded_init

    split = split or digits_split(settings.validation_fraction)
    models = {}
    for name in names:
        with seeded_init(seed):  # every variant starts from the seed's initialisation
            models[name] = SmallXception(variant_config(name))
    optimisers = {name: torch.optim.Adam(m.parameters(), lr=settings.lr) for name, m in models.items()}
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1 - s / settings.steps) for o in optimisers.values()]
    generator = torch.Generator().manual_seed(seed)
    points = [CurvePoint(0, name, accuracy(m, split.x_val, split.y_val)) for name, m in models.items()]
    yield points
    n = len(split.y_train)
    order, position = torch.randperm(n, generator=generator), 0
    for step in range(1, settings.steps + 1):
        if position + settings.batch > n:  # a new epoch
            order, position = torch.randperm(n, generator=generator), 0
        idx = order[position:position + settings.batch]
        position += settings.batch
        x, y = split.x_train[idx], split.y_train[idx]  # (B, 1, 14, 14), (B,)
        for name, model in models.items():
            loss = F.cross_entropy(model(x), y)
            optimisers[name].zero_grad()
            loss.backward()
            optimisers[name].step()
        for schedule in schedules:
            schedule.step()
        if step % settings.every == 0 or step == settings.steps:
            points += [CurvePoint(step, name, accuracy(m, split.x_val, split.y_val)) for name, m in models.items()]
            yield points
    return {name: (m.eval(), accuracy(m, split.x_test, split.y_test)) for name, m in models.items()}


def run_to_end(names: tuple[str, ...], seed: int, settings: TrainSettings = TrainSettings()):
    """(curve points, {name: test accuracy}) of a finished train_together run."""
    run, points = train_together(names, seed, settings), []
    while True:
        try:
            points = next(run)
        except StopIteration as done:
            return points, {name: acc for name, (_, acc) in done.value.items()}


def curve_mean(points: list[CurvePoint], method: str) -> float:
    """How fast a network trains, in one number: its validation accuracy averaged over the curve's
    points after step 0 (the area under the curve over the budget, divided by its length)."""
    values = [p.val_acc for p in points if p.method == method and p.step > 0]
    return sum(values) / len(values)


# ---- experiments behind the claims
# Counted from the models themselves (deterministic, one seed, checkable), and one measured
# latency ratio (seeded weights; the clock varies with the machine, so not checkable).
def inception_v3() -> nn.Module:
    """torchvision's Inception V3 (random weights), the paper's baseline (§4.2), without the auxiliary head."""
    from torchvision.models import inception_v3 as build

    return build(weights=None, aux_logits=False, init_weights=False)


IMAGE_SHAPE = (1, 3, INPUT_SIZE, INPUT_SIZE)


def conv_layer_counts(model: Xception) -> dict[str, int]:
    """§3's 36 convolutional layers, counted: the stem's regular convolutions, the depthwise
    separable ones, and the modules with a residual connection (shortcut 1×1 convs not counted)."""
    regular = sum(isinstance(m, nn.Conv2d) for m in model.stem.modules())
    separable = sum(isinstance(m, SeparableConv2d) for m in model.modules())
    residual = sum(isinstance(m, XceptionModule) for m in model.modules())
    return {"conv_layers": regular + separable, "stem_convs": regular, "separable_convs": separable,
            "residual_modules": residual}


def _count(what: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        with torch.device("cpu"):
            if what == "xception_params":
                return {"ours": count_params(Xception())}
            if what == "inception_v3_params":
                return {"ours": count_params(inception_v3())}
            if what == "xception_macs":
                return {"ours": count_macs(Xception().eval(), IMAGE_SHAPE) / 1e9}
            if what == "inception_v3_macs":
                return {"ours": count_macs(inception_v3().eval(), IMAGE_SHAPE) / 1e9}
            return {"ours": conv_layer_counts(Xception())[what]}
    return measure


def measure_latency_ratio(seed: int, quick: bool) -> dict[str, float]:
    """Xception's forward time over Inception V3's at 299×299, batch 1, on this machine."""
    torch.manual_seed(seed)
    xception_row, inception_row = whole_networks("cpu", budget_s=0.5 if quick else 3.0)
    return {"ours": xception_row.seconds / inception_row.seconds}


@functools.cache
def digits_run(seed: int, quick: bool) -> tuple[list[CurvePoint], dict[str, float]]:
    """All VARIANTS trained together from `seed` (one run serves every digits claim of that seed)."""
    return run_to_end(tuple(VARIANTS), seed, QUICK if quick else TrainSettings())


# claim key -> variant name; "ours" is Xception's choice in every comparison
METHOD_KEYS = {"ours": "no intermediate activation", "relu": "ReLU in between", "elu": "ELU in between",
               "no_residual": "no residual connections", "regular": "regular convolutions",
               "inception": "Inception-style (Fig. 3)"}
COMPARISONS = {"fig10": ("relu", "elu"), "fig9": ("no_residual",), "matched": ("regular", "inception")}


def _digits_measure(comparison: str, when: str):
    """Mean validation accuracy (%) over the curve, or test accuracy (%) at the end, for one comparison."""
    keys = ("ours",) + COMPARISONS[comparison]

    def measure(seed: int, quick: bool) -> dict[str, float]:
        points, test = digits_run(seed, quick)
        if when == "test":
            return {k: 100 * test[METHOD_KEYS[k]] for k in keys}
        return {k: 100 * curve_mean(points, METHOD_KEYS[k]) for k in keys}
    return measure


def measure_matched_params(seed: int, quick: bool) -> dict[str, float]:
    return {k: count_params(SmallXception(variant_config(METHOD_KEYS[k]))) for k in ("ours",) + COMPARISONS["matched"]}


def _experiments():
    from papers.results import Experiment, Paper

    settings = TrainSettings()
    steps, every = settings.steps, settings.every
    labels = {k: v for k, v in METHOD_KEYS.items()}
    digits_claims = []
    for comparison, paper in {
        "fig10": Paper(None, "Fig. 10", "JFT: with no intermediate non-linearity training converges fastest and "
                       "ends best; ELU, then ReLU, are slower and worse"),
        "fig9": Paper(None, "Fig. 9", "ImageNet: with residual connections Xception converges much faster and "
                      "ends better"),
        "matched": Paper(None, "Table 1, Table 3", "ImageNet: Xception beats Inception V3 (79.0 vs 78.2 % top-1) "
                         "with about as many parameters"),
    }.items():
        what = {"fig10": "no activation vs ReLU vs ELU between depthwise and pointwise",
                "fig9": "with vs without residual connections",
                "matched": "separable vs regular vs Inception-style convolutions, parameter-matched"}[comparison]
        keep = {k: labels[k] for k in ("ours",) + COMPARISONS[comparison]}
        digits_claims += [
            Experiment(f"{comparison}_early_val", f"Small Xception on 14×14 digits, {what}: validation accuracy "
                       f"averaged over the training curve (how fast it trains)",
                       f"% accuracy on held-out training digits, mean of the curve every {every} of {steps} Adam "
                       "steps of 32 (area under the curve)", _digits_measure(
                           comparison, "early"), seeds=5, higher_is_better=True, paper=paper, digits=1, labels=keep),
            Experiment(f"{comparison}_test", f"Small Xception on 14×14 digits, {what}: test accuracy after "
                       f"{steps} steps", f"% accuracy on the 449 test digits after {steps} Adam steps of 32",
                       _digits_measure(comparison, "test"), seeds=5, higher_is_better=True, paper=paper, digits=1,
                       labels=keep),
        ]

    def counted(claim: str, statement: str, metric: str, paper: Paper | None = None, digits: int = 0):
        return Experiment(claim, statement, metric, _count(claim), seeds=1, checkable=True, digits=digits,
                          tolerance=0.005 if digits else 0.0, paper=paper)

    return [
        counted("xception_params", "Xception's parameters (Fig. 5 as built here)", "learnable parameters",
                Paper(PAPER_PARAMS, "Table 3")),
        counted("inception_v3_params", "Inception V3's parameters (torchvision's, no auxiliary head)",
                "learnable parameters", Paper(23_626_728, "Table 3", "the paper's own Inception V3 implementation")),
        counted("xception_macs", "Xception's multiply-adds for one 299×299 image",
                "G multiply-adds (counted by torch.utils.flop_counter)", digits=2),
        counted("inception_v3_macs", "Inception V3's multiply-adds for one 299×299 image",
                "G multiply-adds (counted by torch.utils.flop_counter)", digits=2),
        counted("conv_layers", "Convolutional layers of the feature extractor (§3: 36)",
                "conv layers (stem + depthwise separable; 1×1 shortcuts not counted)", Paper(36, "§3")),
        counted("stem_convs", "Of those, regular convolutions in the stem", "conv layers"),
        counted("separable_convs", "Of those, depthwise separable convolutions", "conv layers"),
        counted("residual_modules", "Modules with a linear residual connection (§3: all of the 14 but the first "
                "and last)", "modules", Paper(12, "§3", "14 modules minus the first and the last")),
        Experiment("latency_ratio", "Xception takes longer than Inception V3 per image: it does more multiply-adds",
                   "forward time of Xception / Inception V3, batch 1 at 299×299, random weights, CPU of the "
                   "results file's `threads`", measure_latency_ratio, seeds=3, higher_is_better=False, digits=2,
                   paper=Paper(round(31 / 28, 2), "Table 3",
                               "training steps/second on 60 K80 GPUs: 28 for Xception, 31 for Inception V3")),
        Experiment("matched_params", "Parameters of the small digits networks: separable, regular and "
                   "Inception-style, widths chosen to match", "learnable parameters", measure_matched_params, seeds=3,
                   checkable=True, digits=0, labels={k: labels[k] for k in ("ours",) + COMPARISONS["matched"]}),
        *digits_claims,
    ]


EXPERIMENTS = _experiments()
