"""Drop an Octave: Reducing Spatial Redundancy in Convolutional Neural Networks with Octave Convolution.

Yunpeng Chen, Haoqi Fan, Bing Xu, Zhicheng Yan, Yannis Kalantidis, Marcus Rohrbach, Shuicheng Yan,
Jiashi Feng. ICCV 2019. https://arxiv.org/abs/1904.05049

Natural images mix fast-varying detail with slowly varying structure; so do feature maps.
§3.1 splits the channels of every feature map into a high-frequency group X^H at full
resolution and a low-frequency group X^L (a fraction α of the channels) stored one octave
lower, at half the height and width. §3.2's Octave Convolution updates both groups and lets
them talk through four paths: H→H and L→L (ordinary convolutions), H→L (average-pool by 2,
then convolve) and L→H (convolve, then nearest-upsample by 2). The low group costs a quarter
per channel, so the multiply-adds fall to 1 - ¾·α·(2 - α) of a regular convolution (Table 1)
with the same parameters, and the paper reports equal or better accuracy on ImageNet (Fig. 4).

**Deviations from the paper**
- The sweep is a five-layer network on 16×16 scikit-learn digits (offline), not ResNet-50 on
  ImageNet: the paper's Fig. 4 at toy scale. Its figures are in results/octconv.json
  (`python -m papers.reproduce octconv`): retrained_accuracy_alpha_* (every α retrained from
  scratch per seed, against α = 0), shipped_accuracy_alpha_*, macs_alpha_* and params.
- §3.1's premise (the low-frequency group holds less high-frequency content, Fig. 1) is measured, not
  shown as the paper's spectra: `group_energy` gives each group's share of spectral energy above
  0.125 cycles per input pixel in the first OctConv layer, over its whole spectrum and over the band
  both groups can hold (claim `group_energy`). The first layer's low group is computed from the
  average-pooled image, so part of its smoothness is by construction.
- Strided OctConv (our downsampling layers) applies the stride in each path's convolution, so
  α = 0 is exactly a strided Conv2d; the authors' code average-pools both groups first, and the
  paper shows only stride 1 in §3.2.
- The low-frequency channel count is round(α·C) (the authors' code truncates; equal for the
  widths used here). Spatial sizes must be even wherever a low-frequency group exists.
- Batch norm and ReLU are applied to each frequency group separately (as in the paper's
  ResNet integration); the paper does not list these layers for its toy examples.
"""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from papers.checkpoints import Checkpoint, cached_model, get_device, load_state_dict
from papers.results import Experiment, Paper
from papers.xception import count_macs, count_params, measure_latencies

# --------------------------------------------------------------------------- config
OCTAVE = 2  # X^L is one octave lower: half the height and width (§3.1)
SWEEP_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75)
TABLE1_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)
DIGIT_SIDE = 16  # digits are resized from 28 to 16: two stride-2 stages keep even sizes, and CPU-cheap
NUM_CLASSES = 10


@dataclass(frozen=True)
class OctNetConfig:
    widths: tuple[int, ...] = (16, 32, 32, 32)  # OctConv layers after the first one
    strides: tuple[int, ...] = (2, 2, 1, 1)  # 16 -> 8 -> 4 (X^L: 8 -> 4 -> 2)
    stem_width: int = 8
    in_channels: int = 1
    num_classes: int = NUM_CLASSES


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    max_shift: int = 1  # random translation in pixels (augmentation)
    seed: int = 0


# --------------------------------------------------------------------------- theory (Table 1)
def mac_ratio(alpha: float) -> float:
    """Table 1: multiply-adds of OctConv with α_in = α_out = α relative to a regular convolution.
    H→H costs (1-α)², the three paths touching X^L run at ¼ resolution: (1-α)² + (1-(1-α)²)/4."""
    return 1 - 0.75 * alpha * (2 - alpha)


def memory_ratio(alpha: float) -> float:
    """Table 1: feature-map memory relative to a regular one: (1-α) + α/4."""
    return 1 - 0.75 * alpha


# --------------------------------------------------------------------------- building blocks
def split(channels: int, alpha: float) -> tuple[int, int]:
    """(high, low) channel counts for a fraction `alpha` of low-frequency channels (§3.1)."""
    low = round(alpha * channels)
    return channels - low, low


def octave_pool(x: torch.Tensor) -> torch.Tensor:
    """pool(X, 2) of §3.2: 2×2 average pooling (the paper prefers it to a strided convolution,
    which would misalign the two groups)."""
    if x.shape[-1] % OCTAVE or x.shape[-2] % OCTAVE:
        raise ValueError(f"Octave convolution needs even feature-map sizes, got {tuple(x.shape[-2:])}.")
    return F.avg_pool2d(x, OCTAVE)


def octave_upsample(x: torch.Tensor) -> torch.Tensor:
    """upsample(X, 2) of §3.2: nearest-neighbour interpolation."""
    return F.interpolate(x, scale_factor=OCTAVE, mode="nearest")


Octave = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # X, or (X^H, X^L) when α > 0


class OctConv2d(nn.Module):
    """Octave convolution (§3.2, Fig. 2), a drop-in for `nn.Conv2d`.

    One weight tensor of a Conv2d's shape (out, in, k, k) is split into the four paths:
    rows = output group (H first), columns = input group. So the parameter count is that of
    a Conv2d, and α_in = α_out = 0 *is* a Conv2d. The first OctConv of a network has α_in = 0
    (takes a tensor), the last has α_out = 0 (returns a tensor); in between it maps
    (X^H, X^L) -> (Y^H, Y^L) with
        Y^H = f(X^H; W^{H→H}) + upsample(f(X^L; W^{L→H}), 2)
        Y^L = f(X^L; W^{L→L}) + f(pool(X^H, 2); W^{H→L}).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, alpha_in: float = 0.5,
                 alpha_out: float = 0.5, stride: int = 1, padding: int = 0, bias: bool = False):
        super().__init__()
        for name, alpha in (("alpha_in", alpha_in), ("alpha_out", alpha_out)):
            if not 0 <= alpha < 1:
                raise ValueError(f"{name} must be in [0, 1), got {alpha}.")
        if (alpha_in or alpha_out) and (kernel_size % 2 == 0 or padding != kernel_size // 2):
            raise ValueError("With alpha > 0 both groups must keep their sizes' 2:1 ratio: use an odd "
                             f"kernel_size and padding = kernel_size // 2 (got {kernel_size}, {padding}).")
        self.in_high, self.in_low = split(in_channels, alpha_in)
        self.out_high, self.out_low = split(out_channels, alpha_out)
        if not (self.in_high and self.out_high):
            raise ValueError(f"alpha leaves no high-frequency channels of {in_channels} in / {out_channels} out.")
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv2d's initialisation, so a swapped-in OctConv2d starts alike."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def _conv(self, x: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
        # a block of the weight is a strided view; PyTorch's CPU convolution is 20-500x slower on
        # non-contiguous weights, so copy the block (C_out·C_in·k² values, cheap next to the conv)
        return F.conv2d(x, self.weight[rows, cols].contiguous(), stride=self.stride, padding=self.padding)

    def forward(self, x: Octave) -> Octave:
        x_high, x_low = x if isinstance(x, tuple) else (x, None)
        if (x_low is None) != (self.in_low == 0):
            raise ValueError("OctConv2d with alpha_in > 0 takes (X^H, X^L); with alpha_in = 0 a tensor.")
        high_out, low_out = slice(0, self.out_high), slice(self.out_high, None)
        high_in, low_in = slice(0, self.in_high), slice(self.in_high, None)
        y_high = self._conv(x_high, high_out, high_in)  # H→H
        if x_low is not None:
            y_high = _add(y_high, octave_upsample(self._conv(x_low, high_out, low_in)))  # L→H
        y_low = None
        if self.out_low:
            y_low = self._conv(octave_pool(x_high), low_out, high_in)  # H→L
            if x_low is not None:
                y_low = y_low + self._conv(x_low, low_out, low_in)  # L→L
        if self.bias is not None:
            y_high = y_high + self.bias[high_out, None, None]
            y_low = y_low + self.bias[low_out, None, None] if y_low is not None else None
        return y_high if y_low is None else (y_high, y_low)

    def extra_repr(self) -> str:
        k = self.weight.shape[-1]
        return (f"in=({self.in_high}H, {self.in_low}L), out=({self.out_high}H, {self.out_low}L), "
                f"kernel_size={k}, stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


def _add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.shape != b.shape:
        raise ValueError(f"The high- and low-frequency paths disagree in size ({tuple(a.shape[-2:])} vs "
                         f"{tuple(b.shape[-2:])}): sizes must stay even at every octave and stride.")
    return a + b


class OctBNReLU(nn.Module):
    """Batch norm and ReLU applied to each frequency group on its own."""

    def __init__(self, channels: int, alpha: float):
        super().__init__()
        high, low = split(channels, alpha)
        self.bn_high = nn.BatchNorm2d(high)
        self.bn_low = nn.BatchNorm2d(low) if low else None

    def forward(self, x: Octave) -> Octave:
        if self.bn_low is None:
            return F.relu(self.bn_high(x))
        x_high, x_low = x
        return F.relu(self.bn_high(x_high)), F.relu(self.bn_low(x_low))


# --------------------------------------------------------------------------- model
class OctNet(nn.Module):
    """A small all-OctConv classifier: the first OctConv (α_in = 0 → α), OctConvs (α → α),
    the last OctConv (α → 0), global average pooling, a linear classifier. α = 0 is the plain CNN."""

    def __init__(self, alpha: float, config: OctNetConfig = OctNetConfig()):
        super().__init__()
        self.alpha = alpha
        layers, width = [], config.stem_width
        layers.append(("first", OctConv2d(config.in_channels, width, 3, 0.0, alpha, padding=1)))
        layers.append(("first_act", OctBNReLU(width, alpha)))
        for n, (out, stride) in enumerate(zip(config.widths, config.strides), 1):
            last = n == len(config.widths)
            alpha_out = 0.0 if last else alpha  # the last OctConv merges back to one resolution
            layers.append((f"oct{n}", OctConv2d(width, out, 3, alpha, alpha_out, stride=stride, padding=1)))
            layers.append((f"oct{n}_act", OctBNReLU(out, alpha_out)))
            width = out
        self.features = nn.Sequential(OrderedDict(layers))
        self.fc = nn.Linear(width, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))  # (B, C, h, w) -> (B, C) -> (B, classes)

    @torch.inference_mode()
    def first_layer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(Y^H, Y^L) of the first OctConv after its BN and ReLU, for (B, 1, H, W) input."""
        y = self.features.first_act(self.features.first(x))
        return y if isinstance(y, tuple) else (y, None)


# --------------------------------------------------------------------------- data
def digits16(split_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's real digits (papers.data, 28×28) resized to 16×16. (N, 1, 16, 16), (N,)"""
    from papers.data import digits

    images, labels = digits(split_name)
    size = (DIGIT_SIDE, DIGIT_SIDE)
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False), labels


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `max_shift` pixels (zero fill)."""
    padded = F.pad(images, (max_shift,) * 4)
    side = images.shape[-1]
    offsets = torch.randint(0, 2 * max_shift + 1, (len(images), 2), generator=generator)
    return torch.stack([p[:, dy:dy + side, dx:dx + side] for p, (dy, dx) in zip(padded, offsets.tolist())])


# --------------------------------------------------------------------------- checkpoints
def alpha_key(alpha: float) -> str:
    """The prefix of one network's tensors in the sweep file, e.g. "alpha=0.125/"."""
    return f"alpha={alpha:g}/"


SWEEP = Checkpoint(
    name="OctNet α-sweep on digits (self-trained)",
    filename="octconv_digits_sweep.safetensors",
    sha256="2a7f6480be70dd6e60d5beaa7ea02d4145928aaec38515967c816a78bf293d27",
    license="the project's own (self-trained; data: scikit-learn digits, BSD-3-Clause)",
    size_bytes=527_184,
    num_params=len(SWEEP_ALPHAS) * 24_834,
    source="trained here: python -m papers.train octconv",
    reproduce="python -m papers.train octconv",
    description=f"Five OctNets, alpha in {SWEEP_ALPHAS}, on 16x16 scikit-learn digits",
)


@cached_model
def sweep_models(device=None) -> dict[float, OctNet]:
    """The five trained OctNets of the sweep, by α (raises WeightsUnavailable with directions)."""
    device = device or get_device()
    state = load_state_dict(SWEEP, device)
    models = {}
    for alpha in SWEEP_ALPHAS:
        prefix = alpha_key(alpha)
        model = OctNet(alpha)
        model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        models[alpha] = model.to(device).eval()
    return models


# --------------------------------------------------------------------------- measurements
@torch.inference_mode()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 512) -> float:
    device = next(model.parameters()).device
    correct = sum((model(images[i:i + batch].to(device)).argmax(1).cpu() == labels[i:i + batch]).sum().item()
                  for i in range(0, len(labels), batch))
    return correct / len(labels)


@dataclass(frozen=True)
class SweepPoint:
    alpha: float
    params: int
    macs: int
    test_accuracy: float


def sweep_results(models: dict[float, OctNet]) -> list[SweepPoint]:
    """Fig. 4 at small scale: for each α, parameters, multiply-adds per 16×16 digit (counted)
    and accuracy on the held-out digits (measured now)."""
    images, labels = digits16("test")
    shape = (1, 1, DIGIT_SIDE, DIGIT_SIDE)
    return [SweepPoint(alpha, count_params(m), count_macs(m, shape), accuracy(m, images, labels))
            for alpha, m in sorted(models.items())]


def octave_shapes(layer: OctConv2d, size: int, batch: int = 1) -> tuple:
    """The input shape(s) `layer` takes: (B, C, H, W), or ((B, C_H, H, W), (B, C_L, H/2, W/2))."""
    high = (batch, layer.in_high, size, size)
    return high if not layer.in_low else (high, (batch, layer.in_low, size // OCTAVE, size // OCTAVE))


@dataclass(frozen=True)
class CostPoint:
    alpha: float
    theory_ratio: float  # Table 1
    counted_ratio: float  # multiply-adds counted on this layer / a Conv2d's
    measured_ratio: float  # latency / a Conv2d's latency on this device
    seconds: float


def theory_vs_measured(channels: int, size: int, kernel_size: int = 3, alphas=TABLE1_ALPHAS[:-1],
                       device=None, budget_s: float = 0.15) -> list[CostPoint]:
    """For one C→C layer on a (1, C, size, size) input: the analytical multiply-add ratio, the
    counted one, and the measured latency ratio against nn.Conv2d on `device`."""
    if size % OCTAVE:
        raise ValueError(f"The feature-map size must be even for octave convolution, got {size}.")
    device = device or get_device()
    padding = kernel_size // 2
    conv = nn.Conv2d(channels, channels, kernel_size, padding=padding, bias=False).to(device).eval()
    shape = (1, channels, size, size)
    layers = [OctConv2d(channels, channels, kernel_size, alpha, alpha, padding=padding).to(device).eval()
              for alpha in alphas]
    shapes = [octave_shapes(layer, size) for layer in layers]
    conv_seconds, *seconds = measure_latencies([(conv, shape)] + list(zip(layers, shapes)),
                                               budget_s * (len(layers) + 1))
    conv_macs = count_macs(conv, shape)
    return [CostPoint(alpha, mac_ratio(alpha), count_macs(layer, s) / conv_macs, t / conv_seconds, t)
            for alpha, layer, s, t in zip(alphas, layers, shapes, seconds)]


# --------------------------------------------------------------------------- the visitor's image
def grey_input(rgb: np.ndarray, max_side: int = 192) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 1, h, w) in [0, 1], at most `max_side`, both sides even."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    new_w, new_h = (max(OCTAVE, round(s * scale) // OCTAVE * OCTAVE) for s in (w, h))
    grey = Image.fromarray(rgb).convert("L").resize((new_w, new_h), Image.BILINEAR)
    return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)[None, None]


@torch.inference_mode()
def frequency_maps(model: OctNet, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The first OctConv layer's high- (H×W) and low-frequency (H/2×W/2) maps for an image,
    each (C, h, w) in [0, 1], stretched per map."""
    x = grey_input(rgb).to(next(model.parameters()).device)
    y_high, y_low = model.first_layer(x)

    def stretch(maps: torch.Tensor) -> np.ndarray:
        maps = maps[0].float().cpu()  # (C, h, w)
        lo, hi = maps.flatten(1).amin(1), maps.flatten(1).amax(1)
        return ((maps - lo[:, None, None]) / (hi - lo).clamp(min=1e-8)[:, None, None]).numpy()

    return stretch(y_high), (stretch(y_low) if y_low is not None else None)


# --------------------------------------------------------------------------- the premise (§3.1, Fig. 1)
HF_CUT = 0.125  # cycles per input pixel: half the low group's Nyquist frequency, 1 / (2·OCTAVE) = 0.25
COMMON_BAND = 1 / (2 * OCTAVE)  # |f| below this in both axes: the frequencies both groups can hold


def high_frequency_share(maps: torch.Tensor, pixel: int, cut: float = HF_CUT,
                         band: float | None = None) -> torch.Tensor:
    """The share of each map's spectral energy (its mean removed) at radial frequencies above
    `cut`, in cycles per *input* pixel (`pixel` input pixels per map pixel: 1 for X^H, 2 for
    X^L). With `band`, only frequencies below it in both axes count, above and below the cut.
    (B, C, h, w) -> (B, C), NaN for a map with no energy (constant)."""
    h, w = maps.shape[-2:]
    fy, fx = torch.fft.fftfreq(h, d=pixel), torch.fft.fftfreq(w, d=pixel)  # cycles per input pixel
    radius = (fy[:, None] ** 2 + fx[None] ** 2).sqrt()  # (h, w)
    keep = torch.ones_like(radius, dtype=torch.bool) if band is None else \
        (fy.abs()[:, None] < band) & (fx.abs()[None] < band)
    power = torch.fft.fft2(maps.double() - maps.double().mean((2, 3), keepdim=True)).abs() ** 2 * keep  # (B, C, h, w)
    total = power.sum((2, 3))
    high = (power * (radius > cut)).sum((2, 3))
    return torch.where(total > 1e-12 * total.max().clamp(min=1e-30), high / total.clamp(min=1e-30),
                       torch.full_like(total, float("nan")))


@torch.inference_mode()
def group_energy(model: OctNet, images: torch.Tensor) -> dict[str, float]:
    """The first OctConv layer's high-frequency share (`high_frequency_share`) per group, averaged
    over channels and images: over each group's whole spectrum ("high", "low"), and over the band
    both groups can hold ("high_common_band", "low_common_band"), where resolution alone cannot
    decide it. (B, 1, H, W) images with even sides."""
    y_high, y_low = model.first_layer(images.to(next(model.parameters()).device))
    if y_low is None:
        raise ValueError("This network has no low-frequency group (α = 0).")
    y_high, y_low = y_high.float().cpu(), y_low.float().cpu()
    shares = {"high": high_frequency_share(y_high, 1), "low": high_frequency_share(y_low, OCTAVE),
              "high_common_band": high_frequency_share(y_high, 1, band=COMMON_BAND),
              "low_common_band": high_frequency_share(y_low, OCTAVE, band=COMMON_BAND)}
    return {name: float(torch.nanmean(s)) for name, s in shares.items()}


# --------------------------------------------------------------------------- training
def train_one(alpha: float, config: TrainConfig = TrainConfig(), log=print) -> tuple[OctNet, float]:
    """Adam with a cosine schedule on the 1,348 training digits; returns (model, test accuracy)."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, labels = digits16("train")
    test_images, test_labels = digits16("test")
    model = OctNet(alpha)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(labels) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=steps)
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for i in range(0, len(labels), config.batch_size):
            idx = order[i:i + config.batch_size]
            batch = random_shift(images[idx], config.max_shift, generator)
            loss = F.cross_entropy(model(batch), labels[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
    test_acc = accuracy(model, test_images, test_labels)
    log(f"alpha={alpha:g}: loss {loss.item():.3f}, test accuracy {test_acc:.4f}")
    return model, test_acc


def train(variant: str | None, out_dir: Path) -> dict:
    """Train the whole α sweep (variant None) into one safetensors file."""
    from safetensors.torch import save_file

    if variant is not None:
        raise ValueError("papers.octconv has one checkpoint, the whole sweep: python -m papers.train octconv")
    torch.set_num_threads(1)  # the same arithmetic order on every machine; a few CPU-minutes
    state, metrics = {}, {}
    for alpha in SWEEP_ALPHAS:
        model, test_acc = train_one(alpha)
        state.update({alpha_key(alpha) + k: v.contiguous() for k, v in model.state_dict().items()})
        metrics[f"alpha={alpha:g}"] = {"test_accuracy": round(test_acc, 4), "params": count_params(model),
                                     "macs": count_macs(model, (1, 1, DIGIT_SIDE, DIGIT_SIDE))}
    save_file(state, str(out_dir / SWEEP.filename), metadata={"source": SWEEP.source})
    return metrics


def maps_grid(maps: np.ndarray, display_side: int, columns: int = 4, gap: int = 3) -> np.ndarray:
    """(C, h, w) maps in [0, 1] -> one grey uint8 grid, every map enlarged (nearest) so that
    `display_side` is its longer side: low-frequency maps show their coarser pixels."""
    c, h, w = maps.shape
    scale = max(1, display_side // max(h, w))
    tiles = (maps * 255 + 0.5).astype(np.uint8).repeat(scale, 1).repeat(scale, 2)  # (C, h*s, w*s)
    th, tw = tiles.shape[1:]
    rows = -(-c // columns)
    grid = np.full((rows * (th + gap) + gap, columns * (tw + gap) + gap), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, col = divmod(i, columns)
        grid[gap + r * (th + gap):gap + r * (th + gap) + th, gap + col * (tw + gap):gap + col * (tw + gap) + tw] = t
    return grid


# ---- experiments behind the claims
# The shipped sweep, evaluated (checkable, deterministic: one seed), and the whole sweep retrained
# from scratch per seed (seed 0 = the shipped checkpoint's training). Fig. 4's shape: accuracy
# against multiply-adds as α grows.
@functools.cache
def _retrained_sweep(seed: int, quick: bool) -> dict[float, float]:
    """Test accuracy (%) of every α, each network trained from scratch with `seed`."""
    config = TrainConfig(seed=seed, epochs=3 if quick else TrainConfig.epochs)
    return {alpha: 100 * train_one(alpha, config, log=lambda *_: None)[1] for alpha in SWEEP_ALPHAS}


def _measure_retrained(alpha: float):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        accuracies = _retrained_sweep(seed, quick)
        return {"ours": accuracies[alpha], "plain_cnn": accuracies[0.0]}
    return measure


def _measure_shipped(alpha: float):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        images, labels = digits16("test")
        return {"ours": 100 * accuracy(sweep_models("cpu")[alpha], images, labels)}
    return measure


def _measure_macs(alpha: float):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        return {"ours": count_macs(OctNet(alpha), (1, 1, DIGIT_SIDE, DIGIT_SIDE))}
    return measure


def _measure_mac_fraction(alpha: float):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        shape = (1, 1, DIGIT_SIDE, DIGIT_SIDE)
        return {"ours": 100 * count_macs(OctNet(alpha), shape) / count_macs(OctNet(0.0), shape)}
    return measure


ENERGY_ALPHA = 0.5  # the tab's default network
ENERGY_DIGITS = 200  # test digits drawn per seed (of 449)


def measure_group_energy(seed: int, quick: bool) -> dict[str, float]:
    """§3.1's premise on the shipped α = 0.5 network: % of spectral energy above HF_CUT in each
    group of the first OctConv layer, over `ENERGY_DIGITS` test digits drawn with `seed`."""
    images, _ = digits16("test")
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    found = group_energy(sweep_models("cpu")[ENERGY_ALPHA], images[pick[:ENERGY_DIGITS // (4 if quick else 1)]])
    return {"ours": 100 * found["low"], **{k: 100 * v for k, v in found.items() if k != "low"}}


def measure_params(seed: int, quick: bool) -> dict[str, float]:
    counts = {count_params(OctNet(alpha)) for alpha in SWEEP_ALPHAS}
    if len(counts) != 1:
        raise AssertionError(f"the sweep's networks differ in parameters: {counts}")
    return {"ours": counts.pop()}


def _experiments() -> list[Experiment]:
    fig4 = Paper(None, "Fig. 4 (ResNet-50 on ImageNet)",
                 "accuracy holds or rises for small α while multiply-adds fall, and drops for large α")
    test_digits = "449 held-out 16×16 digits"
    experiments = [Experiment("params", "Every network of the sweep has the same parameters (OctConv reuses a "
                              "convolution's weight tensor, §3.2)", "learnable parameters per network",
                              measure_params, seeds=1, checkable=True, digits=0)]
    experiments.append(Experiment(
        "group_energy",
        f"The low-frequency group holds less high-frequency energy than the high-frequency group (§3.1's premise, "
        f"Fig. 1): first OctConv layer of the shipped α = {ENERGY_ALPHA:g} network",
        f"% of spectral energy (each map's mean removed) above {HF_CUT:g} cycles per input pixel, averaged over "
        f"channels and {ENERGY_DIGITS} test digits drawn per seed; *_common_band: only frequencies below "
        f"{COMMON_BAND:g} cycles per pixel (both groups can hold them) count",
        measure_group_energy, seeds=5, higher_is_better=False, checkable=True, tolerance=0.5, digits=1,
        labels={"ours": "low-frequency group X^L", "high": "high-frequency group X^H",
                "low_common_band": "X^L, common band", "high_common_band": "X^H, common band"},
        paper=Paper(None, "§3.1, Fig. 1", "the paper states the premise and shows spectra; it gives no figure "
                    "for a group's high-frequency share")))
    for alpha in SWEEP_ALPHAS:
        experiments += [
            Experiment(f"macs_alpha_{alpha:g}", f"Multiply-adds of the α = {alpha:g} network",
                       "multiply-adds per 16×16 digit (counted)", _measure_macs(alpha), seeds=1,
                       higher_is_better=False, checkable=True, digits=0),
            Experiment(f"macs_fraction_alpha_{alpha:g}",
                       f"The α = {alpha:g} network's multiply-adds as a share of the plain CNN's (α = 0)",
                       "% of the α = 0 network's multiply-adds (counted; the first and last layers have "
                       "α_in = 0 or α_out = 0, so the network saves less than one inner layer)",
                       _measure_mac_fraction(alpha), seeds=1, higher_is_better=False, checkable=True, digits=1,
                       paper=Paper(round(100 * mac_ratio(alpha), 2), "Table 1",
                                   "one layer with α_in = α_out = α: 1 - ¾α(2 - α) of a regular convolution")),
            Experiment(f"shipped_accuracy_alpha_{alpha:g}", f"The shipped α = {alpha:g} network's test accuracy",
                       f"% accuracy on the {test_digits} (shipped sweep checkpoint)", _measure_shipped(alpha),
                       seeds=1, higher_is_better=True, checkable=True, tolerance=0.25, digits=2),
        ]
        if alpha > 0:
            experiments.append(Experiment(
                f"retrained_accuracy_alpha_{alpha:g}",
                f"OctNet α = {alpha:g} against the same network with α = 0 (a plain CNN), both trained from scratch "
                "per seed (Fig. 4's comparison at toy scale)",
                f"% accuracy on the {test_digits} after {TrainConfig.epochs} epochs on 1,348 training digits",
                _measure_retrained(alpha), seeds=3, higher_is_better=True, digits=2,
                labels={"ours": f"OctConv α = {alpha:g}", "plain_cnn": "plain CNN (α = 0)"}, paper=fig4))
    return experiments


EXPERIMENTS = _experiments()
