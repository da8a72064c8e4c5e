"""Turning whatever a visitor uploads into a clean RGB uint8 array, or a clear error.

Every demo passes its image input through `to_rgb`: it accepts None-checks, file paths,
PIL images and numpy arrays of any dtype (8/16-bit, float), grey, grey+alpha, RGB or RGBA,
and downscales big images with a note the UI shows. Errors are `BadImage` with a message
meant for a person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

MAX_SIDE = 1024  # larger inputs are downscaled (with a note) before any model sees them
MIN_SIDE = 8
Image.MAX_IMAGE_PIXELS = 120_000_000  # refuse decompression bombs beyond ~11k x 11k
ImageFile.LOAD_TRUNCATED_IMAGES = False


class BadImage(ValueError):
    """The input cannot be used as an image; the message says why, for a person."""


@dataclass
class CleanImage:
    rgb: np.ndarray  # (H, W, 3) uint8
    notes: list[str] = field(default_factory=list)


def _open(source, max_side: int = MAX_SIDE) -> tuple[np.ndarray, tuple[int, int] | None]:
    """(array, the original (width, height) when known before decoding shrank it, else None)."""
    if isinstance(source, (str, Path)):
        try:
            with Image.open(source) as img:
                size = img.size
                img.draft(img.mode, (max_side, max_side))  # JPEG: decode at a reduced size
                img.load()
                return _pil_to_array(img, max_side), size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise BadImage(f"This file could not be read as an image ({type(exc).__name__}). "
                           "Is it a complete PNG or JPEG?") from None
        except Image.DecompressionBombError:
            raise BadImage("This image is too large to open safely (over 120 megapixels).") from None
    if isinstance(source, Image.Image):
        return _pil_to_array(source, max_side), source.size
    if isinstance(source, dict):  # gr.ImageEditor / Sketchpad value
        for key in ("composite", "background"):
            if source.get(key) is not None:
                return _open(source[key], max_side)
        raise BadImage("The drawing is empty.")
    return np.asarray(source), None


def _pil_to_array(img: Image.Image, max_side: int = MAX_SIDE) -> np.ndarray:
    if max(img.size) >= 4 * max_side:  # shrink huge images before making big arrays
        img = img.reduce(max(img.size) // (2 * max_side))
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.asarray(img).astype(np.float64)
    if img.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV", "1"):
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return np.asarray(img)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    top = arr.max() if arr.size else 0
    if top <= 1.0 and arr.min() >= 0:  # floats in [0, 1]
        arr = arr * 255
    elif top > 255:  # 16-bit or larger range
        arr = arr * (255.0 / (65535.0 if top <= 65535 else top))
    return np.clip(arr + 0.5, 0, 255).astype(np.uint8)


def to_rgb(source, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> CleanImage:
    """Any image-like input -> (H, W, 3) uint8 RGB, downscaled to `max_side` with a note."""
    if source is None:
        raise BadImage("No image given: upload one, or pick an example.")
    arr, original_size = _open(source, max_side)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise BadImage(f"Expected a grey or colour image, got an array of shape {arr.shape}.")
    notes = []
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] in (2, 4):  # composite the alpha channel over white
        alpha = arr[..., -1:].astype(np.float32) / 255.0
        colour = arr[..., :-1].astype(np.float32)
        colour = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour
        arr = (colour * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8)
    h, w = arr.shape[:2]
    orig_w, orig_h = original_size or (w, h)
    if min(orig_w, orig_h) < min_side:
        raise BadImage(f"The image is {orig_w}×{orig_h} pixels; at least {min_side}×{min_side} is needed.")
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        arr = np.asarray(Image.fromarray(arr).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                     Image.BILINEAR))
    h, w = arr.shape[:2]
    if (w, h) != (orig_w, orig_h):
        notes.append(f"The image ({orig_w}×{orig_h}) was downscaled to {w}×{h}.")
    return CleanImage(np.ascontiguousarray(arr), notes)
