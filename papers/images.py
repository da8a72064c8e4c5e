"""Turning whatever a visitor uploads into a clean RGB uint8 array, or a clear error.

Every demo passes its image input through `to_rgb`: it accepts None-checks, file paths,
PIL images and numpy arrays of any dtype (8/16-bit, float), grey, grey+alpha, RGB or RGBA,
and downscales big images with a note the UI shows. Errors are `BadImage` with a message
meant for a person.

Tabs where bit depth matters (microscopy: U-Net) use `to_grey` on the uploaded *file*: a 16-bit
PNG/TIFF (or a 32-bit integer/float image) is read as its raw samples and scaled by the image's
own range, instead of being squashed to 8 bits (gr.Image(type="numpy") turns a 16-bit TIFF into
RGB that is all 255).

Decompression bombs: an image is refused before decoding when it has more than `MAX_PIXELS`
pixels (below PIL's own default limit of about 89.5 megapixels). PIL's guard for code that
decodes before ours (Gradio's gr.Image) is set to half of that, since PIL refuses only above
twice its limit: nothing decodes more than `MAX_PIXELS` pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

MAX_SIDE = 1024  # larger inputs are downscaled (with a note) before any model sees them
MIN_SIDE = 8
MAX_PIXELS = 50_000_000  # refused before decoding (e.g. 7071 x 7071); PIL's default limit is ~89.5 M
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2  # PIL raises DecompressionBombError above 2x this
ImageFile.LOAD_TRUNCATED_IMAGES = False
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # PIL modes with > 8 bits per sample


def _too_many_pixels(width: int, height: int) -> BadImage:
    return BadImage(f"This image is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); "
                    f"images up to {MAX_PIXELS / 1e6:.0f} megapixels are accepted.")


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
                if size[0] * size[1] > MAX_PIXELS:
                    raise _too_many_pixels(*size)
                img.draft(img.mode, (max_side, max_side))  # JPEG: decode at a reduced size
                img.load()
                return _pil_to_array(img, max_side), size
        except Image.DecompressionBombError:
            raise BadImage(f"This image is too large to open safely (over {MAX_PIXELS / 1e6:.0f} "
                           "megapixels).") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, BadImage):
                raise
            raise BadImage(f"This file could not be read as an image ({type(exc).__name__}). "
                           "Is it a complete PNG or JPEG?") from None
    if isinstance(source, Image.Image):
        if source.size[0] * source.size[1] > MAX_PIXELS:
            raise _too_many_pixels(*source.size)
        return _pil_to_array(source, max_side), source.size
    if isinstance(source, dict):  # gr.ImageEditor / Sketchpad value
        for key in ("composite", "background"):
            if source.get(key) is not None:
                return _open(source[key], max_side)
        raise BadImage("The drawing is empty.")
    arr = np.asarray(source)
    if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _too_many_pixels(arr.shape[1], arr.shape[0])
    return arr, None


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


# --------------------------------------------------------------------------- grey, any bit depth
@dataclass
class CleanGrey:
    grey: np.ndarray  # (H, W) float32 in [0, 1]
    rgb: np.ndarray  # (H, W, 3) uint8 to draw overlays on: the 8-bit image, or the scaled grey
    notes: list[str] = field(default_factory=list)


def _luma_uint8(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of uint8 RGB in 16-bit fixed point, rounded to uint8 (within one grey
    level of OpenCV's RGB2GRAY, whose SIMD paths round slightly differently)."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + (1 << 15)) >> 16).astype(np.uint8)


def scale_to_unit(values: np.ndarray) -> np.ndarray:
    """Rescale by the array's own range (min -> 0, max -> 1); a constant image becomes 0."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _high_depth(source) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The raw (H, W) samples and (width, height) of an image with more than 8 bits per sample,
    else None (8-bit images take the `to_rgb` path)."""
    if isinstance(source, (str, Path)):
        try:
            with Image.open(source) as img:
                if img.mode not in HIGH_DEPTH_MODES:
                    return None
                if img.size[0] * img.size[1] > MAX_PIXELS:
                    raise _too_many_pixels(*img.size)
                img.load()
                return np.asarray(img).astype(np.float64), img.size
        except BadImage:
            raise
        except Image.DecompressionBombError:
            raise BadImage(f"This image is too large to open safely (over {MAX_PIXELS / 1e6:.0f} "
                           "megapixels).") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return None  # to_rgb says why it cannot be read
    if isinstance(source, Image.Image):
        return (np.asarray(source).astype(np.float64), source.size) if source.mode in HIGH_DEPTH_MODES else None
    if isinstance(source, np.ndarray) and source.ndim in (2, 3) and source.dtype != np.uint8 and source.dtype != bool:
        arr = source[..., 0] if source.ndim == 3 and source.shape[2] == 1 else source
        if arr.ndim == 3 and arr.shape[2] in (3, 4):  # 16-bit colour (e.g. from tifffile): its luma
            arr = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        if arr.ndim == 2 and arr.shape[0] * arr.shape[1] > MAX_PIXELS:
            raise _too_many_pixels(arr.shape[1], arr.shape[0])
        if arr.ndim != 2 or not arr.size:
            return None
        top = float(np.nanmax(arr)) if np.isfinite(arr).any() else 0.0
        sixteen_bit = source.dtype in (np.uint16, np.int16)
        wider = np.issubdtype(arr.dtype, np.integer) and top > 255
        float_beyond_unit = np.issubdtype(arr.dtype, np.floating) and top > 1.0  # not [0, 1] floats
        if sixteen_bit or wider or float_beyond_unit:
            return arr.astype(np.float64), (arr.shape[1], arr.shape[0])
    return None


def to_grey(source, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> CleanGrey:
    """Any image-like input -> (H, W) float32 grey in [0, 1], downscaled to `max_side` with a note.

    8-bit images: BT.601 luma / 255 (as OpenCV's, within one grey level). More than 8 bits per sample
    (16-bit PNG/TIFF, 32-bit integer or float, integer arrays): the raw samples rescaled by the
    image's own range, so a 12-bit camera image stored in 16 bits uses the whole scale and a
    bright 16-bit image does not saturate."""
    if source is None:
        raise BadImage("No image given: upload one, or pick an example.")
    raw = _high_depth(source)
    if raw is None:
        clean = to_rgb(source, max_side, min_side)
        return CleanGrey(_luma_uint8(clean.rgb).astype(np.float32) / 255.0, clean.rgb, clean.notes)
    values, (width, height) = raw
    if min(width, height) < min_side:
        raise BadImage(f"The image is {width}×{height} pixels; at least {min_side}×{min_side} is needed.")
    notes = []
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    grey = scale_to_unit(values)
    bits = max(1, math.ceil(math.log2(high + 1))) if high >= 0 and float(high).is_integer() else None
    notes.append(f"High bit-depth image: values {low:g}–{high:g}" + (f" (~{bits}-bit)" if bits else "")
                 + " were scaled by the image's own range to 0–1.")
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = np.asarray(Image.fromarray(grey, mode="F").resize(size, Image.BILINEAR), dtype=np.float32)
        notes.append(f"The image ({width}×{height}) was downscaled to {size[0]}×{size[1]}.")
    grey = np.clip(grey, 0.0, 1.0)
    grey8 = (grey * 255 + 0.5).astype(np.uint8)
    return CleanGrey(np.ascontiguousarray(grey), np.repeat(grey8[..., None], 3, axis=2), notes)
