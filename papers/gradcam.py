"""Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization.

Ramprasaath R. Selvaraju, Michael Cogswell, Abhishek Das, Ramakrishna Vedantam, Devi Parikh,
Dhruv Batra, ICCV 2017. https://arxiv.org/abs/1610.02391

Which parts of the image made the network say "cat"? Grad-CAM (§3) weighs each feature map
A^k of a convolutional layer by the global-average-pooled gradient of the class score y^c
(Eq. 1: α_k^c), sums them and keeps the positive part (Eq. 2: ReLU(Σ_k α_k^c A^k)): a coarse,
class-discriminative heatmap. Multiplied point-wise with Guided Backpropagation's fine,
class-agnostic gradients it gives Guided Grad-CAM (§3.2); negating the gradients gives the
counterfactual map of regions that argue *against* the class (§3.3, Eq. 4).

What is measured (``python -m papers.reproduce gradcam``, results/gradcam.json): on the shipped
digits-in-clutter CNN, `class_discrimination` at every conv layer (two digits per canvas: does the
peak move to the digit asked for? a class-blind map cannot pass half of the requests),
`class_sensitivity` (Fig. 1: how alike a method's maps for the two digits are), `faithfulness`
(§5.3: rank correlation with occlusion-sensitivity maps) and `pointing_game` (one
digit among clutter), each against a class-blind baseline, Guided Backprop and (for the pointing
tests) chance.

**Deviations from the paper**
- The paper measures localisation on ILSVRC boxes and class discrimination with a human study
  (§4.1, §5.1); here both are automatic pointing tests on digits in clutter. Guided Backprop's
  "peak" is the maximum of its blurred gradient magnitude, with the blur chosen for the
  class-blind baseline on training canvases.
- §5.3's faithfulness is measured on two-digit test canvases, not the paper's images: the occlusion map is
  the drop of the class logit under a 16×16 grey square (the training mean) at stride 6, and every
  explanation is averaged over the same windows before Spearman's rank correlation; Guided
  Backprop enters as its gradient magnitude summed over channels. The paper's figures are quoted
  from memory (not checked against its text here).
- The heatmap is bilinearly upsampled and then scaled to [0, 1] by its minimum and maximum
  (as in pytorch-grad-cam); Eq. 2 itself has no normalisation.
- y^c is the class logit (pre-softmax), as in §3; the feature maps A^k are a conv layer's
  rectified output (the ReLU after the conv).
- Backbones: VGG16 (the paper's), AlexNet and a small CNN trained here on digits in clutter
  (papers.deconvnet), so that the tab works offline; the paper's captioning/VQA models are
  not included.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from papers.results import Experiment, Paper


# --------------------------------------------------------------------------- Grad-CAM (Eq. 1-2)
@dataclass
class CamMaps:
    cam: np.ndarray  # (H, W) in [0, 1]: Grad-CAM for the class
    counterfactual: np.ndarray  # (H, W) in [0, 1]: the same with negated gradients (§3.3)
    logits: torch.Tensor  # (classes,)


def _feature_maps_and_gradients(model: nn.Module, target_layer: nn.Module, image: torch.Tensor,
                                class_idx: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A^k (1, K, u, v), ∂y^c/∂A^k (same shape) and the logits (classes,) for one image."""
    maps, grads, logits = _activations_and_gradients(model, target_layer, image, torch.tensor([class_idx]))
    return maps, grads, logits[0]


def _activations_and_gradients(model: nn.Module, target_layer: nn.Module, images: torch.Tensor,
                               classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A_i (B, K, u, v) at `target_layer`, ∂y_i^{c_i}/∂A_i (same shape) and the logits (B, classes),
    in one backward pass (the samples do not interact in eval mode, so the gradient of
    Σ_i y_i^{c_i} with respect to A_i is ∂y_i^{c_i}/∂A_i)."""
    captured = {}

    def keep(module, inputs, output):
        captured["A"] = output
        output.register_hook(lambda grad: captured.__setitem__("dA", grad))

    handle = target_layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(images)  # (B, classes)
            classes = classes.to(logits.device)
            if not bool(((classes >= 0) & (classes < logits.shape[1])).all()):
                raise ValueError(f"Class index {classes.tolist()} is outside 0..{logits.shape[1] - 1}.")
            model.zero_grad(set_to_none=True)
            logits.gather(1, classes[:, None]).sum().backward()
    finally:
        handle.remove()
    return captured["A"].detach(), captured["dA"].detach(), logits.detach()


def class_activation_map(feature_maps: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Eq. 1: α_k^c = (1/Z) Σ_ij ∂y^c/∂A^k_ij; Eq. 2: L^c = ReLU(Σ_k α_k^c A^k). (u, v)"""
    alpha = gradients.mean(dim=(2, 3), keepdim=True)  # (1, K, 1, 1)
    return F.relu((alpha * feature_maps).sum(1))[0]  # (u, v)


def upsample_unit(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling to the image size (H, W), then scaling to [0, 1] by min and max."""
    cam = F.interpolate(cam[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    cam = cam - cam.min()
    return (cam / cam.max().clamp(min=1e-12)).cpu().numpy()  # an all-zero map stays zero


def grad_cam_maps(model: nn.Module, target_layer: nn.Module, image: torch.Tensor, class_idx: int) -> CamMaps:
    """Grad-CAM and its counterfactual (negated gradients, §3.3) from one backward pass."""
    feature_maps, gradients, logits = _feature_maps_and_gradients(model, target_layer, image, class_idx)
    size = tuple(image.shape[-2:])
    return CamMaps(upsample_unit(class_activation_map(feature_maps, gradients), size),
                   upsample_unit(class_activation_map(feature_maps, -gradients), size),
                   logits.cpu())


def grad_cam(model: nn.Module, target_layer: nn.Module, image: torch.Tensor, class_idx: int) -> np.ndarray:
    """Grad-CAM heatmap (H, W) in [0, 1] for a normalised 1×3×H×W `image` and class `class_idx`."""
    return grad_cam_maps(model, target_layer, image, class_idx).cam


# --------------------------------------------------------------------------- Guided Backpropagation
@contextlib.contextmanager
def guided_relus(model: nn.Module):
    """Springenberg et al.'s rule at every ReLU: pass back only positive gradients, and only
    where the forward input was positive (ReLU's own backward adds the second condition)."""
    def clamp_gradient(module, inputs, output):
        output.register_hook(lambda grad: grad.clamp(min=0))

    handles = [m.register_forward_hook(clamp_gradient) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def guided_backprop(model: nn.Module, image: torch.Tensor, class_idx: int) -> torch.Tensor:
    """∂y^c/∂image under the guided rule. (C, H, W)"""
    image = image.detach().clone().requires_grad_(True)
    with guided_relus(model), torch.enable_grad():
        model.zero_grad(set_to_none=True)
        model(image)[0, class_idx].backward()
    return image.grad[0].detach().cpu()


def guided_grad_cam(guided: torch.Tensor, cam: np.ndarray) -> torch.Tensor:
    """§3.2: Guided Backpropagation × Grad-CAM, point-wise. (C, H, W)"""
    return guided * torch.from_numpy(cam).to(guided.dtype)[None]


def gradient_image(gradients: torch.Tensor) -> np.ndarray:
    """(C, H, W) gradients -> uint8 RGB: zero is grey, contrast set by the largest magnitude."""
    g = gradients.float()
    g = g / g.abs().max().clamp(min=1e-12)
    rgb = (g * 127.5 + 127.5).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb


# --------------------------------------------------------------------------- measuring the claims
def grad_cam_batch(model: nn.Module, target_layer: nn.Module, images: torch.Tensor,
                   classes: torch.Tensor) -> np.ndarray:
    """Grad-CAM of image i for class classes[i], for a whole batch in one backward pass (the
    samples do not interact in eval mode, so ∂(Σ_i y_i^{c_i})/∂A_i = ∂y_i^{c_i}/∂A_i). (B, H, W)"""
    maps, grads, _ = _activations_and_gradients(model, target_layer, images, classes)
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # Eq. 1, (B, K, 1, 1)
    cams = F.relu((alpha * maps).sum(1, keepdim=True))  # Eq. 2, (B, 1, u, v)
    cams = F.interpolate(cams, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    cams = cams - cams.flatten(1).amin(1)[:, None, None]
    return (cams / cams.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]).cpu().numpy()


def guided_backprop_batch(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Guided Backpropagation of image i for class classes[i], batched. (B, C, H, W)"""
    images = images.detach().clone().requires_grad_(True)
    with guided_relus(model), torch.enable_grad():
        model.zero_grad(set_to_none=True)
        model(images).gather(1, classes[:, None]).sum().backward()
    return images.grad.detach().cpu()


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur (B, H, W) maps with a Gaussian of `sigma` pixels (reflected borders). (B, H, W)"""
    radius = max(1, round(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    out = F.pad(maps[:, None].float(), (radius,) * 4, mode="reflect")  # (B, 1, H+2r, W+2r)
    out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    return F.conv2d(out, kernel.view(1, 1, -1, 1))[:, 0]


def peaks(maps: np.ndarray | torch.Tensor) -> np.ndarray:
    """(row, col) of each map's maximum. (B, H, W) -> (B, 2)"""
    maps = torch.as_tensor(maps)
    flat = maps.flatten(1).argmax(1)
    return torch.stack([flat // maps.shape[-1], flat % maps.shape[-1]], 1).numpy()


def inside(points: np.ndarray, boxes: torch.Tensor | np.ndarray) -> np.ndarray:
    """Whether each (row, col) lies in its box (x0, y0, x1, y1) (exclusive ends). (B,) bool"""
    boxes = np.asarray(boxes)
    rows, cols = points[:, 0], points[:, 1]
    return (boxes[:, 0] <= cols) & (cols < boxes[:, 2]) & (boxes[:, 1] <= rows) & (rows < boxes[:, 3])


def box_fraction(boxes: torch.Tensor | np.ndarray, height: int, width: int) -> float:
    """Mean share of the image a box covers: the hit rate of a point chosen uniformly at random."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return float(((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).mean() / (height * width))


def pointing_game(model: nn.Module, target_layer: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  boxes: torch.Tensor) -> float:
    """Fraction of images whose Grad-CAM maximum (for the true class) lies inside the object's
    box (x0, y0, x1, y1): weakly-supervised localisation (§4.1) scored as a 'pointing game'."""
    return float(inside(peaks(grad_cam_batch(model, target_layer, images, labels)), boxes).mean())


def blurred_image_pointing(raw: torch.Tensor, boxes: torch.Tensor, sigma: float) -> float:
    """The class-blind baseline: point at the brightest spot of the blurred image (B, 1, H, W)."""
    return float(inside(peaks(gaussian_blur(raw[:, 0], sigma)), boxes).mean())


# --------------------------------------------------------------------------- faithfulness (§5.3)
def occlusion_maps(model: nn.Module, images: torch.Tensor, patch: int, stride: int,
                   fill: float = 0.0) -> torch.Tensor:
    """Occlusion sensitivity (Zeiler & Fergus, the reference of §5.3): the drop of every class
    score y^c when a `patch`×`patch` square at each grid position is set to `fill` (0 after
    normalising = the training canvases' mean grey). (B, classes, n, n), n = (H - patch) // stride + 1"""
    height, width = images.shape[-2:]
    rows, cols = range(0, height - patch + 1, stride), range(0, width - patch + 1, stride)
    out = []
    with torch.no_grad():
        base = model(images)  # (B, classes)
        for image, score in zip(images, base):
            batch = image[None].repeat(len(rows) * len(cols), 1, 1, 1)  # (n*n, C, H, W)
            for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
                batch[i, :, r:r + patch, c:c + patch] = fill
            out.append((score[None] - model(batch)).T.reshape(-1, len(rows), len(cols)))  # (classes, n, n)
    return torch.stack(out)


def window_means(maps: np.ndarray | torch.Tensor, patch: int, stride: int) -> torch.Tensor:
    """A map's mean over each occluder window, on the occlusion grid. (B, H, W) -> (B, n, n)"""
    return F.avg_pool2d(torch.as_tensor(maps)[:, None].float(), patch, stride)[:, 0]


def rank_correlation(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Spearman's rank correlation of each pair of maps (ties share their mean rank; a constant
    map correlates 0 with anything). (B, ...) × (B, ...) -> (B,)"""
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a, dtype=np.float64).reshape(len(a), -1), axis=1)
    rb = rankdata(np.asarray(b, dtype=np.float64).reshape(len(b), -1), axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    norm = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    return np.where(norm > 0, (ra * rb).sum(1) / np.where(norm > 0, norm, 1.0), 0.0)


# ---- experiments behind the claims
# Measured on the shipped digits-in-clutter CNN (papers.deconvnet); a seed draws fresh random test
# canvases (test-split digits, new clutter and places), so no seed is a lucky pick.
POINTING_CANVASES = 200
BLUR_SIGMAS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)  # candidates for the class-blind baseline
LAYERS = ("conv1", "conv2", "conv3", "conv4")  # conv4 is the last conv layer: the paper's choice (§3)
SENSITIVITY_CANVASES = 100  # two-digit canvases per seed for class_sensitivity
FAITHFULNESS_CANVASES = 40  # two-digit canvases per seed, both digits asked for: 80 requests
OCCLUDER, OCCLUDER_STRIDE = 16, 6  # a 16×16 grey square (about a digit's half) on a 9×9 grid


def _shipped_cnn():
    from papers import deconvnet

    model = deconvnet.small_cnn("cpu")
    layers = {name: model.features[deconvnet.conv_layers(model.features)[name]] for name in LAYERS}
    return model, layers, deconvnet._pixel_stats()


@functools.cache
def blur_sigma() -> float:
    """The blur that makes the class-blind baseline strongest, chosen on training-split canvases
    (never on the test canvases it is scored on)."""
    from papers import deconvnet

    images, _, boxes = deconvnet.cluttered_digits(POINTING_CANVASES, "train", seed=10_000)
    return max(BLUR_SIGMAS, key=lambda s: blurred_image_pointing(images, boxes, s))


def measure_pointing_game(seed: int, quick: bool) -> dict[str, float]:
    """§4.1's weakly-supervised localisation as a pointing game on single-digit canvases: the %
    whose map peak lies in the digit's box, for Grad-CAM and for what needs no network at all."""
    from papers import deconvnet

    model, layers, (mean, std) = _shipped_cnn()
    images, labels, boxes = deconvnet.cluttered_digits(POINTING_CANVASES // (4 if quick else 1), "test", seed=seed)
    x = (images - mean) / std
    score = {name: 100 * pointing_game(model, layer, x, labels, boxes) for name, layer in layers.items()}
    return {"ours": score["conv4"], "conv3": score["conv3"],
            "blurred_image": 100 * blurred_image_pointing(images, boxes, blur_sigma()),
            "chance": 100 * box_fraction(boxes, *images.shape[-2:])}


def measure_class_discrimination(seed: int, quick: bool) -> dict[str, float]:
    """The paper's real claim (§3, Fig. 1): on canvases with two digits, asking for one class
    must point at *that* digit. % of requests (both digits of every canvas) whose peak lies in
    the requested digit's box. A class-blind map points at the same spot whichever class is
    asked, so it can be right for at most one of the two: ≤ 50 % by construction."""
    from papers import deconvnet

    model, layers, (mean, std) = _shipped_cnn()
    images, labels, boxes = deconvnet.two_digit_canvases(POINTING_CANVASES // (4 if quick else 1), "test", seed=seed)
    x = (images - mean) / std
    sigma = blur_sigma()
    hits: dict[str, list[np.ndarray]] = {**{name: [] for name in LAYERS}, "guided_backprop": [], "blurred_image": []}
    blind = peaks(gaussian_blur(images[:, 0], sigma))  # the same point for either request
    for k in range(2):  # left digit, then right digit
        requested, box = labels[:, k], boxes[:, k]
        for name, layer in layers.items():
            hits[name].append(inside(peaks(grad_cam_batch(model, layer, x, requested)), box))
        guided = guided_backprop_batch(model, x, requested).abs().sum(1)  # (B, H, W)
        hits["guided_backprop"].append(inside(peaks(gaussian_blur(guided, sigma)), box))
        hits["blurred_image"].append(inside(blind, box))
    rate = {name: 100 * float(np.mean(h)) for name, h in hits.items()}
    chance = 100 * float(np.mean([box_fraction(boxes[:, k], *images.shape[-2:]) for k in range(2)]))
    return {"ours": rate["conv4"], **{name: rate[name] for name in LAYERS[:-1]},
            "guided_backprop": rate["guided_backprop"], "blurred_image": rate["blurred_image"], "chance": chance}


def measure_class_sensitivity(seed: int, quick: bool) -> dict[str, float]:
    """Fig. 1's contrast in numbers: how alike a method's maps for the two digits of a canvas are
    (Spearman rank correlation over all pixels, mean over canvases). 1 = the same map whatever
    class is asked (class-blind); Grad-CAM should move, Guided Backprop barely."""
    from papers import deconvnet

    model, layers, (mean, std) = _shipped_cnn()
    images, labels, _ = deconvnet.two_digit_canvases(SENSITIVITY_CANVASES // (4 if quick else 1), "test", seed=seed)
    x = (images - mean) / std
    maps: dict[str, list] = {"conv4": [], "conv3": [], "guided_backprop": [], "guided_grad_cam": []}
    for k in range(2):
        cams = {name: grad_cam_batch(model, layers[name], x, labels[:, k]) for name in ("conv3", "conv4")}
        guided = guided_backprop_batch(model, x, labels[:, k])  # (B, 1, H, W)
        maps["conv4"].append(cams["conv4"])
        maps["conv3"].append(cams["conv3"])
        maps["guided_backprop"].append(guided.abs().sum(1))
        maps["guided_grad_cam"].append((guided * torch.from_numpy(cams["conv4"])[:, None]).abs().sum(1))
    rho = {name: float(np.mean(rank_correlation(*pair))) for name, pair in maps.items()}
    return {"ours": rho["conv4"], **{k: v for k, v in rho.items() if k != "conv4"}}


def measure_faithfulness(seed: int, quick: bool) -> dict[str, float]:
    """§5.3: how well a map ranks the regions by what occluding them costs the class score.
    For every request (both digits of each two-digit test canvas) Spearman's rank correlation
    between the occlusion-sensitivity map of the requested class and the explanation averaged
    over the same occluder windows; the mean over requests."""
    from papers import deconvnet

    model, layers, (mean, std) = _shipped_cnn()
    n = FAITHFULNESS_CANVASES // (4 if quick else 1)
    images, labels, _ = deconvnet.two_digit_canvases(n, "test", seed=seed)
    x = (images - mean) / std
    occlusion = occlusion_maps(model, x, OCCLUDER, OCCLUDER_STRIDE)  # (B, classes, n, n)
    pooled = functools.partial(window_means, patch=OCCLUDER, stride=OCCLUDER_STRIDE)
    rho: dict[str, list[np.ndarray]] = {"conv4": [], "conv3": [], "guided_backprop": [], "guided_grad_cam": [],
                                        "image": []}
    for k in range(2):
        requested = labels[:, k]
        reference = occlusion[torch.arange(n), requested]  # (B, n, n)
        cams = {name: grad_cam_batch(model, layers[name], x, requested) for name in ("conv3", "conv4")}
        guided = guided_backprop_batch(model, x, requested)  # (B, 1, H, W)
        maps = {**cams, "guided_backprop": guided.abs().sum(1),
                "guided_grad_cam": (guided * torch.from_numpy(cams["conv4"])[:, None]).abs().sum(1),
                "image": images[:, 0]}  # class-blind: the ink itself
        for name, found in maps.items():
            rho[name].append(rank_correlation(pooled(found), reference))
    mean_rho = {name: float(np.mean(r)) for name, r in rho.items()}
    return {"ours": mean_rho["conv4"], **{k: v for k, v in mean_rho.items() if k != "conv4"}}


_LABELS = {"ours": "Grad-CAM at conv4 (last conv layer)", "conv1": "Grad-CAM at conv1", "conv2": "Grad-CAM at conv2",
           "conv3": "Grad-CAM at conv3",
           "guided_backprop": "Guided Backprop (|gradient|, blurred)",
           "blurred_image": "brightest spot of the blurred image (class-blind)",
           "chance": "a random point (mean box share of the canvas)"}

EXPERIMENTS = [
    Experiment(
        "pointing_game",
        "Grad-CAM's peak lands on the digit among clutter (§4.1, as a pointing game), against a "
        "class-blind blurred image and chance",
        f"% of {POINTING_CANVASES} random single-digit test canvases whose map peak is in the digit's box "
        "(shipped CNN; seed = the canvases)",
        measure_pointing_game, seeds=5, higher_is_better=True, checkable=True, tolerance=1.0, digits=1,
        labels=_LABELS,
        paper=Paper(None, "§4.1 (weakly-supervised localisation on ILSVRC-15, VGG16)",
                    "the paper scores localisation error on ImageNet boxes, not comparable with digits"),
    ),
    Experiment(
        "class_discrimination",
        "Asked for one of two digits, Grad-CAM points at the requested one (class-discriminative, §3, "
        "Fig. 1), the more so the deeper its layer; a class-blind map can be right for at most half of the requests",
        f"% of requests (2 per canvas, {POINTING_CANVASES} random two-digit test canvases) whose map peak "
        "is in the requested digit's box, at every conv layer (shipped CNN; seed = the canvases)",
        measure_class_discrimination, seeds=5, higher_is_better=True, checkable=True, tolerance=1.0, digits=1,
        labels=_LABELS,
        paper=Paper(61.23, "§5.1, human study",
                    "people named the visualised class from Guided Grad-CAM in 61.23 % of cases, from Guided "
                    "Backprop in 44.44 %: a different measurement of the same property"),
    ),
    Experiment(
        "class_sensitivity",
        "Grad-CAM's maps for the two digits of a canvas differ; Guided Backprop's barely do (Fig. 1: Guided "
        "Backprop is not class-discriminative)",
        f"Spearman rank correlation over all pixels between a method's maps for the left and the right digit, mean "
        f"over {SENSITIVITY_CANVASES} random two-digit test canvases (1 = the same map whichever class is asked; "
        "shipped CNN; seed = the canvases)",
        measure_class_sensitivity, seeds=5, higher_is_better=False, checkable=True, tolerance=0.01, digits=3,
        labels={"ours": "Grad-CAM at conv4 (last conv layer)", "conv3": "Grad-CAM at conv3",
                "guided_backprop": "Guided Backprop (|gradient|)", "guided_grad_cam": "Guided Grad-CAM (conv4)"},
        paper=Paper(None, "Fig. 1 (b) vs (h), VGG16", "the paper shows the cat and dog maps side by side; no figure"),
    ),
    Experiment(
        "faithfulness",
        "Grad-CAM ranks the regions of a canvas much as occluding them does (faithful to the model, §5.3), "
        "better than Guided Backprop and the class-blind image",
        f"Spearman rank correlation with the occlusion map of the same class ({OCCLUDER}×{OCCLUDER} grey square, "
        f"stride {OCCLUDER_STRIDE}; maps averaged over the same windows), mean over 2 requests × "
        f"{FAITHFULNESS_CANVASES} random two-digit test canvases (shipped CNN; seed = the canvases)",
        measure_faithfulness, seeds=5, higher_is_better=True, digits=3,
        labels={"ours": "Grad-CAM at conv4 (last conv layer)", "conv3": "Grad-CAM at conv3",
                "guided_backprop": "Guided Backprop (|gradient|)", "guided_grad_cam": "Guided Grad-CAM (conv4)",
                "image": "the image itself (class-blind)"},
        paper=Paper(0.254, "§5.3 (VGG16)",
                    "vs Guided Backpropagation 0.168 (rank correlation with occlusion maps, averaged over a "
                    "validation set); quoted from memory, not checked against the paper's text in this session"),
    ),
]
