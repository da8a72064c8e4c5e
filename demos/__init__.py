"""The gallery's tabs: an explicit, ordered list (no import-time registry magic).

Each entry names a demo module that defines SLUG, TITLE, PAPER_URL, INTRO and build(). A module
that fails to import still gets its tab, which shows the error; the rest of the app starts.
"""
from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Demo:
    slug: str
    title: str
    paper_url: str
    build: Callable[[], None]
    module: object | None = None


def _failed_build(module_name: str, message: str) -> Callable[[], None]:
    def build():
        import gradio as gr

        gr.Markdown(f"### This demo could not be loaded\n`{module_name}`: {message}")

    return build


def _demo(module_name: str) -> Demo:
    try:
        module = importlib.import_module(module_name)
        return Demo(module.SLUG, module.TITLE, module.PAPER_URL, module.build, module)
    except Exception as exc:  # shown in the tab; the gallery keeps working
        traceback.print_exc()
        slug = module_name.rsplit(".", 1)[-1].replace("_", "-")
        return Demo(slug, slug, "", _failed_build(module_name, f"{type(exc).__name__}: {exc}"))


# The order of the gallery. A demo is listed here only once it works.
MODULES: list[str] = [
    "demos.alexnet",
    "demos.faster_rcnn",
    "demos.guided_anchoring",
    "demos.siamese",
    "demos.unet",
    "demos.style_transfer",
    "demos.image_transformer",
    "demos.mixup",
    "demos.pcn",
    "demos.stn",
    "demos.rstn",
    "demos.octconv",
    "demos.harmonic",
    "demos.xception",
    "demos.deconvnet",
    "demos.texture_bias",
    "demos.gradcam",
]

TABS: list[Demo] = [_demo(name) for name in MODULES]

# The gallery's papers, by the slug their tab has (or will have); shown in the header.
PAPERS: list[tuple[str, str, str]] = [
    ("alexnet", "AlexNet", "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks"),
    ("faster-rcnn", "Faster R-CNN", "https://arxiv.org/abs/1506.01497"),
    ("guided-anchoring", "Guided Anchoring", "https://arxiv.org/abs/1901.03278"),
    ("siamese", "Siamese similarity network", "https://ieeexplore.ieee.org/document/1467314"),
    ("unet", "U-Net", "https://arxiv.org/abs/1505.04597"),
    ("style-transfer", "Gatys style transfer", "https://arxiv.org/abs/1508.06576"),
    ("image-transformer", "Image Transformer", "https://arxiv.org/abs/1802.05751"),
    ("mixup", "mixup", "https://arxiv.org/abs/1710.09412"),
    ("pcn", "PCN face detection", "https://arxiv.org/abs/1804.06039"),
    ("stn", "Spatial Transformer Networks", "https://arxiv.org/abs/1506.02025"),
    ("rstn", "Recurrent STN", "https://arxiv.org/abs/1509.05329"),
    ("octconv", "Octave Convolution", "https://arxiv.org/abs/1904.05049"),
    ("harmonic", "Harmonic Networks", "https://arxiv.org/abs/1612.04642"),
    ("xception", "Xception", "https://arxiv.org/abs/1610.02357"),
    ("deconvnet", "Deconvnet visualisation", "https://arxiv.org/abs/1311.2901"),
    ("texture-bias", "Texture vs shape bias", "https://arxiv.org/abs/1811.12231"),
    ("gradcam", "Grad-CAM", "https://arxiv.org/abs/1610.02391"),
]
