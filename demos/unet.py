"""U-Net tab: segment cells with overlap-tiling, see the weight map and elastic deformations,
and fine-tune for a few seconds."""
from __future__ import annotations

import colorsys
import copy
import time

import cv2
import gradio as gr
import numpy as np
import pandas as pd

from demos.common import heavy_id, example_paths, friendly_errors, header, read_grey, weights_note
from papers import unet
from papers.checkpoints import budget, gpu
from demos.common import device_note
from papers.results import claim, comparison_table, value


def _versus(claim_id: str) -> str:
    """'ahead of' / 'behind' for the U-Net against Otsu + watershed, from results/unet.json."""
    ours, theirs = value(SLUG, claim_id), value(SLUG, claim_id, "otsu_watershed")
    if ours is None or theirs is None:
        return "not yet compared with"
    return "ahead of" if ours > theirs else "behind"


def _weight_map_effect() -> str:
    """Whether the weight map's effect on instance F1 exceeds the spread over seeds."""
    found = claim(SLUG, "weight_map_f1")
    if not found:
        return "an amount not measured yet"
    ours, without = found["ours"], found["baselines"]["no_weight_map"]
    spread = max(ours["sd"], without["sd"])
    return "less than the spread over seeds" if abs(ours["mean"] - without["mean"]) < spread else (
        "more than the spread over seeds (" + ("up" if ours["mean"] > without["mean"] else "down") + ")")


SLUG = "unet"
TITLE = "U-Net"
PAPER_URL = "https://arxiv.org/abs/1505.04597"
INTRO = f"""Ronneberger, Fischer & Brox (2015) segment microscopy images with a network of **valid**
3×3 convolutions, a contracting and an expanding path joined by *copy-and-crop* skips. Because the
output is smaller than the input, any image is segmented by **overlap-tiling** with mirrored borders,
and touching cells are kept apart by a **weight map** (Eq. 2) that makes the thin gaps between
cells expensive. The model here (0.49 M parameters, the paper's architecture at 1/8 width) was
trained on procedurally generated microscopy with many touching cells; the real images
(scikit-image's `cell`, `coins`) show honestly how far that transfers.

Measured (`python -m papers.reproduce unet`; U-Net first, the baseline beside it):

{comparison_table(SLUG, ["synthetic_iou", "synthetic_f1", "synthetic_recall", "synthetic_count_error",
                         "u2os_f1", "u2os_recall", "weight_map_f1", "weight_map_iou"])}

Foreground IoU hides merged cells: a merge covers both cells' pixels but counts as a miss of both
in instance recall and F1 (a match needs IoU > 0.5). In instance F1 the U-Net is
{_versus("synthetic_f1")} the classical Otsu + distance-transform watershed on the synthetic
cells, and {_versus("u2os_f1")} it on real U2OS nuclei (a kind of image it never saw; unlabelled
border nuclei count against both). Trained briefly from scratch, the Eq. 2 weight map changes
instance F1 by {_weight_map_effect()}."""

MAX_SIDE = 1024
MAX_INSTANCES_LISTED = 60
MAX_TRAIN_S = 120  # the fine-tuning budget's cap, also via the API
TRAIN = {"cpu": dict(seconds=(5, 60, 15), batch=2), "gpu": dict(seconds=(5, MAX_TRAIN_S, 30), batch=8)}


def train_settings() -> dict:
    """Fine-tuning slider (min, max, default seconds) and batch: larger on a GPU."""
    return budget(**TRAIN)


EXAMPLES = example_paths("synthetic_cells.png", "coins.png", "cell.png")


def _heatmap(values: np.ndarray, top: float | None = None) -> np.ndarray:
    scaled = np.clip(values / (top or max(float(values.max()), 1e-6)), 0, 1)
    return cv2.cvtColor(cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO),
                        cv2.COLOR_BGR2RGB)


def _instance_colours(count: int = MAX_INSTANCES_LISTED) -> dict[str, str]:
    """Neighbouring cell numbers get far-apart hues (golden-ratio steps), so touching cells differ."""
    colours = {}
    for n in range(1, count + 1):
        r, g, b = colorsys.hsv_to_rgb((n * 0.618034) % 1.0, 0.85, 0.95)
        colours[f"cell {n}"] = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
    return colours


def _annotations(rgb: np.ndarray, instances: np.ndarray):
    """AnnotatedImage value: one coloured mask per separated cell."""
    ids = [i for i in np.unique(instances) if i > 0]
    masks = [((instances == i).astype(np.float32), f"cell {n}") for n, i in enumerate(ids[:MAX_INSTANCES_LISTED], 1)]
    if len(ids) > MAX_INSTANCES_LISTED:
        masks.append((np.isin(instances, ids[MAX_INSTANCES_LISTED:]).astype(np.float32), "more cells"))
    return rgb, masks


def _grey(image, invert: bool) -> tuple[np.ndarray, np.ndarray]:
    """(RGB to draw on, grey in [0, 1]). The input is the uploaded file itself, so a 16-bit TIFF/PNG
    keeps its samples and is scaled by its own range (gr.Image(type="numpy") would squash it)."""
    clean = read_grey(image, max_side=MAX_SIDE)
    return clean.rgb, (1.0 - clean.grey if invert else clean.grey)


def _summary(result: unet.Segmentation, seconds: float, shape, tiles: int) -> str:
    return (f"**{result.count} cells** found · {shape[1]}×{shape[0]} px in {tiles} tile(s) · "
            f"{seconds * 1000:.0f} ms on {unet.get_device().type.upper()}")


@gpu(duration=60)
@friendly_errors
def segment(image, threshold: float, invert: bool, progress=gr.Progress()):
    rgb, grey = _grey(image, invert)
    model = unet.pretrained()
    _, corners = unet.tile_grid(*grey.shape, unet.TRAIN_TILE, model.config.depth)
    start = time.perf_counter()
    result = unet.segment(model, grey, float(np.clip(threshold, 0.01, 0.99)),
                          progress=lambda done, total: progress(done / total, desc=f"tile {done}/{total}"))
    seconds = time.perf_counter() - start
    return _annotations(rgb, result.instances), _heatmap(result.probability, 1.0), _summary(result, seconds, grey.shape, len(corners))


@friendly_errors
def show_weight_map(seed: float, w0: float, sigma: float):
    rng = np.random.default_rng(int(seed) % 2**32 if np.isfinite(seed) else 0)
    image, instances = unet.synthetic_cells(256, rng)
    weights = unet.weight_map(instances, w0=float(np.clip(w0, 0, 100)), sigma=float(np.clip(sigma, 0.5, 50)))
    target = unet.separation_target(instances)
    rgb = (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)
    return (rgb, _heatmap(target.astype(np.float32), 1.0), _heatmap(weights),
            f"{instances.max()} cells · weights from {weights.min():.2f} to {weights.max():.2f} "
            f"(mean {weights.mean():.2f}): the bright lines are the gaps between touching cells.")


@friendly_errors
def show_elastic(seed: float, sigma: float):
    rng = np.random.default_rng(int(seed) % 2**32 if np.isfinite(seed) else 0)
    image, _ = unet.synthetic_cells(256, np.random.default_rng(7))
    rgb = (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)
    rgb[::32, :] = (80, 200, 255)  # a grid makes the smooth warp visible
    rgb[:, ::32] = (80, 200, 255)
    field = unet.elastic_displacement(256, 256, sigma=float(np.clip(sigma, 0, 40)), rng=rng)
    return rgb, unet.elastic_deform(rgb, field)


@gpu(budget=("seconds", MAX_TRAIN_S))
@friendly_errors
def train_a_little(image, seconds: float, use_weight_map: bool, invert: bool):
    """Fine-tune a copy of the shipped model on fresh synthetic tiles; stream the loss."""
    rgb, grey = _grey(image, invert)
    model = copy.deepcopy(unet.pretrained())
    budget = float(np.clip(seconds, 2, MAX_TRAIN_S))
    history = []
    for record in unet.train_steps(model, seconds=budget, seed=int(time.time()), use_weight_map=use_weight_map, batch=train_settings()["batch"]):
        history.append(record)
        yield pd.DataFrame(history), None, f"step {record['step']} · loss {record['loss']:.4f} · {record['elapsed']:.1f} s of {budget:.0f} s"
    result = unet.segment(model, grey)
    yield (pd.DataFrame(history), _annotations(rgb, result.instances),
           f"Done: {len(history)} steps. The fine-tuned copy finds **{result.count} cells** (the shipped model is unchanged).")


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(unet.CHECKPOINT, adds="the trained cell segmenter (the weight-map and "
                                                   "deformation views below work without it)"))
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Microscopy image (8- or 16-bit PNG/TIFF)", type="filepath", image_mode=None,
                             value=EXAMPLES[0])
            threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="Cell probability threshold")
            invert = gr.Checkbox(False, label="Dark cells on a bright background (invert)")
            run = gr.Button("Segment", variant="primary")
            gr.Examples(EXAMPLES, inputs=image)
        with gr.Column():
            overlay = gr.AnnotatedImage(label="Separated cells", color_map=_instance_colours())
            summary = gr.Markdown()
            probability = gr.Image(label="P(cell) — the thin dark lines are the learnt separations", type="numpy")
    run.click(segment, [image, threshold, invert], [overlay, probability, summary], api_name="unet_segment")

    with gr.Accordion("The weight map (Eq. 2): why touching cells come apart", open=False):
        with gr.Row():
            seed = gr.Number(0, label="Sample", precision=0)
            w0 = gr.Slider(0, 30, value=unet.W0, step=1, label="w₀")
            sigma = gr.Slider(1, 20, value=unet.SIGMA, step=0.5, label="σ (px)")
            show = gr.Button("Show")
        with gr.Row():
            sample = gr.Image(label="Synthetic sample", type="numpy")
            target = gr.Image(label="Target: borders between cells are background", type="numpy")
            wmap = gr.Image(label="w(x)", type="numpy")
        wmap_note = gr.Markdown()
        show.click(show_weight_map, [seed, w0, sigma], [sample, target, wmap, wmap_note], api_name="unet_weight_map")

    with gr.Accordion("Elastic deformation (§3.1): 3×3 random displacements, bicubic", open=False):
        with gr.Row():
            deform_seed = gr.Number(0, label="Seed", precision=0)
            deform_sigma = gr.Slider(0, 30, value=10, step=1, label="σ (px) of the coarse displacements")
            deform = gr.Button("Deform")
        with gr.Row():
            before = gr.Image(label="Before", type="numpy")
            after = gr.Image(label="After", type="numpy")
        deform.click(show_elastic, [deform_seed, deform_sigma], [before, after], api_name="unet_elastic")
        deform_sigma.release(show_elastic, [deform_seed, deform_sigma], [before, after], api_visibility="private")

    with gr.Accordion("Train a little: fine-tune a copy on fresh synthetic cells", open=False):
        with gr.Row():
            low, high, default = train_settings()["seconds"]
            budget_s = gr.Slider(low, high, value=default, step=5, label="Seconds",
                                 info=device_note(f"batches of {TRAIN['gpu']['batch']} tiles (not "
                                                  f"{TRAIN['cpu']['batch']}) for up to {MAX_TRAIN_S} s"))
            use_wmap = gr.Checkbox(True, label="Use the weight map")
            train = gr.Button("Train", variant="primary")
            stop = gr.Button("Stop")
        curve = gr.LinePlot(x="step", y="loss", label="Weighted cross-entropy (Eq. 1)", height=240)
        trained = gr.AnnotatedImage(label="Fine-tuned copy on your image", color_map=_instance_colours())
        train_note = gr.Markdown()
        event = train.click(train_a_little, [image, budget_s, use_wmap, invert], [curve, trained, train_note],
                            api_name="unet_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
        stop.click(None, None, None, cancels=[event], api_visibility="private")


def bench_default():
    return segment(EXAMPLES[0], 0.5, False, progress=lambda *a, **k: None)
