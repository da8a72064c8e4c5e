"""Small UI helpers shared by every demo (Gradio only; no model maths)."""
from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import re
from pathlib import Path

import gradio as gr

from papers.checkpoints import (REPO_ROOT, Checkpoint, WeightsUnavailable, get_device, is_available_locally,
                                missing_message)
from papers.images import BadImage, CleanGrey, CleanImage, to_grey, to_rgb

ASSETS = Path(__file__).resolve().parent / "assets"
log = logging.getLogger("demos")
GENERIC_FAILURE = ("Something went wrong on the server while running this demo (it has been logged). "
                   "Try again, or try another input.")


def heavy_id(slug: str) -> str:
    """The concurrency id of a tab's CPU-heavy events (training, optimisation): one per tab, each
    with concurrency_limit=1, so one visitor's long run holds only that tab's heavy queue and the
    queue position is shown to whoever waits (leave show_progress at its default on them)."""
    return f"{slug}-heavy"


def bounded_seconds(value, low: float, high: float) -> float:
    """A time budget from the UI or the API, clamped to [low, high] (junk or NaN -> low)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return float(low)
    return float(low) if math.isnan(seconds) else float(min(max(seconds, low), high))


def example_paths(*names: str) -> list[str]:
    """Absolute paths of shipped example images (demos/assets)."""
    return [str(ASSETS / name) for name in names]


def read_image(value, max_side: int | None = None) -> CleanImage:
    """An image input's value -> CleanImage (RGB), raising gr.Error with a readable message.

    Notes (e.g. "downscaled") are shown to the visitor as a toast."""
    return _read(to_rgb, value, max_side)


def read_grey(value, max_side: int | None = None) -> CleanGrey:
    """An image input's value (best: a file path, gr.Image(type="filepath", image_mode=None), so
    16-bit files arrive unconverted) -> CleanGrey in [0, 1]; 16-bit images are scaled by their own
    range. Raises gr.Error with a readable message; notes are shown as a toast."""
    return _read(to_grey, value, max_side)


def _read(convert, value, max_side):
    try:
        clean = convert(value) if max_side is None else convert(value, max_side=max_side)
    except BadImage as exc:
        raise gr.Error(str(exc)) from None
    for note in clean.notes:
        gr.Info(note)
    return clean


_OUR_CODE = (str(REPO_ROOT / "papers") + os.sep, str(REPO_ROOT / "demos") + os.sep)
_SERVER_PATHS = sorted({str(REPO_ROOT), str(Path.home())}, key=len, reverse=True)


def _raised_by_our_code(exc: BaseException) -> bool:
    """Whether the innermost frame that raised `exc` is in papers/ or demos/ (where a ValueError
    is how the code refuses an input), not in a library (where it is a bug or a crash)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OUR_CODE)


def scrub_paths(message: str) -> str:
    """Remove absolute server paths from a message meant for a visitor."""
    for prefix in _SERVER_PATHS:
        short = "~" if prefix == str(Path.home()) else "."
        message = message.replace(prefix + os.sep, "" if short == "." else short + os.sep).replace(prefix, short)
    return re.sub(r"(?<![\w.~:/])/(?:[\w.-]+/)+([\w.-]+)", r"\1", message)  # any other absolute path -> its name


def visitor_message(exc: BaseException) -> str | None:
    """The message to show for an error a visitor can cause (bad image or parameters, missing
    weights), or None for anything else (a bug or a crash: logged, shown generically)."""
    if isinstance(exc, gr.Error):
        return None if exc.message is None else scrub_paths(str(exc.message))
    if isinstance(exc, (BadImage, WeightsUnavailable)):
        return scrub_paths(str(exc))
    if isinstance(exc, ValueError) and _raised_by_our_code(exc):
        return scrub_paths(str(exc))
    return None


def friendly_errors(fn):
    """Turn the errors a visitor can cause into messages instead of tracebacks; log everything
    else with its traceback and show a generic failure (no internals, no server paths).

    Works for plain handlers and for generator handlers (streaming)."""

    def translate(exc: Exception) -> gr.Error:
        message = visitor_message(exc)
        if message is not None:
            if isinstance(exc, gr.Error):
                exc.message = message
                return exc
            return gr.Error(message)
        log.error("%s failed", getattr(fn, "__qualname__", fn), exc_info=exc)
        return gr.Error(GENERIC_FAILURE)

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


def device_note(gpu_allows: str) -> str:
    """One short line for a tab: the device its models run on, and what a GPU allows there
    (the defaults come from `papers.checkpoints.budget`)."""
    device = get_device().type
    if device == "cuda":
        return f"Running on a **GPU (CUDA)**, so this tab allows {gpu_allows}."
    return f"Running on the **{device.upper()}**. On a GPU (or a ZeroGPU Space) this tab allows {gpu_allows}."


def weights_note_zh(ckpt: Checkpoint, adds: str) -> str:
    """weights_note in Chinese (`adds` written in Chinese); pair them with demos.i18n.localized."""
    from papers.checkpoints import display_dir, local_dirs

    if is_available_locally(ckpt):
        return f"**{ckpt.name}** 权重：已在本地找到（{ckpt.size_text()}）。"
    where = " 或 ".join(display_dir(d) for d in local_dirs()[:-1])
    where = where.replace("the app's weights/ folder", "应用的 weights/ 文件夹")
    how = [f"联网（权重来自 Hugging Face Hub：{ckpt.hub_repo()}/{ckpt.hub_filename or ckpt.filename}）"]
    how.append(f"下载 <{ckpt.upstream_url}>，按原文件名放入 {where}" if ckpt.upstream_url
               else f"把 {ckpt.filename} 放入 {where}")
    if ckpt.reproduce:
        how.append(f"用 `{ckpt.reproduce}` 自行训练得到")
    return (f"**{ckpt.name}** 权重（{ckpt.size_text()}，{ckpt.license}）可以带来：{adds}。"
            f"联网时首次使用会自动下载；离线时可以：" + "；或".join(how) + "。")


def device_note_zh(gpu_allows: str) -> str:
    """device_note in Chinese (`gpu_allows` written in Chinese)."""
    device = get_device().type
    if device == "cuda":
        return f"正在 **GPU（CUDA）** 上运行，因此本页允许{gpu_allows}。"
    return f"正在 **{device.upper()}** 上运行。在 GPU（或 ZeroGPU Space）上，本页允许{gpu_allows}。"


def header(title: str, paper_url: str, intro: str) -> None:
    from demos.i18n import localized, t

    gr.Markdown(t(title), elem_classes="pg-tab-title")  # each one translated value (demos/i18n.py)
    gr.Markdown(localized(f"[Read the paper]({paper_url})", f"[阅读论文]({paper_url})"))
    gr.Markdown(intro)


def on_tab_open(fn, outputs, inputs=None) -> None:
    """Fill `outputs` with fn(*inputs) when a visitor opens this tab — when they select it (a
    ?tab= deep link selects it too) or when it is served alone — never for every tab on every
    page open, and never at start-up. Call it inside a tab's build()."""
    from gradio.context import Context

    inputs, outputs = list(inputs or []), list(outputs)
    tab = enclosing_tab(Context.block)
    if tab is None:  # served alone: the page is this tab
        Context.root_block.load(fn, inputs, outputs, api_visibility="private", show_progress="hidden")
        return
    tab.select(fn, inputs, outputs, api_visibility="private", show_progress="hidden")


def enclosing_tab(block):
    """The gr.Tab that `block` is built in; None when its demo is served alone."""
    while block is not None and not isinstance(block, gr.Tab):
        block = getattr(block, "parent", None)
    return block




def comparison_table_zh(slug: str, claim_ids: list[str], statements: dict[str, str],
                        labels: dict[str, str] | None = None) -> str:
    """papers.results.comparison_table in Chinese: statements[claim_id] is the claim with its
    metric in Chinese, labels[baseline key] a baseline's Chinese name; the figures come from
    results/ as in English (papers.results.figure), with "(N seeds)" in Chinese."""
    from demos.i18n import zh_figure
    from papers.results import claim, figure, load, paper_figure

    if not load(slug):
        return f"_还没有结果：请运行 `python -m papers.reproduce {slug}`。_"
    rows = ["| 结论 | 本实现 | 基线 | 论文 |", "| --- | --- | --- | --- |"]
    for cid in claim_ids:
        found = claim(slug, cid)
        if not found:
            continue
        names = {**(found.get("labels") or {}), **(labels or {})}
        base = "；".join(f"{names.get(k, k)}：{zh_figure(figure(slug, cid, k))}" for k in found["baselines"]) or "—"
        paper = paper_figure(slug, cid)
        where = (found.get("paper") or {}).get("where") or ""
        if paper and where:
            paper += f"（{where}）"
        elif where == "not in the paper":
            paper = "论文中没有"
        rows.append(f"| {statements.get(cid, found['statement'])} | {zh_figure(figure(slug, cid))} | {base} | {paper or '—'} |")
    return "\n".join(rows)


def cjk_markdown(text: str) -> str:
    """Chinese Markdown without soft line breaks inside paragraphs (a browser shows each as a space
    between characters); table rows, headings and list items keep their own lines."""
    lines = text.split("\n")
    out = lines[:1]
    for line in lines[1:]:
        before, after = out[-1], line
        block = lambda s: s.lstrip().startswith(("|", "#", "- ", "* ", "> ")) or bool(re.match(r"\s*\d+\. ", s))
        if not before.strip() or not after.strip() or block(before) or block(after):
            out.append(line)
            continue
        latin = any(c.isascii() and c.isalnum() for c in (before[-1], after[0]))
        out[-1] = before + (" " if latin else "") + after
    return "\n".join(out)
