"""Small UI helpers shared by every demo (Gradio only; no model maths)."""
from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from papers.checkpoints import Checkpoint, WeightsUnavailable, is_available_locally, missing_message
from papers.images import BadImage, CleanImage, to_rgb

ASSETS = Path(__file__).resolve().parent / "assets"
HEAVY = "heavy"  # concurrency id shared by CPU-heavy events (training, optimisation)


def example_paths(*names: str) -> list[str]:
    """Absolute paths of shipped example images (demos/assets)."""
    return [str(ASSETS / name) for name in names]


def read_image(value, max_side: int | None = None) -> CleanImage:
    """An image input's value -> CleanImage, raising gr.Error with a readable message.

    Notes (e.g. "downscaled") are shown to the visitor as a toast."""
    try:
        clean = to_rgb(value) if max_side is None else to_rgb(value, max_side=max_side)
    except BadImage as exc:
        raise gr.Error(str(exc)) from None
    for note in clean.notes:
        gr.Info(note)
    return clean


def friendly_errors(fn):
    """Turn the errors a visitor can cause into messages instead of tracebacks.

    Works for plain handlers and for generator handlers (streaming)."""
    import inspect

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, (BadImage, WeightsUnavailable, ValueError)):
            return gr.Error(str(exc))
        return gr.Error(f"Something went wrong: {type(exc).__name__}: {exc}")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None
    return wrapper


def weights_note(ckpt: Checkpoint, adds: str) -> str:
    """Markdown for a tab: whether `ckpt` is here already, what it adds, and how to get it."""
    if is_available_locally(ckpt):
        return f"**{ckpt.name}** weights: found locally ({ckpt.size_text()})."
    how = missing_message(ckpt).split("To get them: ")[-1]
    return (f"**{ckpt.name}** weights ({ckpt.size_text()}, {ckpt.license}) would add: {adds}. "
            f"They are fetched on first use when online. Otherwise: {how}")


def header(title: str, paper_url: str, intro: str) -> None:
    gr.Markdown(f"## {title}\n[Read the paper]({paper_url})\n\n{intro}")


def on_page_load(fn, outputs) -> None:
    """Fill `outputs` when a visitor opens the page (not at start-up: nothing loads before it is
    needed). Works inside any tab's build(), in the gallery or served alone."""
    from gradio.context import Context

    Context.root_block.load(fn, None, outputs, api_visibility="private", show_progress="hidden")
