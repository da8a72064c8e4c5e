"""Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization.

Ramprasaath R. Selvaraju, Michael Cogswell, Abhishek Das, Ramakrishna Vedantam, Devi Parikh,
Dhruv Batra, ICCV 2017. https://arxiv.org/abs/1610.02391

Which parts of the image made the network say "cat"? Grad-CAM (§3) weighs each feature map
A^k of a convolutional layer by the global-average-pooled gradient of the class score y^c
(Eq. 1: α_k^c), sums them and keeps the positive part (Eq. 2: ReLU(Σ_k α_k^c A^k)): a coarse,
class-discriminative heatmap. Multiplied point-wise with Guided Backpropagation's fine,
class-agnostic gradients it gives Guided Grad-CAM (§3.2); negating the gradients gives the
counterfactual map of regions that argue *against* the class (§3.3, Eq. 4).

**Deviations from the paper**
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
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# --------------------------------------------------------------------------- Grad-CAM (Eq. 1-2)
@dataclass
class CamMaps:
    cam: np.ndarray  # (H, W) in [0, 1]: Grad-CAM for the class
    counterfactual: np.ndarray  # (H, W) in [0, 1]: the same with negated gradients (§3.3)
    logits: torch.Tensor  # (classes,)


def _feature_maps_and_gradients(model: nn.Module, target_layer: nn.Module, image: torch.Tensor,
                                class_idx: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A^k (1, K, u, v), ∂y^c/∂A^k (same shape) and the logits (classes,) for one image."""
    captured = {}

    def keep(module, inputs, output):
        captured["A"] = output
        output.register_hook(lambda grad: captured.__setitem__("dA", grad))

    handle = target_layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(image)  # (1, classes)
            if not 0 <= class_idx < logits.shape[1]:
                raise ValueError(f"Class index {class_idx} is outside 0..{logits.shape[1] - 1}.")
            model.zero_grad(set_to_none=True)
            logits[0, class_idx].backward()
    finally:
        handle.remove()
    return captured["A"].detach(), captured["dA"].detach(), logits[0].detach()


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


# --------------------------------------------------------------------------- a property to check
def pointing_game(model: nn.Module, target_layer: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  boxes: torch.Tensor) -> float:
    """Fraction of images whose Grad-CAM maximum (for the true class) lies inside the object's
    box (x0, y0, x1, y1): weakly-supervised localisation, §4.1's claim, as a 'pointing game'."""
    hits = 0
    for image, label, (x0, y0, x1, y1) in zip(images, labels, boxes.tolist()):
        cam = grad_cam(model, target_layer, image[None], int(label))
        row, col = np.unravel_index(cam.argmax(), cam.shape)
        hits += int(x0 <= col < x1 and y0 <= row < y1)
    return hits / len(labels)
