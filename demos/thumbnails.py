"""Make the front page's thumbnails: ``python -m demos.thumbnails [SLUG ...]``.

Runs each tab's `bench_default()` (its main handler at default settings on a shipped example)
and saves the first image it returns, cropped and shrunk, as demos/assets/thumbs/SLUG.jpg.
"""
from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from demos.gallery import THUMBS

SIZE = (320, 180)


def first_image(value) -> Image.Image | None:
    """The first image in a handler's return value (arrays, PIL images, paths, nested tuples,
    Gradio updates and (image, annotations) pairs)."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray) and value.ndim in (2, 3) and min(value.shape[:2]) >= 16:
        array = value.astype(np.float32)
        if array.max() <= 1.0:
            array = array * 255
        return Image.fromarray(array.clip(0, 255).astype(np.uint8))
    if isinstance(value, str) and value.lower().endswith((".png", ".jpg", ".jpeg", ".webp")):
        return Image.open(value)
    if isinstance(value, dict):
        return first_image(value.get("value"))
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_image(item)
            if found is not None:
                return found
    return None


def thumbnail(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    scale = max(SIZE[0] / image.width, SIZE[1] / image.height)
    image = image.resize((max(SIZE[0], round(image.width * scale)), max(SIZE[1], round(image.height * scale))),
                         Image.LANCZOS)
    left, top = (image.width - SIZE[0]) // 2, (image.height - SIZE[1]) // 2
    return image.crop((left, top, left + SIZE[0], top + SIZE[1]))


def last(value):
    """A generator handler's final value; a plain handler's value as is."""
    if hasattr(value, "__next__"):
        final = None
        for final in value:
            pass
        return final
    return value


def main(argv=None) -> None:
    import demos

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*")
    args = parser.parse_args(argv)
    THUMBS.mkdir(parents=True, exist_ok=True)
    for demo in demos.TABS:
        if args.slugs and demo.slug not in args.slugs or demo.module is None:
            continue
        try:
            image = first_image(last(demo.module.bench_default()))
        except Exception as exc:  # noqa: BLE001 - report and go on to the next tab
            print(f"{demo.slug}: failed ({type(exc).__name__}: {exc})")
            continue
        if image is None:
            print(f"{demo.slug}: no image in its default output")
            continue
        thumbnail(image).save(THUMBS / f"{demo.slug}.jpg", quality=80, optimize=True)
        print(f"{demo.slug}: {THUMBS / (demo.slug + '.jpg')}")


if __name__ == "__main__":
    main()
