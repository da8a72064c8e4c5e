"""ImageNet Classification with Deep Convolutional Neural Networks.

Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton, NIPS 2012.
https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks

Five convolutional and three fully connected layers with ReLU (§3.1), trained on two GPUs that
each hold half of the kernels and talk only at certain layers (§3.2, Fig. 2), local response
normalisation after the first two layers (§3.3, Eq. 1), overlapping max-pooling (§3.4),
dropout in the first two fully connected layers (§4.2), and ten-crop test-time averaging (§4.1).
`AlexNet("original")` is that network, with the two-GPU split written as grouped convolutions;
`AlexNet("torchvision")` is the single-tower network whose ImageNet weights are public.

**Deviations from the paper**
- The input is 224×224 with 2 pixels of padding in conv1 (as torchvision does) instead of the
  paper's 224 that only adds up with 227: every later size is the paper's.
- The "torchvision" variant follows Krizhevsky's "One weird trick" (arXiv:1404.5997), which
  is what the public ImageNet weights were trained with: 64/192/384/256/256 kernels, one tower,
  no LRN, an adaptive average pool to 6×6 before the classifier. No weights exist for the
  "original" variant: it serves the architecture view (shapes, parameters, towers).
- Ten-crop averaging is the paper's (§1, §4.1): the central 256×256 patch of the image resized
  to a 256-pixel shorter side, then its four corner and centre 224×224 crops and their mirror
  images. The paper's PCA colour augmentation is a training-time trick and is not used here.
- The "torchvision" variant drops the *inputs* of fc6 and fc7 (torchvision's order, which its
  weights' key names follow); the "original" variant drops their outputs, as §4.2 does, and
  normalises within each tower (§3.3).
- ImageNet accuracy cannot be measured offline. What is measured (results/alexnet.json):
  params_original and neurons_original (the abstract's 60 million and 650,000, counted from the model), and
  Fig. 1 at toy scale: relu_vs_tanh_epochs and relu_speedup (a small CNN on the offline digits,
  ReLU against tanh, epochs to 25 % training error, learning rate chosen per network), and the same
  on a harder offline set chosen beforehand because 25 % takes several epochs there as on CIFAR-10
  (relu_vs_tanh_epochs_cluttered, relu_speedup_cluttered: digits among clutter, 32 px, 3 seeds).
  Fig. 1's network is small (16/32 kernels, 64 hidden units), not the paper's CIFAR-10 network,
  and its learning-rate grid is three values. The paper's "six times faster" is not reproduced
  on either offline set (results/alexnet.json has the numbers).
- Fig. 3 (the two towers' colour-agnostic and colour-specific first-layer kernels) needs trained
  two-tower weights, which do not exist here; the tab says so instead of drawing kernels.
- On CUDA, classification runs in bf16 (autocast), the softmax in fp32 (tests/test_gpu.py:
  logits within 5 % of fp32, relative L2).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from papers.checkpoints import Checkpoint, autocast, cached_model, get_device, load_state_dict

# --------------------------------------------------------------------------- config
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 224
RESIZE_SIZE = 256  # §4.1: 224 crops out of 256 x 256 images
NUM_CLASSES = 1000
TOWERS = 2  # §3.2: two GPUs


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional stage: conv (+ ReLU), then optional LRN and overlapping max-pool."""
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1  # 2: the kernels see only their own GPU's half of the input (§3.2)
    lrn: bool = False
    pool: bool = False


@dataclass(frozen=True)
class AlexNetConfig:
    convs: tuple[ConvSpec, ...]
    fc_width: int = 4096
    dropout: float = 0.5  # §4.2
    pool_kernel: int = 3  # §3.4: z = 3 > s = 2 overlaps
    pool_stride: int = 2
    pooled_size: int = 6  # 256 x 6 x 6 = 9216 features into fc6
    towers: int = 1


VARIANTS: dict[str, AlexNetConfig] = {
    # §3.5 and Fig. 2: 96, 256, 384, 384, 256 kernels; conv2, conv4, conv5 stay on their own GPU
    "original": AlexNetConfig(towers=TOWERS, convs=(
        ConvSpec(96, 11, stride=4, padding=2, lrn=True, pool=True),
        ConvSpec(256, 5, padding=2, groups=TOWERS, lrn=True, pool=True),
        ConvSpec(384, 3, padding=1),
        ConvSpec(384, 3, padding=1, groups=TOWERS),
        ConvSpec(256, 3, padding=1, groups=TOWERS, pool=True),
    )),
    # torchvision.models.alexnet ("One weird trick"): the layout of the public ImageNet weights
    "torchvision": AlexNetConfig(convs=(
        ConvSpec(64, 11, stride=4, padding=2, pool=True),
        ConvSpec(192, 5, padding=2, pool=True),
        ConvSpec(384, 3, padding=1),
        ConvSpec(256, 3, padding=1),
        ConvSpec(256, 3, padding=1, pool=True),
    )),
}


# --------------------------------------------------------------------------- model
def local_response_norm() -> nn.LocalResponseNorm:
    """§3.3, Eq. 1: b = a / (k + α Σ_{n neighbours} a²)^β with k=2, n=5, α=1e-4, β=0.75.

    torch divides α by n inside the sum, so α·n is passed to get the paper's α."""
    size, alpha, beta, k = 5, 1e-4, 0.75, 2.0
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)


class TowerLRN(nn.Module):
    """§3.3's normalisation within each GPU: the n = 5 neighbouring kernel maps are summed over
    one tower's kernels only (the paper's towers never exchange data at this point)."""

    def __init__(self, towers: int):
        super().__init__()
        self.towers = towers
        self.lrn = local_response_norm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.lrn(part) for part in x.chunk(self.towers, dim=1)], dim=1)  # (B, C, H, W)


def conv_layers(config: AlexNetConfig, in_channels: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    for spec in config.convs:
        layers += [nn.Conv2d(in_channels, spec.out_channels, spec.kernel, spec.stride, spec.padding,
                             groups=spec.groups),
                   nn.ReLU(inplace=True)]
        if spec.lrn:
            layers.append(TowerLRN(config.towers) if config.towers > 1 else local_response_norm())
        if spec.pool:
            layers.append(nn.MaxPool2d(config.pool_kernel, config.pool_stride))
        in_channels = spec.out_channels
    return nn.Sequential(*layers)


class AlexNet(nn.Module):
    """The paper's network (`variant="original"`) or torchvision's (`variant="torchvision"`).

    Attribute names match torchvision's `alexnet()`, so its state_dict loads unchanged."""

    def __init__(self, variant: str = "original", num_classes: int = NUM_CLASSES):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"Unknown AlexNet variant {variant!r}; choose one of {list(VARIANTS)}.")
        self.variant = variant
        self.config = config = VARIANTS[variant]
        self.features = conv_layers(config)
        self.avgpool = nn.AdaptiveAvgPool2d(config.pooled_size)
        flat = config.convs[-1].out_channels * config.pooled_size ** 2
        if config.towers > 1:  # §4.2: dropout sets the *outputs* of fc6 and fc7 to zero
            self.classifier = nn.Sequential(
                nn.Linear(flat, config.fc_width), nn.ReLU(inplace=True), nn.Dropout(config.dropout),
                nn.Linear(config.fc_width, config.fc_width), nn.ReLU(inplace=True), nn.Dropout(config.dropout),
                nn.Linear(config.fc_width, num_classes))
        else:  # torchvision's order (dropout on the inputs of fc6 and fc7): its weights' key names
            self.classifier = nn.Sequential(
                nn.Dropout(config.dropout), nn.Linear(flat, config.fc_width), nn.ReLU(inplace=True),
                nn.Dropout(config.dropout), nn.Linear(config.fc_width, config.fc_width), nn.ReLU(inplace=True),
                nn.Linear(config.fc_width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (B, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (B, 9216) -> (B, classes)


def named_layers(model: AlexNet) -> dict[str, nn.Module]:
    """Paper names for the layers whose outputs one can look at: conv1..conv5, fc6..fc8."""
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    names = {f"conv{i}": m for i, m in enumerate(convs, 1)}
    names.update({f"fc{i}": m for i, m in enumerate(linears, len(convs) + 1)})
    return names


# --------------------------------------------------------------------------- checkpoints
IMAGENET = Checkpoint(
    name="AlexNet ImageNet-1k (torchvision IMAGENET1K_V1)",
    filename="alexnet_imagenet1k_v1.safetensors",
    upstream_url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    # Full sha256 of the 244,408,911-byte file (torchvision names it by the first 8 hex digits),
    # as recorded independently by several public weight manifests (e.g. LPIPS set-ups that pin
    # this AlexNet backbone).
    upstream_sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
    license="BSD-3-Clause (torchvision)",
    size_bytes=244_403_360,  # 61,100,840 float32 parameters
    num_params=61_100_840,
    source="torchvision AlexNet_Weights.IMAGENET1K_V1 (top-1 56.5 %, top-5 79.1 % on ImageNet val)",
    description="torchvision's single-tower AlexNet trained on ImageNet-1k",
)


@cached_model
def imagenet_model(device=None) -> AlexNet:
    """The ImageNet-trained torchvision variant (raises WeightsUnavailable with directions)."""
    device = device or get_device()
    state = load_state_dict(IMAGENET, device)  # first: a missing file fails before any allocation
    with torch.device("meta"):
        model = AlexNet("torchvision")
    model.load_state_dict(state, assign=True)
    return model.eval()


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, offline (they ship inside torchvision)."""
    from torchvision.models import AlexNet_Weights

    return list(AlexNet_Weights.IMAGENET1K_V1.meta["categories"])


# --------------------------------------------------------------------------- preprocessing
def resize_shorter(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(new, Image.BILINEAR))


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return rgb[top:top + size, left:left + size]


def square_view(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """The centred size×size view a single-crop prediction sees (uint8, for overlays)."""
    return np.ascontiguousarray(center_crop(resize_shorter(rgb, size), size))


def normalise(rgb: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float, per-channel standardised."""
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255.0  # (3, H, W)
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    return x[None]


def preprocess(rgb: np.ndarray) -> torch.Tensor:
    """torchvision's evaluation transform: resize 256, centre crop 224, normalise."""
    return normalise(center_crop(resize_shorter(rgb, RESIZE_SIZE), INPUT_SIZE))


def ten_crop_positions(side: int = RESIZE_SIZE, size: int = INPUT_SIZE) -> list[tuple[int, int]]:
    """(top, left) of the four corner crops and the centre crop inside a side×side image."""
    far, mid = side - size, (side - size) // 2
    return [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)]


def ten_crops(rgb: np.ndarray) -> torch.Tensor:
    """§1 and §4.1: the image is rescaled so its shorter side is 256 and its central 256×256 patch
    is kept; the network averages its predictions on the four corner and the centre 224×224 patches
    of that square, and their horizontal reflections. (10, 3, 224, 224)"""
    x = normalise(center_crop(resize_shorter(rgb, RESIZE_SIZE), RESIZE_SIZE))[0]  # (3, 256, 256)
    s = INPUT_SIZE
    crops = torch.stack([x[:, t:t + s, l:l + s] for t, l in ten_crop_positions()])  # (5, 3, s, s)
    return torch.cat([crops, crops.flip(-1)])  # (10, 3, s, s)


# --------------------------------------------------------------------------- inference
@torch.inference_mode()
def class_probabilities(model: nn.Module, rgb: np.ndarray, ten_crop: bool = False) -> torch.Tensor:
    """Softmax over the classes for one image; with `ten_crop`, averaged over the 10 crops (§4.1)."""
    device = next(model.parameters()).device
    batch = ten_crops(rgb) if ten_crop else preprocess(rgb)
    with autocast(device):  # bf16 on CUDA
        logits = model(batch.to(device))
    return logits.float().softmax(-1).mean(0).cpu()  # (classes,)


def top_k(probs: torch.Tensor, categories: list[str], k: int = 5) -> list[tuple[str, float]]:
    values, indices = probs.topk(k)
    return [(categories[i], float(v)) for v, i in zip(values, indices)]


@torch.inference_mode()
def activations(model: AlexNet, rgb: np.ndarray, layer: str) -> torch.Tensor:
    """The named layer's output (after its ReLU, before LRN/pool) for one image. (C, H, W) or (C,)"""
    module = named_layers(model)[layer]
    captured = {}
    handle = module.register_forward_hook(lambda m, i, out: captured.setdefault("out", out.clone()))
    try:
        model(preprocess(rgb).to(next(model.parameters()).device))
    finally:
        handle.remove()
    return captured["out"][0].clamp(min=0).cpu() if layer != "fc8" else captured["out"][0].cpu()


# --------------------------------------------------------------------------- visualisation data
def tile(images: np.ndarray, columns: int, pad: int = 1, fill: int = 255) -> np.ndarray:
    """(N, h, w, 3) uint8 -> one grid image with `columns` tiles per row."""
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), fill, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = img
    return grid


def kernels_grid(weight: torch.Tensor, towers: int = 1, scale: int = 4, gap: int = 12) -> np.ndarray:
    """Fig. 3: first-layer kernels (out, 3, k, k) as RGB tiles, each contrast-stretched on its own.

    With two towers their kernels are shown side by side (left: GPU 1)."""
    weight = weight.detach().float().cpu()
    lo = weight.amin(dim=(1, 2, 3), keepdim=True)
    hi = weight.amax(dim=(1, 2, 3), keepdim=True)
    tiles = ((weight - lo) / (hi - lo + 1e-8) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)  # (out, k*scale, k*scale, 3)
    grids = [tile(t, columns=6 if towers > 1 else 8) for t in np.split(tiles, towers)]
    spacer = np.full((grids[0].shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([g if i == 0 else np.concatenate([spacer, g], 1) for i, g in enumerate(grids)], 1)


def first_layer(variant: str) -> nn.Conv2d:
    """A freshly initialised conv1 of `variant` (for the kernel grid without building fc6-8)."""
    spec = VARIANTS[variant].convs[0]
    return nn.Conv2d(3, spec.out_channels, spec.kernel, spec.stride, spec.padding)


def activation_grid(maps: torch.Tensor, max_maps: int = 64, size: int = 56) -> np.ndarray:
    """(C, H, W) feature maps -> a grid of the `max_maps` strongest maps (grey, each stretched)."""
    strongest = maps.flatten(1).amax(1).argsort(descending=True)[:max_maps]
    chosen = maps[strongest][:, None]  # (N, 1, H, W)
    chosen = F.interpolate(chosen, size=(size, size), mode="nearest")[:, 0]
    hi = chosen.flatten(1).amax(1)[:, None, None].clamp(min=1e-8)
    grey = (chosen / hi * 255).round().byte().numpy()
    return tile(np.repeat(grey[..., None], 3, axis=3), columns=8)


@dataclass(frozen=True)
class LayerRow:
    layer: str
    output_shape: tuple[int, ...]
    neurons: int
    parameters: int
    mult_adds: int
    towers: str


@functools.cache
def layer_table(variant: str = "original") -> tuple[LayerRow, ...]:
    """Output shape, neurons, parameters and multiply-adds per layer for a 224×224 image.

    Built from the model itself (a shape-only forward on the meta device, no memory or maths):
    §3 reports ~60M parameters and ~650,000 neurons for the original."""
    with torch.device("meta"):
        model = AlexNet(variant).eval()
        x = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    rows: list[LayerRow] = []
    names = {id(m): n for n, m in named_layers(model).items()}
    with torch.no_grad():
        for module in list(model.features) + [model.avgpool, nn.Flatten()] + list(model.classifier):
            out = module(x)
            if id(module) in names:
                params = sum(p.numel() for p in module.parameters())
                if isinstance(module, nn.Conv2d):
                    macs = out.numel() * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
                    towers = "own tower" if module.groups > 1 else ("both towers (crosses)" if x.shape[1] > 3 else "each tower sees the image")
                else:
                    macs = module.in_features * module.out_features
                    towers = "both towers (crosses)"
                rows.append(LayerRow(names[id(module)], tuple(out.shape[1:]), out[0].numel(), params, macs,
                                     towers if model.config.towers > 1 else "single tower"))
            x = out
    return tuple(rows)


def tower_diagram(variant: str = "original", box: tuple[int, int] = (170, 34), gap: int = 22) -> np.ndarray:
    """Fig. 2 as a block diagram: one column per tower (GPU), a row per layer; a layer that reads
    both towers (conv3, fc6-8) gets crossing lines from the row above. (H, W, 3) uint8."""
    from PIL import ImageDraw

    rows = layer_table(variant)
    towers = VARIANTS[variant].towers
    bw, bh = box
    margin, column_gap = 40, 60  # the top margin leaves room for the image label
    width = 2 * margin + towers * bw + (towers - 1) * column_gap
    height = 2 * margin + 20 + len(rows) * (bh + gap)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    lefts = [margin + t * (bw + column_gap) for t in range(towers)]
    for t, left in enumerate(lefts):
        draw.text((left + bw // 2 - 20, margin - 4), f"GPU {t + 1}" if towers > 1 else "one tower", fill="black")
    previous = None
    for r, row in enumerate(rows):
        top = margin + 20 + r * (bh + gap)
        per_tower = row.output_shape[0] // towers
        shape = "x".join(str(s) for s in (per_tower, *row.output_shape[1:]))
        colour = "#fde2c8" if "crosses" in row.towers else "#d6e6f7"
        for left in lefts:
            draw.rectangle([left, top, left + bw, top + bh], fill=colour, outline="black")
            draw.text((left + 8, top + 10), f"{row.layer}  {shape}", fill="black")
        if previous is not None:
            for t, left in enumerate(lefts):
                sources = lefts if "crosses" in row.towers else [left]
                for src in sources:
                    draw.line([src + bw // 2, previous + bh, left + bw // 2, top], fill="black", width=1)
        previous = top
    return np.asarray(canvas)


# ---- experiments behind the claims
# §3's size figures, counted from the "original" model (deterministic, checkable), and Fig. 1 at
# toy scale: does a ReLU network reach 25 % training error faster than the same network with tanh?
# (ImageNet accuracy needs ImageNet, which is not offline: it is not claimed here.)
FIG1_TARGET_ERROR = 0.25  # Fig. 1: epochs until the training error reaches 25 %
FIG1_LEARNING_RATES = (0.01, 0.03, 0.1)  # "chosen independently to make training as fast as possible"
FIG1_MAX_EPOCHS = 10
FIG1_BATCH = 32
FIG1_CHECKS_PER_EPOCH = 8


class Fig1Net(nn.Module):
    """Fig. 1's "four-layer convolutional neural network", small: conv-act-pool ×2, fc-act, fc,
    for 28×28 grey digits. `activation` is nn.ReLU or nn.Tanh; nothing else differs."""

    def __init__(self, activation: type[nn.Module], channels: tuple[int, int] = (16, 32), hidden: int = 64,
                 side: int = 28, classes: int = 10):
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), activation(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), activation(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, hidden), activation(), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, 1, 28, 28) -> (B, classes)


def fig1_data(dataset: str = "digits") -> tuple[torch.Tensor, torch.Tensor]:
    """Fig. 1's training set. "digits": the 1,348 offline training digits (28×28). "cluttered": the
    same number of those digits pasted among fragments of others (papers.deconvnet.cluttered_digits,
    data seed 0), average-pooled from 64 to 32 pixels: a harder task on which 25 % training error
    takes several epochs, as CIFAR-10 does in the paper."""
    from papers.data import digits

    images, labels = digits("train")
    if dataset == "digits":
        return images, labels
    if dataset != "cluttered":
        raise ValueError(f"Unknown Fig. 1 data set {dataset!r}.")
    from papers.deconvnet import cluttered_digits

    canvases, clutter_labels, _ = cluttered_digits(len(labels), "train", seed=0)
    return F.avg_pool2d(canvases, 2), clutter_labels  # (N, 1, 32, 32)


def fig1_training(activation: type[nn.Module], lr: float, seed: int, max_epochs: float = FIG1_MAX_EPOCHS,
                  dataset: str = "digits"):
    """Fig. 1's training run, one SGD step at a time (momentum 0.9, no regularisation, as Fig. 1):
    yields (epochs so far, training error) after every step, where the training error is that of
    the mini-batches seen in the last 1/8 epoch (a sliding window; None until the window is full).
    Stops after `max_epochs` epochs, or early when the loss stops being finite (diverged)."""
    import collections
    import math

    torch.manual_seed(seed)  # the same initial weights' draw for either activation
    generator = torch.Generator().manual_seed(seed)
    images, labels = fig1_data(dataset)
    model = Fig1Net(activation, side=images.shape[-1])
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    steps = math.ceil(len(labels) / FIG1_BATCH)
    recent = collections.deque(maxlen=max(1, steps // FIG1_CHECKS_PER_EPOCH))  # (wrong, seen) per step
    for epoch in range(math.ceil(max_epochs)):
        order = torch.randperm(len(labels), generator=generator)
        for step in range(steps):
            if epoch + (step + 1) / steps > max_epochs + 1e-9:
                return
            idx = order[step * FIG1_BATCH:(step + 1) * FIG1_BATCH]
            logits = model(images[idx])
            loss = F.cross_entropy(logits, labels[idx])
            if not math.isfinite(loss.item()):
                return  # diverged at this learning rate
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            recent.append((int((logits.argmax(1) != labels[idx]).sum()), len(idx)))
            wrong, seen = map(sum, zip(*recent))
            yield epoch + (step + 1) / steps, (wrong / seen if len(recent) == recent.maxlen else None)


def first_crossing(points, target: float = FIG1_TARGET_ERROR) -> float | None:
    """The first epoch at which the training error is at most `target` (None if never)."""
    return next((epoch for epoch, error in points if error is not None and error <= target), None)


def epochs_to_error(activation: type[nn.Module], lr: float, seed: int, max_epochs: int = FIG1_MAX_EPOCHS,
                    dataset: str = "digits") -> float:
    """Epochs of SGD until the training error (fig1_training) is at most 25 %; `max_epochs` when it
    never gets there or diverges."""
    crossing = first_crossing(fig1_training(activation, lr, seed, max_epochs, dataset))
    return float(max_epochs) if crossing is None else crossing


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def fig1_curves(seed: int = 0, epochs: float = 3.0, dataset: str = "digits") -> dict:
    """Fig. 1's two curves for one seed: for each activation, every learning rate of the grid is
    trained for `epochs` epochs and the one reaching 25 % first is kept (the paper's "chosen
    independently to make training as fast as possible"). Training error after every step."""
    out = {"seed": seed, "dataset": dataset, "target": FIG1_TARGET_ERROR, "epochs": epochs, "curves": {}}
    for name, act in ACTIVATIONS.items():
        best = None
        for lr in FIG1_LEARNING_RATES:
            points = [(round(e, 6), None if err is None else round(err, 6))
                      for e, err in fig1_training(act, lr, seed, epochs, dataset)]
            crossing = first_crossing(points)
            key = (crossing is None, crossing or 0.0)
            if best is None or key < best[0]:
                best = (key, {"lr": lr, "epochs_to_error": crossing, "points": points})
        out["curves"][name] = best[1]
    return out


FIG1_CLUTTERED_MAX_EPOCHS = 25  # the harder set: 25 % takes several epochs, so the cap is higher


@functools.cache
def _fig1(seed: int, quick: bool, dataset: str = "digits") -> dict[str, float]:
    """Per activation, the fewest epochs to 25 % training error over the learning-rate grid."""
    rates = FIG1_LEARNING_RATES[1:2] if quick else FIG1_LEARNING_RATES
    cap = FIG1_MAX_EPOCHS if dataset == "digits" else FIG1_CLUTTERED_MAX_EPOCHS
    if quick:
        cap = min(cap, 2)
    return {name: min(epochs_to_error(act, lr, seed, cap, dataset) for lr in rates)
            for name, act in ACTIVATIONS.items()}


def measure_relu_vs_tanh(seed: int, quick: bool, dataset: str = "digits") -> dict[str, float]:
    run = _fig1(seed, quick, dataset)
    return {"ours": run["relu"], "tanh": run["tanh"]}


def measure_relu_speedup(seed: int, quick: bool, dataset: str = "digits") -> dict[str, float]:
    run = _fig1(seed, quick, dataset)
    return {"ours": run["tanh"] / run["relu"]}


def measure_size(what: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        rows = layer_table("original")
        if what == "params":
            return {"ours": sum(r.parameters for r in rows) / 1e6}
        return {"ours": sum(r.neurons for r in rows)}
    return measure


def _experiments():
    from papers.results import Experiment, Paper

    fig1 = (f"epochs of SGD on the 1,348 offline training digits until the training error (mini-batches of the "
            f"last 1/{FIG1_CHECKS_PER_EPOCH} epoch, checked every step) is ≤ {FIG1_TARGET_ERROR:.0%}; best of learning rates "
            f"{', '.join(map(str, FIG1_LEARNING_RATES))} per network; capped at {FIG1_MAX_EPOCHS}")
    fig1_cluttered = (f"epochs of SGD on 1,348 cluttered training digits (papers.deconvnet.cluttered_digits, "
                      f"average-pooled to 32×32) until the training error (last 1/{FIG1_CHECKS_PER_EPOCH} epoch) is "
                      f"≤ {FIG1_TARGET_ERROR:.0%}; best of learning rates {', '.join(map(str, FIG1_LEARNING_RATES))} "
                      f"per network; capped at {FIG1_CLUTTERED_MAX_EPOCHS}")
    return [
        Experiment("params_original", "Parameters of the paper's two-GPU network, counted from the model (abstract: "
                   "60 million)", "million learnable parameters (224×224 input, 1000 classes)",
                   measure_size("params"), seeds=1, checkable=True, tolerance=0.01, digits=1,
                   paper=Paper(60, "abstract", "'60 million parameters'")),
        Experiment("neurons_original", "Neurons of the paper's network, counted from its layer outputs (abstract: "
                   "650,000)", "neurons (outputs of conv1-5 and fc6-8 for one image)", measure_size("neurons"),
                   seeds=1, checkable=True, digits=0, paper=Paper(650_000, "abstract")),
        Experiment("relu_vs_tanh_epochs", "Fig. 1 at toy scale: a small CNN with ReLUs against the same CNN "
                   "with tanh units, epochs to 25 % training error", fig1, measure_relu_vs_tanh, seeds=5,
                   higher_is_better=False, digits=2, labels={"ours": "ReLU", "tanh": "tanh"},
                   paper=Paper(None, "Fig. 1", "four-layer CNN on CIFAR-10; the paper plots curves, the ratio is "
                               "in relu_speedup")),
        Experiment("relu_speedup", "Fig. 1: how many times faster ReLU reaches 25 % training error than tanh",
                   "tanh epochs / ReLU epochs (same seed, " + fig1.split(";")[0].split(" until")[0] + ")",
                   measure_relu_speedup, seeds=5, higher_is_better=True, digits=2,
                   paper=Paper(6, "Fig. 1", "'six times faster' on CIFAR-10")),
        Experiment("relu_vs_tanh_epochs_cluttered", "Fig. 1 on a harder offline set (digits among clutter, "
                   "32 px), where 25 % training error takes several epochs as on CIFAR-10: epochs to 25 % "
                   "training error, ReLU against tanh", fig1_cluttered,
                   functools.partial(measure_relu_vs_tanh, dataset="cluttered"), seeds=3,
                   higher_is_better=False, digits=1, labels={"ours": "ReLU", "tanh": "tanh"},
                   paper=Paper(None, "Fig. 1", "four-layer CNN on CIFAR-10; the paper plots curves")),
        Experiment("relu_speedup_cluttered", "Fig. 1 on the cluttered digits: how many times faster ReLU "
                   "reaches 25 % training error than tanh", "tanh epochs / ReLU epochs (same seed, "
                   "cluttered digits)", functools.partial(measure_relu_speedup, dataset="cluttered"), seeds=3,
                   higher_is_better=True, digits=2,
                   paper=Paper(6, "Fig. 1", "'six times faster' on CIFAR-10")),
    ]


EXPERIMENTS = _experiments()
