"""Make the front page's thumbnails: ``python -m demos.thumbnails [SLUG ...]``.

Runs each tab's `bench_default()` (its main handler at default settings on a shipped example)
and saves the first image it returns, cropped and shrunk, as demos/assets/thumbs/SLUG.jpg. A tab
whose result is a plot or a table (no image) is opened in headless Chromium instead, and its
largest visible output after opening is photographed.
"""
from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from demos.common import ASSETS
from demos.gallery import THUMBS

SIZE = (320, 180)
# Tabs whose result is made ahead of time and shipped in demos/assets: that file is the picture.
SHIPPED_RESULT = {"style-transfer": "style_transfer_brick.png"}


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


def from_browser(slugs: list[str]) -> dict[str, Image.Image]:
    """Open each tab (?tab=SLUG) and photograph its largest visible image/plot once it has filled."""
    import io
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from playwright.sync_api import sync_playwright

    from bench.screenshot import CHROMIUM, CHROMIUM_ARGS
    from bench.server import running_app

    shots = {}
    with running_app() as (url, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        for slug in slugs:
            page.goto(f"{url}?tab={slug}", wait_until="load")
            page.wait_for_timeout(8000)
            panel = page.locator("[role=tabpanel]:visible").first
            for selector in ("img, canvas, svg.main-svg, .vega-embed", "table"):  # a picture, else a table
                sized = [(box["width"] * box["height"], c) for c in panel.locator(selector).all()
                         if c.is_visible() and (box := c.bounding_box()) and box["width"] > 150 and box["height"] > 60]
                if sized:
                    shots[slug] = Image.open(io.BytesIO(max(sized, key=lambda x: x[0])[1].screenshot()))
                    break
            else:  # neither: the top of the tab as it opens
                box = panel.bounding_box()
                clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": min(box["height"], 560)}
                shots[slug] = Image.open(io.BytesIO(page.screenshot(clip=clip, full_page=True)))
        browser.close()
    return shots


def main(argv=None) -> None:
    import demos

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*")
    args = parser.parse_args(argv)
    THUMBS.mkdir(parents=True, exist_ok=True)
    without_image = []
    for demo in demos.TABS:
        if args.slugs and demo.slug not in args.slugs or demo.module is None:
            continue
        try:
            shipped = SHIPPED_RESULT.get(demo.slug)
            image = Image.open(ASSETS / shipped) if shipped else first_image(last(demo.module.bench_default()))
        except Exception as exc:  # noqa: BLE001 - report and go on to the next tab
            print(f"{demo.slug}: failed ({type(exc).__name__}: {exc})")
            continue
        if image is None:
            without_image.append(demo.slug)
            continue
        thumbnail(image).save(THUMBS / f"{demo.slug}.jpg", quality=80, optimize=True)
        print(f"{demo.slug}: {THUMBS / (demo.slug + '.jpg')}")
    for slug, image in from_browser(without_image).items():
        thumbnail(image).save(THUMBS / f"{slug}.jpg", quality=80, optimize=True)
        print(f"{slug}: {THUMBS / (slug + '.jpg')} (photographed in the browser)")


if __name__ == "__main__":
    main()
