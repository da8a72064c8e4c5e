"""A Neural Algorithm of Artistic Style — Gatys, Ecker & Bethge, 2015/2016.
arXiv:1508.06576 (https://arxiv.org/abs/1508.06576); CVPR 2016 "Image Style Transfer Using
Convolutional Neural Networks"; colour preservation from Gatys et al. 2016b, arXiv:1606.05897.

A CNN trained on object recognition separates *content* (the arrangement of features in a deep
layer) from *style* (the correlations between feature maps — Gram matrices — across layers).
An image is synthesised by optimising its pixels, from white noise or a photo, so that its
deep features match a content photo (conv4_2) and its Gram matrices match a painting
(conv1_1 … conv5_1): L_total = α·L_content + β·L_style (Eq. 7). With α = 0 this is the
texture synthesis of Gatys et al. 2015 (arXiv:1505.07376).

Deviations from the paper:
- Weights: torchvision's ImageNet VGG-19 (via the Hub repo timm/vgg19.tv_in1k or torchvision's
  own file), not the Caffe VGG-19 the paper used. Input is RGB normalised by torchvision's
  ImageNet mean/std instead of Caffe's BGR mean-subtracted 0–255.
- The paper rescales the network so that every filter's mean activation "over images and
  positions" is one (Sec. 2); we do the same, but over eight of scikit-image's bundled photos and
  textures instead of ImageNet, so that the α/β ratio has the paper's meaning for other weights.
- Layer responses are the ReLU outputs (Caffe's in-place ReLU makes the paper's "conv4_2" blob
  exactly that).
- L-BFGS runs a few iterations per call with a strong-Wolfe line search, on the loss divided by
  its first value (same minimum; sane first step at any image size), so the tab can stream and
  stop between calls; "steps" count forward/backward passes, exactly (a line search cut short
  by the last pass leaves the best image evaluated). Adam clamps pixels to [0, 1]
  after each step; L-BFGS leaves them free, as the paper did, and only the display clips.
- Fig. 1 (`reconstruct`: content from one of conv1_2 … conv5_2, style from conv1_1 up to
  conv5_1, from white noise) and Fig. 3 (`style_grid`, `python -m papers.style_transfer grid`)
  follow the CVPR 2016 paper's layers and ratios, but are only run with VGG-19's weights; the
  Fig. 3 grid is not shipped yet (it needs VGG-19 and, at the paper's sizes, a GPU), its
  defaults are 384 px and 500 passes per cell, and its default images are a bundled photo and
  texture (chelsea.jpg, gravel.png), not the paper's Neckarfront and Kandinsky.
- A reconstruction (α = 0 or β = 0) always starts from white noise: started from its own target
  image it would already be at the optimum and return that image unchanged.
- Step counts are small (seconds on a CPU); the paper ran L-BFGS to convergence (~hundreds of
  iterations at 512 px on a GPU). Image size is capped (512 px on CPU, 1024 px on a GPU).
- Offline fallback (no VGG-19 weights): texture synthesis (α = 0) only, with a *random-weight*
  single-layer multi-scale network in the spirit of Ustyuzhaninov et al. 2017
  (arXiv:1606.00021, "What does it take to generate natural textures?"); we get its large
  receptive fields from an image pyramid with one random 5×5 layer per scale rather than
  kernels up to 55×55 at full resolution. It is a labelled substitute, not the paper's network.
  How closely it matches a texture's Gram matrices: results/style-transfer.json →
  offline_texture_style_loss (`python -m papers.reproduce style-transfer`).
- On CUDA, VGG-19's convolutions run in bf16 (autocast; `StyleConfig.mixed_precision`); the
  responses, Gram matrices and losses are fp32. tests/test_gpu.py checks on CPU bf16 that the
  style loss stays within 5 % of fp32 and the pixel gradient's direction within cosine 0.99.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from papers.checkpoints import Checkpoint, autocast, cached_model, get_device, is_available_locally, load_state_dict

# --------------------------------------------------------------------------- configuration
CONTENT_LAYERS = ("conv4_2",)  # Sec. 2.1 / Fig. 2
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")  # Sec. 2.2, w_l = 1/5
PAPER_RATIOS = (1e-3, 1e-4)  # α/β of Fig. 2 / Fig. 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_SIDE = {"cpu": 512, "gpu": 1024}  # activations for L-BFGS at 1024 px take several GB
OPTIMISERS = ("lbfgs", "adam")
INITS = ("noise", "content", "style")
ADAM_LR = 0.02  # on [0, 1] pixels
LBFGS_ITERATIONS_PER_CALL = 4
MIN_SIDE = 2 ** 4  # four poolings before conv5_1: a shorter side leaves no conv5_1 response


@dataclass(frozen=True)
class StyleConfig:
    size: int = 256  # long side of the synthesised image, pixels
    ratio: float = 1e-3  # α/β (Eq. 7); 0 = texture synthesis
    steps: int = 200  # forward/backward passes (L-BFGS: function evaluations; Adam: iterations)
    optimiser: str = "lbfgs"
    init: str = "noise"  # the paper's figures start from white noise
    pooling: str = "avg"  # "avg" (the paper's choice, Sec. 2) or "max" (VGG's own)
    preserve_colour: bool = False  # luminance-only transfer (Gatys et al. 2016b, Sec. 2.2)
    time_budget_s: float = 60.0
    seed: int = 0
    mixed_precision: bool | None = None  # bf16 autocast of VGG-19's forward passes; None: on CUDA only
    content_layers: tuple[str, ...] = CONTENT_LAYERS  # Fig. 1 reconstructs from each of conv1_2 … conv5_2
    style_layers: tuple[str, ...] | None = None  # None: the network's full set (VGG-19: conv1_1 … conv5_1)


# --------------------------------------------------------------------------- VGG-19 up to conv5_2
# (channels, convolutions) per block; the fifth block is cut after conv5_2, the deepest layer used
# (Fig. 1's deepest content reconstruction; style uses up to conv5_1).
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 2))


def vgg19_layer_names() -> list[str]:
    """Names of the entries of torchvision's `vgg19().features[:29]`, in order."""
    names = []
    for block, (_, convs) in enumerate(VGG19_BLOCKS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}_pre", f"conv{block}_{i}"]  # conv, then its ReLU
        if block < len(VGG19_BLOCKS):
            names.append(f"pool{block}")
    return names


class VGG19Features(nn.Module):
    """VGG-19's convolutional layers conv1_1 … conv5_2, with torchvision's key layout
    (`features.N.*`). `pooling="avg"` swaps max for average pooling (paper, Sec. 2)."""

    def __init__(self, pooling: str = "avg"):
        super().__init__()
        if pooling not in ("avg", "max"):
            raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        layers, in_ch = [], 3
        for block, (channels, convs) in enumerate(VGG19_BLOCKS, start=1):
            for _ in range(convs):
                layers += [nn.Conv2d(in_ch, channels, 3, padding=1), nn.ReLU()]
                in_ch = channels
            if block < len(VGG19_BLOCKS):
                layers.append(nn.AvgPool2d(2) if pooling == "avg" else nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.names = vgg19_layer_names()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """rgb (B, 3, H, W) in [0, 1] -> {layer name: (B, C, H', W')} for the requested layers."""
        wanted = set(layers)
        last = max(self.names.index(name) for name in wanted)
        out, x = {}, (rgb - self.mean) / self.std
        for name, layer in zip(self.names[:last + 1], self.features):
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out


def vgg19_convert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's or timm's VGG-19 state dict -> ours: keep `features.N.*` up to conv5_2
    (both layouts number the feature layers alike); drop the classifier / pre_logits / head."""
    keep = len(vgg19_layer_names())
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and int(parts[1]) < keep:
            out[key] = value
    return out


VGG19_IMAGENET = Checkpoint(
    name="VGG-19 ImageNet (torchvision), conv1_1–conv5_2",
    filename="vgg19_features_conv5_2.safetensors",
    repo_id="timm/vgg19.tv_in1k",
    hub_filename="model.safetensors",
    # Pinned at the commit that added the file ("Add model", 2023-04-25); sha256 = its Git LFS oid as
    # shown on huggingface.co/timm/vgg19.tv_in1k/blob/main/model.safetensors (575 MB).
    revision="128d4708565b3a414bcbb9bbad440b2fe37b9f18",
    hub_sha256="11aea017b543ff59233749d8f1cf544cda749378f5790d2fedab841fb86b7669",
    upstream_url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    # Full sha256 of that 574,673,361-byte file as recorded independently by several public weight
    # inventories (e.g. the verified-weights tables of projects that pin torchvision's VGG-19);
    # it starts with the "dcbb9e9d" torchvision puts in the name.
    upstream_sha256="dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
    convert=vgg19_convert,
    license="BSD-3-Clause (torchvision weights)",
    size_bytes=574_673_361,  # about: the download (whole VGG-19, ~548 MiB); the cached conversion is ~61 MB
    num_params=15_304_768,
    source="torchvision ImageNet VGG-19 (Simonyan & Zisserman 2014), via timm/vgg19.tv_in1k",
    description="Gatys et al.'s feature extractor",
)


# --------------------------------------------------------------------------- the paper's rescaling
def normalisation_images(side: int = 224) -> torch.Tensor:
    """Eight bundled scikit-image pictures (photos and textures), (8, 3, side, side) in [0, 1]."""
    from skimage import data

    pictures = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.camera(),
                data.brick(), data.grass(), data.gravel()]
    return torch.cat([to_tensor(square_crop(p), side) for p in pictures])


@torch.no_grad()
def normalise_mean_activation(model: nn.Module, images: torch.Tensor, layers) -> None:
    """Scale each filter so its mean ReLU activation over `images` and positions is one
    (paper, Sec. 2), compensating in the next convolution so later layers are unchanged.

    Because the next layer is compensated, all scales follow from one forward pass."""
    means = {name: act.mean(dim=(0, 2, 3)) for name, act in model(images, layers).items()}  # (C,)
    convs = [(layer, model.names[i + 1]) for i, layer in enumerate(model.features)
             if isinstance(layer, nn.Conv2d)]  # each conv with the name of its ReLU output
    for index, (conv, name) in enumerate(convs):
        alive = means[name] > 1e-8  # dead filters (never active) stay as they are
        scale = torch.where(alive, means[name], torch.ones_like(means[name]))
        conv.weight.div_(scale.view(-1, 1, 1, 1))
        conv.bias.div_(scale)
        if index + 1 < len(convs):
            convs[index + 1][0].weight.mul_(scale.view(1, -1, 1, 1))


def relu_layer_names(model: nn.Module) -> list[str]:
    return [n for n in model.names if n.startswith("conv") and not n.endswith("_pre")]


@cached_model
def vgg19(pooling: str = "avg", device: str | None = None) -> VGG19Features:
    """The ImageNet VGG-19 features, rescaled as in the paper (raises WeightsUnavailable)."""
    device = torch.device(device) if device else get_device()
    model = VGG19Features(pooling)
    model.load_state_dict(load_state_dict(VGG19_IMAGENET, "cpu"))
    normalise_mean_activation(model, normalisation_images(), relu_layer_names(model))
    return model.eval().requires_grad_(False).to(device)


# --------------------------------------------------------------------------- offline fallback
PYRAMID_SCALES = (1, 2, 4, 8, 16)  # downsampling factors; 5x5 at 1/16 spans 80 px
RANDOM_KERNEL = 5
RANDOM_FILTERS = 64
RANDOM_SEED = 1234


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Antialiased bilinear reduction by `factor` (smooth gradients: no block artefacts)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=1 / factor, mode="bilinear", antialias=True, align_corners=False)


class RandomMultiScaleNet(nn.Module):
    """One random-weight conv + ReLU per pyramid level (Ustyuzhaninov et al. 2017, adapted):
    layer "scale{s}" sees the image reduced s times, so receptive fields span 5…80 px."""

    def __init__(self, scales=PYRAMID_SCALES, filters: int = RANDOM_FILTERS, seed: int = RANDOM_SEED):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.scales = tuple(scales)
        self.features = nn.ModuleList()
        for _ in scales:
            conv = nn.Conv2d(3, filters, RANDOM_KERNEL, padding=RANDOM_KERNEL // 2)
            fan_in = 3 * RANDOM_KERNEL ** 2
            conv.weight.data = torch.randn(conv.weight.shape, generator=generator) / math.sqrt(fan_in)
            conv.bias.data = torch.rand(filters, generator=generator) * 0.2 - 0.1
            self.features.append(conv)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        x = (rgb - self.mean) / self.std
        out = {}
        for scale, conv in zip(self.scales, self.features):
            name = f"scale{scale}"
            if name in layers and min(x.shape[-2:]) >= scale:
                out[name] = F.relu(conv(downsample(x, scale)))
        return out

    @torch.no_grad()
    def normalise(self, images: torch.Tensor) -> None:
        """The paper's rescaling: mean activation of every filter over images is one."""
        for name, act in self(images, self.style_layers).items():
            conv = self.features[self.scales.index(int(name[len("scale"):]))]
            scale = act.mean(dim=(0, 2, 3)).clamp_min(1e-8)
            conv.weight.div_(scale.view(-1, 1, 1, 1))
            conv.bias.div_(scale)

    @property
    def style_layers(self) -> tuple[str, ...]:
        return tuple(f"scale{s}" for s in self.scales)


@cached_model
def random_multiscale(device: str | None = None) -> RandomMultiScaleNet:
    device = torch.device(device) if device else get_device()
    model = RandomMultiScaleNet()
    model.normalise(normalisation_images())
    return model.eval().requires_grad_(False).to(device)


# --------------------------------------------------------------------------- the paper's losses
def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G^l_ij = Σ_k F^l_ik F^l_jk (Eq. 3). features (B, N, H, W) -> (B, N, N)."""
    b, n, h, w = features.shape
    flat = features.reshape(b, n, h * w)  # (B, N_l, M_l)
    return flat @ flat.transpose(1, 2)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_content = ½ Σ_ij (F^l_ij − P^l_ij)² (Eq. 1)."""
    return 0.5 * (features - target).pow(2).sum()


def layer_style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = 1/(4 N_l² M_l²) Σ_ij (G^l_ij − A^l_ij)² (Eq. 4); N_l filters, M_l = H·W positions."""
    _, n, h, w = features.shape
    m = h * w
    return (gram_matrix(features) - target_gram).pow(2).sum() / (4 * n ** 2 * m ** 2)


def style_loss(features: dict, target_grams: dict, weights: dict) -> torch.Tensor:
    """L_style = Σ_l w_l E_l (Eq. 5)."""
    return sum(weights[name] * layer_style_loss(features[name], target_grams[name]) for name in target_grams)


def total_loss(content: torch.Tensor, style: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """L_total = α L_content + β L_style (Eq. 7)."""
    return alpha * content + beta * style


# --------------------------------------------------------------------------- images
def as_rgb(image: np.ndarray) -> np.ndarray:
    """Grey (H, W) -> (H, W, 3); colour passes through."""
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def square_crop(rgb: np.ndarray) -> np.ndarray:
    rgb = as_rgb(rgb)
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return rgb[top:top + side, left:left + side]


def to_tensor(rgb: np.ndarray, long_side: int) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H', W') float in [0, 1], long side resized to `long_side`."""
    rgb = as_rgb(rgb)
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC), dtype=np.float32) / 255.0
    return torch.from_numpy(resized).permute(2, 0, 1)[None].contiguous()  # (1, 3, H', W')


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float -> (H, W, 3) uint8 (clipped)."""
    return (image[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


# Luminance-only transfer (Gatys et al. 2016b, Sec. 2.2) works in YIQ.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", RGB_TO_YIQ.to(rgb), rgb)


def yiq_to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(RGB_TO_YIQ).to(yiq), yiq)


def luminance_as_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> its luminance Y repeated on three channels."""
    return rgb_to_yiq(rgb)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luminance to the content's mean and std (2016b, Eq. 1)."""
    return (style_y - style_y.mean()) * (content_y.std() / style_y.std().clamp_min(1e-6)) + content_y.mean()


def recolour(output_rgb: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """The output's luminance Y + the content's chroma (I, Q) -> RGB (2016b, Sec. 2.2).
    (B, 3, H, W) both; the luminance is computed from all three channels, not read off one."""
    output_y = rgb_to_yiq(output_rgb)[:, :1]  # (B, 1, H, W)
    content_iq = rgb_to_yiq(content_rgb)[:, 1:]  # (B, 2, H, W)
    return yiq_to_rgb(torch.cat([output_y, content_iq], dim=1)).clamp(0, 1)


def allowed_side(size: int, device: torch.device) -> tuple[int, str | None]:
    """Clamp the image size to what fits in memory here; the note says when it did."""
    limit = MAX_SIDE["gpu" if device.type == "cuda" else "cpu"]
    if size > limit:
        return limit, f"{size} px would need too much memory here; using {limit} px."
    return size, None


# --------------------------------------------------------------------------- the optimisation
@dataclass
class Progress:
    step: int
    image: np.ndarray  # (H, W, 3) uint8
    content_loss: float
    style_loss: float
    elapsed_s: float
    done: bool = False
    reason: str = ""
    alpha: float = 0.0  # the weights of Eq. 7 this run used, so callers can show α·L_content and β·L_style
    beta: float = 1.0

    @property
    def content_term(self) -> float:
        """α·L_content, the content term as it enters L_total (Eq. 7)."""
        return self.alpha * self.content_loss

    @property
    def style_term(self) -> float:
        """β·L_style, the style term as it enters L_total (Eq. 7)."""
        return self.beta * self.style_loss


class _PassesUsed(Exception):
    """Raised by the closure instead of running a pass beyond config.steps."""


def initial_image(init: str, content: torch.Tensor | None, style: torch.Tensor, shape, seed: int):
    if init == "content" and content is not None:
        return content.clone()
    if init == "style":
        return F.interpolate(style, size=shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator).to(style.device)  # white noise


def synthesise(content_rgb: np.ndarray | None, style_rgb: np.ndarray | None, config: StyleConfig,
               network: nn.Module, stream_every: int = 1) -> Iterator[Progress]:
    """Optimise an image (Sec. 2.3); yields `Progress` about every `stream_every` steps (one
    step = one forward/backward pass) and at the end. `content_rgb=None` or `config.ratio == 0`
    is texture synthesis (L_style only, Fig. 1's style reconstructions); `style_rgb=None` is a
    content reconstruction (L_content only, Fig. 1's content reconstructions). Both start from
    white noise: from the style (content) image they would start at the optimum. Stops at
    `config.steps` or after `config.time_budget_s` (the caller may also just stop iterating)."""
    if config.optimiser not in OPTIMISERS or config.init not in INITS:
        raise ValueError(f"optimiser must be one of {OPTIMISERS}, init one of {INITS}")
    device = next(network.buffers()).device
    content_only = style_rgb is None
    texture_only = not content_only and (content_rgb is None or config.ratio == 0)
    if content_only and content_rgb is None:
        raise ValueError("a content reconstruction needs a content image")
    style_layers = () if content_only else tuple(config.style_layers or getattr(network, "style_layers", STYLE_LAYERS))
    content_layers = () if texture_only else tuple(config.content_layers)

    reference = content_rgb if content_rgb is not None else style_rgb
    content = to_tensor(reference, config.size).to(device)  # (1, 3, H, W): also fixes the shape
    style = content if content_only else to_tensor(style_rgb, config.size).to(device)
    if min(content.shape[-2:] + style.shape[-2:]) < MIN_SIDE:
        raise ValueError(f"At {config.size} px an image's short side would be under {MIN_SIDE} px: use a less "
                         "elongated image or a larger size.")
    colour_source = content
    if config.preserve_colour:
        content = luminance_as_rgb(content)
        style_y = match_luminance(rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1])
        style = style_y.expand(-1, 3, -1, -1).contiguous()

    use_amp = config.mixed_precision if isinstance(network, VGG19Features) else False

    def features_of(x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """The network's responses; with mixed precision the convolutions run in bf16 and the
        responses come back in fp32, so losses and Gram matrices are computed in fp32."""
        with autocast(device, use_amp):
            responses = network(x, layers)
        return {name: r.float() for name, r in responses.items()}

    with torch.no_grad():
        targets = features_of(content, content_layers) if content_layers else {}
        style_features = features_of(style, style_layers) if style_layers else {}
        target_grams = {name: gram_matrix(f) for name, f in style_features.items()}
    weights = {name: 1.0 / len(target_grams) for name in target_grams}  # w_l = 1/(number of layers) (Fig. 2)
    if content_only:
        alpha, beta = 1.0, 0.0
    else:
        beta = 1.0
        alpha = 0.0 if texture_only else config.ratio * beta

    # A reconstruction (α = 0 or β = 0) started from its own target would start at the optimum.
    init = "noise" if (texture_only or content_only) else config.init
    image = initial_image(init, content, style, content.shape, config.seed)
    image = image.detach().requires_grad_(True)
    if config.optimiser == "lbfgs":
        # A few iterations per step() call (the history persists between calls), with a line
        # search: without one, L-BFGS's unit step diverges on some images. The 1/(4N²M²)
        # normalisation makes gradients tiny, so no tolerance may stop it early.
        optimiser = torch.optim.LBFGS([image], max_iter=LBFGS_ITERATIONS_PER_CALL, line_search_fn="strong_wolfe",
                                      tolerance_grad=0.0, tolerance_change=0.0)
    else:
        optimiser = torch.optim.Adam([image], lr=ADAM_LR)
    losses = {"content": 0.0, "style": 0.0}
    steps, scale = [0], []
    # L-BFGS's line search may need more passes than are left: the pass that would exceed
    # config.steps is not run, and the image falls back to the best one evaluated (kept without a
    # device sync), so "steps" is exactly the number of forward/backward passes.
    best = {"loss": torch.tensor(math.inf, device=device), "image": image.detach().clone(),
            "content": image.new_zeros(()), "style": image.new_zeros(())}

    def closure():
        if steps[0] >= config.steps:
            raise _PassesUsed
        steps[0] += 1
        optimiser.zero_grad()
        features = features_of(image, content_layers + tuple(style_layers))
        l_content = sum((content_loss(features[name], targets[name]) for name in content_layers),
                        image.new_zeros(()))
        l_style = style_loss(features, target_grams, weights) if target_grams else image.new_zeros(())
        loss = total_loss(l_content, l_style, alpha, beta)
        # Divided by its first value: the same minimum, but L-BFGS's first step (1/|g|₁) and
        # line search start at a sensible scale whatever the image size and layer sizes.
        scale.append(scale[0] if scale else loss.detach().clamp_min(1e-12))
        loss = loss / scale[0]
        loss.backward()
        losses.update(content=l_content.detach(), style=l_style.detach())  # read when reported: no sync here
        if config.optimiser == "lbfgs":
            with torch.no_grad():
                better = loss.detach() < best["loss"]
                best["image"] = torch.where(better, image.detach(), best["image"])
                for name, value in (("loss", loss.detach()), ("content", losses["content"]),
                                    ("style", losses["style"])):
                    best[name] = torch.where(better, value, best[name])
        return loss

    def picture():
        out = recolour(image.detach(), colour_source) if config.preserve_colour else image
        return to_uint8(out)

    start = time.perf_counter()
    reason, next_yield = "steps done", stream_every
    while steps[0] < config.steps:
        try:
            optimiser.step(closure)
        except _PassesUsed:  # L-BFGS only: mid line search at the last pass
            with torch.no_grad():
                image.copy_(best["image"])
            losses.update(content=best["content"], style=best["style"])
        step = steps[0]
        if config.optimiser == "adam":
            with torch.no_grad():
                image.clamp_(0, 1)
        report = next_yield <= step < config.steps
        if report or step >= config.steps:  # one sync with the device per report, not per step
            values = {name: float(v) for name, v in losses.items()}
            if not all(math.isfinite(v) for v in values.values()):
                reason = "the loss became non-finite; try a lower ratio or the other optimiser"
                break
        elapsed = time.perf_counter() - start
        if elapsed > config.time_budget_s:
            reason = f"time budget ({config.time_budget_s:.0f} s) reached"
            break
        if report:
            next_yield = step + stream_every
            yield Progress(step, picture(), values["content"], values["style"], elapsed, alpha=alpha, beta=beta)
    yield Progress(steps[0], picture(), float(losses["content"]), float(losses["style"]),
                   time.perf_counter() - start, done=True, reason=reason, alpha=alpha, beta=beta)


def with_size(config: StyleConfig, device: torch.device) -> tuple[StyleConfig, str | None]:
    side, note = allowed_side(config.size, device)
    return replace(config, size=side), note


def vgg19_local() -> bool:
    """True when the VGG-19 weights are already on this machine (no download needed)."""
    return is_available_locally(VGG19_IMAGENET)


# --------------------------------------------------------------------------- Fig. 1: what each layer keeps
FIG1_CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")  # Fig. 1, content reconstructions a–e
FIG1_STYLE_DEPTHS = (1, 2, 3, 4, 5)  # Fig. 1, style reconstructions a–e: conv1_1 up to conv{depth}_1


def style_layer_set(depth: int) -> tuple[str, ...]:
    """The style layers of Fig. 1 / Fig. 3 row `depth`: conv1_1, conv2_1, … up to conv{depth}_1."""
    if not 1 <= depth <= len(STYLE_LAYERS):
        raise ValueError(f"depth must be 1 … {len(STYLE_LAYERS)}, not {depth}")
    return STYLE_LAYERS[:depth]


def style_set_label(depth: int) -> str:
    """ASCII label of a style-layer set, e.g. 'conv1_1..conv3_1' (the grid's fonts lack Greek and '…')."""
    layers = style_layer_set(depth)
    return layers[0] if depth == 1 else f"{layers[0]}..{layers[-1]}"


def reconstruct(image_rgb: np.ndarray, kind: str, layer_or_depth, config: StyleConfig, network: nn.Module,
                stream_every: int = 1) -> Iterator[Progress]:
    """Fig. 1: reconstruct `image_rgb` from white noise from one layer's responses alone.

    kind="content": minimise L_content at one layer (conv1_2 … conv5_2), nothing else (Eq. 1-2);
    kind="style": minimise L_style over conv1_1 … conv{depth}_1 (Eq. 5), nothing else."""
    if kind == "content":
        if layer_or_depth not in FIG1_CONTENT_LAYERS:
            raise ValueError(f"content layer must be one of {FIG1_CONTENT_LAYERS}")
        return synthesise(image_rgb, None, replace(config, content_layers=(layer_or_depth,), init="noise"),
                          network, stream_every)
    if kind == "style":
        layers = style_layer_set(int(layer_or_depth))
        return synthesise(None, image_rgb, replace(config, style_layers=layers, ratio=0.0, init="noise"),
                          network, stream_every)
    raise ValueError(f"kind must be 'content' or 'style', not {kind!r}")


# --------------------------------------------------------------------------- Fig. 3: α/β × style layers
GRID_RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)  # Fig. 3 columns, α/β
GRID_DEPTHS = (1, 2, 3, 4, 5)  # Fig. 3 rows A-E: style layers conv1_1 up to conv{depth}_1
GRID_NAME = "style_transfer_fig3"  # <out>/style_transfer_fig3.jpg and .json
GRID_LABEL_HEIGHT, GRID_LABEL_WIDTH, GRID_GAP = 22, 130, 2  # pixels
GRID_DEFAULTS = dict(content="chelsea.jpg", style="gravel.png", size=384, steps=500)


GRID_CORNER_LABEL = "a/b ="  # α/β, over the column labels; ASCII for PIL's default font


def ratio_label(ratio: float) -> str:
    return f"{ratio:.0e}"  # short: it must fit over a small cell


def grid_layout(rows: int, cols: int, cell_hw: tuple[int, int]) -> dict:
    """Pixel boxes (x0, y0, x1, y1) of every cell and label of a rows × cols grid of cell_hw images:
    column labels along the top, row labels down the left."""
    h, w = cell_hw
    cells = [[(GRID_LABEL_WIDTH + c * (w + GRID_GAP), GRID_LABEL_HEIGHT + r * (h + GRID_GAP),
               GRID_LABEL_WIDTH + c * (w + GRID_GAP) + w, GRID_LABEL_HEIGHT + r * (h + GRID_GAP) + h)
              for c in range(cols)] for r in range(rows)]
    width = GRID_LABEL_WIDTH + cols * w + (cols - 1) * GRID_GAP
    height = GRID_LABEL_HEIGHT + rows * h + (rows - 1) * GRID_GAP
    return {"width": width, "height": height, "cells": cells,
            "corner_label": (0, 0, GRID_LABEL_WIDTH, GRID_LABEL_HEIGHT),
            "col_labels": [(x0, 0, x1, GRID_LABEL_HEIGHT) for x0, _, x1, _ in cells[0]],
            "row_labels": [(0, row[0][1], GRID_LABEL_WIDTH, row[0][3]) for row in cells]}


def grid_image(cells: list[list[np.ndarray]], row_labels: list[str], col_labels: list[str]) -> tuple[Image.Image, dict]:
    """Paste equal-sized (H, W, 3) uint8 results into a labelled white grid; returns it with its layout.
    The top-left corner says what the column labels are (GRID_CORNER_LABEL)."""
    from PIL import ImageDraw

    layout = grid_layout(len(cells), len(cells[0]), cells[0][0].shape[:2])
    canvas = Image.new("RGB", (layout["width"], layout["height"]), "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            canvas.paste(Image.fromarray(cell), layout["cells"][r][c][:2])
    x0, y0, x1, y1 = layout["corner_label"]
    draw.text((x1 - 4, (y0 + y1) / 2), GRID_CORNER_LABEL, fill="black", anchor="rm")
    for text, (x0, y0, x1, y1) in zip(col_labels, layout["col_labels"]):
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill="black", anchor="mm")
    for text, (x0, y0, x1, y1) in zip(row_labels, layout["row_labels"]):
        draw.text((x0 + 4, (y0 + y1) / 2), text, fill="black", anchor="lm")
    return canvas, layout


def style_grid(content_rgb: np.ndarray, style_rgb: np.ndarray, network: nn.Module, config: StyleConfig,
               ratios=GRID_RATIOS, depths=GRID_DEPTHS, log=print) -> tuple[Image.Image, dict]:
    """Fig. 3: one style transfer per (style-layer set, α/β), each from the same white noise
    (`config.seed`), content at conv4_2. Returns the labelled grid and its settings (JSON-able)."""
    cells, runs = [], []
    for depth in depths:
        row = []
        for ratio in ratios:
            run_config = replace(config, ratio=ratio, style_layers=style_layer_set(depth), time_budget_s=math.inf)
            *_, last = synthesise(content_rgb, style_rgb, run_config, network, stream_every=10 ** 9)
            row.append(last.image)
            runs.append({"style_layers": list(style_layer_set(depth)), "ratio": ratio, "steps": last.step,
                         "content_loss": last.content_loss, "style_loss": last.style_loss,
                         "seconds": round(last.elapsed_s, 1)})
            log(f"{style_set_label(depth)}, {GRID_CORNER_LABEL} {ratio_label(ratio)}: {last.step} steps, "
                f"{last.elapsed_s:.0f} s")
        cells.append(row)
    row_labels, col_labels = [style_set_label(d) for d in depths], [ratio_label(r) for r in ratios]
    canvas, layout = grid_image(cells, row_labels, col_labels)
    settings = {"figure": "Gatys et al. 2016 (CVPR), Fig. 3: rows = style layers, columns = alpha/beta",
                "network": type(network).__name__, "size": config.size, "steps": config.steps,
                "optimiser": config.optimiser, "init": config.init, "pooling": config.pooling, "seed": config.seed,
                "content_layers": list(config.content_layers), "ratios": list(ratios), "depths": list(depths),
                "row_labels": row_labels, "col_labels": col_labels, "corner_label": GRID_CORNER_LABEL,
                "layout": layout, "runs": runs,
                "torch": torch.__version__, "device": str(next(network.buffers()).device)}
    return canvas, settings


def save_grid(out_dir, canvas: Image.Image, settings: dict, name: str = GRID_NAME, quality: int = 85):
    """<out_dir>/<name>.jpg (small JPEG) and <out_dir>/<name>.json (its settings)."""
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    canvas.save(out / f"{name}.jpg", quality=quality, optimize=True)
    (out / f"{name}.json").write_text(json.dumps(settings, indent=1) + "\n")
    return out / f"{name}.jpg", out / f"{name}.json"


def read_picture(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def main(argv=None) -> None:
    """`python -m papers.style_transfer grid --out demos/assets` makes Fig. 3 with the real VGG-19."""
    import argparse
    from pathlib import Path

    assets = Path(__file__).resolve().parent.parent / "demos" / "assets"
    parser = argparse.ArgumentParser(prog="python -m papers.style_transfer")
    sub = parser.add_subparsers(dest="command", required=True)
    grid = sub.add_parser("grid", help="Fig. 3: alpha/beta ratios x style-layer sets, as a labelled JPEG + JSON")
    grid.add_argument("--out", required=True, help="folder for style_transfer_fig3.jpg / .json")
    grid.add_argument("--content", default=str(assets / GRID_DEFAULTS["content"]))
    grid.add_argument("--style", default=str(assets / GRID_DEFAULTS["style"]))
    grid.add_argument("--size", type=int, default=GRID_DEFAULTS["size"])
    grid.add_argument("--steps", type=int, default=GRID_DEFAULTS["steps"])
    grid.add_argument("--ratios", type=float, nargs="+", default=list(GRID_RATIOS))
    grid.add_argument("--depths", type=int, nargs="+", default=list(GRID_DEPTHS))
    grid.add_argument("--pooling", choices=("avg", "max"), default="avg")
    grid.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from papers.checkpoints import WeightsUnavailable

    try:
        network = vgg19(args.pooling)  # the paper's network only: no random stand-in for Fig. 3
    except WeightsUnavailable as exc:
        raise SystemExit(f"Fig. 3 needs the ImageNet VGG-19 weights. {exc}") from None
    config = StyleConfig(size=args.size, steps=args.steps, init="noise", pooling=args.pooling, seed=args.seed)
    config, note = with_size(config, next(network.buffers()).device)
    if note:
        print(note)
    canvas, settings = style_grid(read_picture(args.content), read_picture(args.style), network, config,
                                  args.ratios, args.depths)
    settings.update(content=Path(args.content).name, style=Path(args.style).name)
    for path in save_grid(args.out, canvas, settings):
        print(path)


# ---- experiments behind the claims
TEXTURE_SIDE, TEXTURE_STEPS = 128, 50  # the offline texture-synthesis experiment's budget


def _grey_texture(name: str, corner: str) -> np.ndarray:
    """A 256×256 patch (top-left or bottom-right) of one of scikit-image's texture photos, as RGB."""
    from skimage import data

    grey = getattr(data, name)()  # (512, 512) uint8
    patch = grey[:256, :256] if corner == "top-left" else grey[-256:, -256:]
    return as_rgb(np.ascontiguousarray(patch))


def gram_distance(network: nn.Module, image: torch.Tensor, style: torch.Tensor) -> float:
    """L_style (Eq. 5, equal layer weights) of `image` against `style`'s Gram matrices."""
    layers = getattr(network, "style_layers", STYLE_LAYERS)
    with torch.no_grad():
        grams = {name: gram_matrix(f) for name, f in network(style, layers).items()}
        features = network(image, layers)
        return float(style_loss(features, grams, {name: 1.0 / len(grams) for name in grams}))


def _measure_texture(seed: int, quick: bool) -> dict[str, float]:
    """Texture synthesis of a brick patch from white noise (seeded) with the offline network: how
    many times lower its style loss is than the noise's, beside two real photos' against the same
    target."""
    network = random_multiscale("cpu")
    side = TEXTURE_SIDE // 2 if quick else TEXTURE_SIDE
    brick = _grey_texture("brick", "top-left")
    config = StyleConfig(size=side, ratio=0.0, steps=10 if quick else TEXTURE_STEPS, init="noise", seed=seed,
                         time_budget_s=math.inf)
    *_, last = synthesise(None, brick, config, network, stream_every=10 ** 9)
    style = to_tensor(brick, side)
    noise = initial_image("noise", None, style, style.shape, seed)
    start = gram_distance(network, noise, style)

    def times_below_noise(rgb: np.ndarray) -> float:
        return start / gram_distance(network, to_tensor(rgb, side), style)

    return {"ours": times_below_noise(last.image),
            "same_wall": times_below_noise(_grey_texture("brick", "bottom-right")),
            "grass": times_below_noise(_grey_texture("grass", "top-left"))}


def _experiments():
    from papers.results import Experiment, Paper

    return [Experiment(
        "offline_texture_style_loss",
        f"Offline texture synthesis (random multi-scale network, the tab's fallback): {TEXTURE_STEPS} L-BFGS "
        f"forward/backward passes from white noise at {TEXTURE_SIDE} px bring the Gram-matrix style loss "
        "against a brick patch below another patch of the same wall's",
        "white-noise style loss ÷ the image's style loss L_style (times lower than noise; higher is closer "
        "to the target's Gram matrices)",
        _measure_texture, seeds=5, higher_is_better=True, digits=0,
        labels={"ours": "synthesised from noise", "same_wall": "another patch of the same brick wall",
                "grass": "a grass photo"},
        paper=Paper(None, "Gatys et al. 2015 (texture synthesis), Fig. 2", "the paper shows images, not loss "
                                                                         "values, and uses VGG-19"))]


EXPERIMENTS = _experiments()


if __name__ == "__main__":
    main()
