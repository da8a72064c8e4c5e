"""Spatial Transformer Networks tab: distort a digit, watch the transformer find and straighten it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw

import gradio as gr

from demos.common import friendly_errors, header, on_tab_open, read_image, weights_note
from papers import results, stn
from papers.checkpoints import gpu
from papers.data import digits, split_size

SLUG = "stn"
TITLE = "Spatial Transformer Networks"
PAPER_URL = "https://arxiv.org/abs/1506.02025"
INTRO = """A **spatial transformer** is a small network that looks at the image, predicts an affine
transformation θ, and *resamples* the image through it before a CNN classifies it — learned
with no supervision of θ. Turn, shrink, move and clutter a digit on the 60×60 canvas: the green
grid shows where the ST-CNN samples, the middle image is what its classifier sees, and a plain
CNN with the same number of parameters answers beside it."""

SOURCES = ("Test-set digit", "My drawing")
DISPLAY_ZOOM = 6  # canvas pixels -> screen pixels
GRID_STEP = 3  # draw every 3rd sampling point
DEFAULTS = dict(source=SOURCES[0], index=7, angle=35.0, scale=1.0, shift_x=8.0, shift_y=-6.0, clutter=4)


def _test_digit(index: int) -> torch.Tensor:
    images, _ = digits("test")
    if not 0 <= int(index) < len(images):
        raise gr.Error(f"Pick a test digit between 0 and {len(images) - 1}.")
    return images[int(index)]


def _drawn_digit(sketch) -> torch.Tensor:
    rgb = read_image(sketch).rgb
    grey = torch.from_numpy(rgb.astype(np.float32).mean(2) / 255.0)
    if grey.median() > 0.5:  # dark ink on a light page -> bright ink, like the data set
        grey = 1 - grey
    return stn.to_digit(grey)


def pick_digit(source, index, sketch) -> torch.Tensor:
    """The chosen digit (1, 28, 28): a test-set digit or the visitor's drawing."""
    return _drawn_digit(sketch) if source == SOURCES[1] else _test_digit(index)


def source_after_drawing(sketch, source):
    """Switch the digit source to the drawing once the visitor has drawn something."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else None
    if composite is not None and np.ptp(np.asarray(composite)) > 0:
        return SOURCES[1]
    return source


def _zoom(grey: torch.Tensor, side: int) -> Image.Image:
    pixels = (grey.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB").resize((side, side), Image.NEAREST)


def _overlay(canvas: torch.Tensor, grid_px: torch.Tensor) -> np.ndarray:
    """The canvas with the ST-CNN's sampling grid drawn over it (outline and every 3rd point)."""
    image = _zoom(canvas, canvas.shape[-1] * DISPLAY_ZOOM)
    draw = ImageDraw.Draw(image)
    screen = ((grid_px + 0.5) * DISPLAY_ZOOM).numpy()  # (H', W', 2)
    outline = np.concatenate([screen[0], screen[:, -1], screen[-1, ::-1], screen[::-1, 0]])
    draw.line([tuple(p) for p in outline] + [tuple(outline[0])], fill=(0, 220, 0), width=2)
    for x, y in screen[::GRID_STEP, ::GRID_STEP].reshape(-1, 2):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(0, 220, 0))
    draw.ellipse([*(screen[0, 0] - 4), *(screen[0, 0] + 4)], outline=(255, 80, 80), width=2)
    return np.asarray(image)


def _probs(p: torch.Tensor) -> dict[str, float]:
    return {str(k): float(v) for k, v in enumerate(p)}


def _pose_table(theta: torch.Tensor, angle, scale, shift_x, shift_y) -> str:
    learned = stn.theta_pose(theta)
    exact = {"angle": angle, "scale": scale, "shift_x": shift_x, "shift_y": shift_y}
    rows = "\n".join(f"| {name} | {exact[key]:.1f} | {learned[key]:.1f} |" for name, key in
                     [("rotation (°)", "angle"), ("scale", "scale"), ("shift x (px)", "shift_x"),
                      ("shift y (px)", "shift_y")])
    matrix = " \\\\ ".join(" & ".join(f"{v:.2f}" for v in row) for row in theta.tolist())
    return (f"**Predicted θ** $= \\begin{{bmatrix}} {matrix} \\end{{bmatrix}}$ "
            "(maps the 28×28 output grid into the canvas; the red ring marks the output's top-left pixel)\n\n"
            "| pose read from θ | your distortion | ST-CNN's θ |\n|---|---|---|\n" + rows +
            "\n\n" + _pose_note())


def _pose_note() -> str:
    """How θ follows each part of the pose, in words chosen by the measured slopes (results/stn.json)."""
    slopes = {q: results.figure(SLUG, f"theta_{q}_slope") for q in ("shift_x", "scale", "angle")}
    follows = {q: (results.value(SLUG, f"theta_{q}_slope") or 0) > 0.5 for q in ("shift_x", "scale", "angle")}
    found = ("finds and zooms onto the digit" if follows["shift_x"] and follows["scale"]
             else "follows the digit's position and size only partly")
    rotation = ("also turns its grid with the digit, as in the paper (§4.1, Fig. 3)" if follows["angle"] else
                "leaves most of the **rotation** to its classifier: with 1,347 training digits and minutes of "
                "CPU it did not learn the paper's de-rotation (§4.1, Fig. 3)")
    return (f"Slope of the pose read from θ against the true one over test digits (1 = follows exactly): "
            f"shift {slopes['shift_x']}, scale {slopes['scale']}, rotation {slopes['angle']}. Our ST-CNN "
            f"{found} {'and' if follows['angle'] else 'but'} {rotation}. Sweep below.")


@gpu(duration=20)
@friendly_errors
def analyse(source, index, sketch, angle, scale, shift_x, shift_y, clutter):
    """Compose the canvas, run both networks; the overlay, glimpse, predictions and pose table."""
    digit = pick_digit(source, index, sketch)
    canvas = stn.compose(digit, angle, scale, shift_x, shift_y, int(clutter), seed=int(index))
    out = stn.analyse(canvas)
    return (_overlay(canvas[0, 0], out["grid_px"]), np.asarray(_zoom(out["rectified"], 168)),
            _probs(out["st_cnn_probs"]), _probs(out["cnn_probs"]),
            _pose_table(out["theta"], angle, scale, shift_x, shift_y))


SWEEPS = {  # what to vary -> (its values, position in an (angle, scale, shift_x, shift_y) placement)
    "rotation (°)": (list(range(-180, 181, 15)), 0),
    "scale": ([round(0.5 + 0.05 * i, 2) for i in range(21)], 1),
    "shift right (px)": (list(range(-16, 17, 2)), 2),
}


@gpu(duration=30)
@friendly_errors
def sweep(source, index, sketch, quantity, angle, scale, shift_x, shift_y):
    """Vary one slider through its range; the same quantity read back from the ST-CNN's θ."""
    if quantity not in SWEEPS:
        raise gr.Error(f"Choose one of: {', '.join(SWEEPS)}.")
    values, position = SWEEPS[quantity]
    placements = []
    for value in values:
        placement = [angle, scale, shift_x, shift_y]
        placement[position] = value
        placements.append(placement)
    poses = stn.theta_sweep(pick_digit(source, index, sketch), placements)
    key = ("angle", "scale", "shift_x")[position]
    rows = [{"input": v, "value": v, "series": "your distortion"} for v in values]
    rows += [{"input": v, "value": p[key], "series": "read from the ST-CNN's θ"} for v, p in zip(values, poses)]
    return pd.DataFrame(rows)


def error_table() -> str:
    """% test error per distortion from results/stn.json: the seeded comparison (mean ± sd over
    seeds, each training both models from scratch), the shipped models, and the paper's Table 1."""
    head = "| | " + " | ".join(stn.DISTORTIONS) + " |\n|---|" + "---|" * len(stn.DISTORTIONS)

    def row(label, ids, method):
        return f"| {label} | " + " | ".join(results.figure(SLUG, ids[k], method) for k in stn.DISTORTIONS) + " |"

    rows = [row(f"ST-CNN Aff, {stn.EXPERIMENT_STEPS} steps per seed", stn.CLAIM_IDS, "ours"),
            row(f"CNN, {stn.EXPERIMENT_STEPS} steps per seed", stn.CLAIM_IDS, "cnn"),
            row(f"shipped ST-CNN Aff ({stn.TRAIN_STEPS} steps), 3 test draws", stn.SHIPPED_CLAIM_IDS, "ours"),
            row(f"shipped CNN ({stn.TRAIN_STEPS} steps), 3 test draws", stn.SHIPPED_CLAIM_IDS, "cnn")]
    rows += [f"| {label} (paper, MNIST) | " + " | ".join(
        f"{row[k]:.1f}" if k in row else "–" for k in stn.DISTORTIONS) + " |"
        for label, row in stn.PAPER_TABLE1.items()]
    verdicts = []
    for kind in stn.DISTORTIONS:
        claim = results.claim(SLUG, stn.CLAIM_IDS[kind])
        if not claim:
            continue
        ours, cnn = claim["ours"], claim["baselines"]["cnn"]
        gap, noise = cnn["mean"] - ours["mean"], ours["sd"] + cnn["sd"]
        verdicts.append(f"{kind}: " + ("ST-CNN better" if gap > noise else "CNN better" if -gap > noise
                                       else "no difference beyond the seed-to-seed spread"))
    return ("**% test error per distortion** (ours: one model for all five distortions, 1,347 training "
            "digits, minutes of CPU, mean ± sd over seeds; paper: one model per distortion, 60,000 MNIST "
            "digits). Regenerate: `python -m papers.reproduce stn`.\n\n" + "\n".join([head, *rows]) +
            "\n\nSeeded comparison (each seed trains both models from scratch), difference of the means "
            "against the sum of the two spreads: " + "; ".join(verdicts) + ". The shipped rows are one "
            "training run each; their ± is over three draws of the test distortions only, so a gap there "
            "says nothing about training noise.")


def digit_inputs(index: int):
    """The digit picker both geometry tabs share: test digit or drawing, a test-set index, a Sketchpad."""
    source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Digit")
    index = gr.Slider(0, split_size("test") - 1, step=1, value=index, label="Test-set digit #")
    sketch = gr.Sketchpad(label="Or draw one (then choose 'My drawing')", type="numpy",
                          canvas_size=(280, 280), image_mode="RGB", height=320)
    return source, index, sketch


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(stn.CHECKPOINTS["st_cnn"], adds="the trained ST-CNN and its CNN baseline"))
    with gr.Row():
        with gr.Column(scale=1):
            source, index, sketch = digit_inputs(DEFAULTS["index"])
            angle = gr.Slider(-180, 180, step=1, value=DEFAULTS["angle"], label="Rotation (°, counter-clockwise)")
            scale = gr.Slider(0.5, 1.5, step=0.05, value=DEFAULTS["scale"], label="Scale")
            shift_x = gr.Slider(-16, 16, step=1, value=DEFAULTS["shift_x"], label="Shift right (px)")
            shift_y = gr.Slider(-16, 16, step=1, value=DEFAULTS["shift_y"], label="Shift down (px)")
            clutter = gr.Slider(0, 12, step=1, value=DEFAULTS["clutter"], label="Clutter (6×6 pieces of other digits)")
        with gr.Column(scale=2):
            with gr.Row():
                overlay = gr.Image(label="60×60 input + ST-CNN sampling grid", height=380)
                rectified = gr.Image(label="What the classifier sees (28×28)", height=200)
            with gr.Row():
                st_label = gr.Label(num_top_classes=3, label="ST-CNN prediction")
                cnn_label = gr.Label(num_top_classes=3, label="Plain CNN prediction (same parameter count)")
            pose = gr.Markdown(latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    with gr.Row():
        quantity = gr.Radio(list(SWEEPS), value="shift right (px)", label="Sweep one distortion", scale=2)
        sweep_button = gr.Button("Sweep: does θ follow it?", scale=1)
    sweep_plot = gr.LinePlot(x="input", y="value", color="series", height=300,
                             title="The distortion you set vs. the same quantity read from θ")
    gr.Markdown(error_table())

    inputs = [source, index, sketch, angle, scale, shift_x, shift_y, clutter]
    outputs = [overlay, rectified, st_label, cnn_label, pose]
    sketch.change(source_after_drawing, [sketch, source], source, api_visibility="private", queue=False)
    gr.on([c.change for c in inputs], analyse, inputs, outputs, api_name=f"{SLUG}_analyse", trigger_mode="always_last")
    on_tab_open(analyse, outputs, inputs)  # the default digit, analysed when the tab opens
    sweep_button.click(sweep, [source, index, sketch, quantity, angle, scale, shift_x, shift_y], sweep_plot,
                       api_name=f"{SLUG}_sweep")


def bench_default():
    d = DEFAULTS
    return analyse(d["source"], d["index"], None, d["angle"], d["scale"], d["shift_x"], d["shift_y"], d["clutter"])
