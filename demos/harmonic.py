"""Harmonic Networks tab: turn a digit and watch H-Net feature maps turn with it."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from PIL import Image

import gradio as gr

from demos.common import friendly_errors, header, on_tab_open, weights_note
from demos.stn import SOURCES, digit_inputs, pick_digit, source_after_drawing
from papers import harmonic, results
from papers.checkpoints import gpu
from papers.data import digits

SLUG = "harmonic"
TITLE = "Harmonic Networks"
PAPER_URL = "https://arxiv.org/abs/1612.04642"
INTRO = """An H-Net's filters are **circular harmonics** R(r)·e^{i(mφ+β)}: turning the input turns
every feature map with it and only shifts the phase of the order-m stream by m·θ. Its final
magnitudes are therefore the same at every angle. Turn the digit: the H-Net's maps (magnitudes
of the order-0 and order-1 streams) rotate along rigidly, while the plain CNN's maps (same
layout, ordinary filters) change. Both networks saw only **upright** digits in training
unless you pick the rotated-training pair."""

REGIMES = ("trained on upright digits", "trained on rotated digits")
MAP_ZOOM = 4
MAPS_SHOWN = 6
EQUIVARIANCE_ANGLES = list(range(0, 361, 10))
EQUIVARIANCE_DIGITS = 8
DEFAULTS = dict(source=SOURCES[0], index=11, angle=40, layer=1, regime=REGIMES[0])


def _mosaic(rows: list[torch.Tensor]) -> np.ndarray:
    """Rows of maps (C, h, w) -> one grey image, one shared brightness scale, 2 px gaps."""
    top = max(r.max().item() for r in rows) or 1.0
    tiles = [torch.cat([torch.nn.functional.pad(m / top, (1, 1, 1, 1), value=0.35) for m in r[:MAPS_SHOWN]], 1)
             for r in rows]
    pixels = (torch.cat(tiles, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    image = Image.fromarray(pixels).convert("RGB")
    return np.asarray(image.resize((image.width * MAP_ZOOM, image.height * MAP_ZOOM), Image.NEAREST))


def _probs(p: torch.Tensor) -> dict[str, float]:
    return {str(k): float(v) for k, v in enumerate(p)}


def _check_layer(layer) -> int:
    layer = int(layer)
    if not 1 <= layer <= len(harmonic.Config().widths):
        raise gr.Error(f"Choose a layer between 1 and {len(harmonic.Config().widths)}.")
    return layer - 1


@gpu(duration=20)
@friendly_errors
def turn(source, index, sketch, angle, layer, regime):
    """The turned digit, both networks' feature-map magnitudes, and their predictions."""
    out = harmonic.turn_and_look(pick_digit(source, index, sketch), float(angle), _check_layer(layer),
                                 upright=regime == REGIMES[0])
    zoom = (out["image"].numpy() * 255).astype(np.uint8)
    image = np.asarray(Image.fromarray(zoom).resize((168, 168), Image.NEAREST))
    return (image, _mosaic([out["hnet_maps"][0], out["hnet_maps"][1]]), _mosaic([out["cnn_maps"]]),
            _probs(out["hnet_probs"]), _probs(out["cnn_probs"]))


@gpu(duration=60)
@friendly_errors
def equivariance(layer, regime):
    """Relative equivariance error of both networks' maps at `layer` against the angle."""
    variant = "upright" if regime == REGIMES[0] else "rotated"
    images = digits("test")[0][:EQUIVARIANCE_DIGITS]
    layer = _check_layer(layer)
    rows = []
    for name, label in (("hnet", "H-Net"), ("cnn", "CNN")):
        model = harmonic.load_model(f"{name}_{variant}")
        rows += [{"angle (°)": a, "relative error": harmonic.equivariance_error(model, images, a, layer),
                  "network": label} for a in EQUIVARIANCE_ANGLES]
    return pd.DataFrame(rows)


def accuracy_frame() -> pd.DataFrame:
    """Accuracy vs angle of the four shipped models (measured when they were trained)."""
    rows = []
    for variant, ckpt in harmonic.CHECKPOINTS.items():
        label = ckpt.description
        rows += [{"angle (°)": int(a), "accuracy (%)": acc, "model": label}
                 for a, acc in ckpt.extra.get("accuracy_vs_angle", {}).items()]
    return pd.DataFrame(rows, columns=["angle (°)", "accuracy (%)", "model"])


HEADLINE = "upright_trained_rotated_error"
CLAIMS = [HEADLINE, "rotated_trained_rotated_error", "shipped_upright_rotated_error",
          "shipped_rotated_rotated_error", "shipped_quarter_turn_accuracy"]


def _verdict(claim_id: str) -> str:
    """Whether the H-Net-vs-CNN gap of a seeded claim exceeds the sum of the two seed spreads."""
    found = results.claim(SLUG, claim_id)
    if not found:
        return ""
    ours, cnn = found["ours"], found["baselines"]["cnn"]
    gap, noise = cnn["mean"] - ours["mean"], ours["sd"] + cnn["sd"]
    return ("H-Net better beyond the seed-to-seed spread" if gap > noise else
            "CNN better beyond the seed-to-seed spread" if -gap > noise else "within the seed-to-seed spread")


def results_table() -> str:
    """The measured claims (results/harmonic.json): headline first, the paper's figure beside."""
    fig = functools.partial(results.figure, SLUG, unit=" %")
    return (f"**Trained on upright digits, tested at random angles** (% error, each seed trains both "
            f"from scratch): H-Net **{fig(HEADLINE)}** vs CNN **{fig(HEADLINE, 'cnn')}** ({_verdict(HEADLINE)}). "
            f"Trained on rotated digits, for a third of the steps: H-Net {fig('rotated_trained_rotated_error')} "
            f"vs CNN {fig('rotated_trained_rotated_error', 'cnn')} ({_verdict('rotated_trained_rotated_error')}); "
            "the paper's H-Net on MNIST-rot: "
            f"{results.paper_figure(SLUG, 'rotated_trained_rotated_error', unit=' %', digits=2)} (12,000 training and "
            "50,000 test digits; ours: 1,347 and 450).\n\n" + results.comparison_table(SLUG, CLAIMS) +
            "\n\nA rotation-invariant network cannot tell a 6 from a 9 turned upside down, which is why "
            "the H-Net trained upright stays below the CNN at 0°; its accuracy repeats exactly every 90°. "
            "Regenerate: `python -m papers.reproduce harmonic`.")


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(harmonic.CHECKPOINTS["hnet_upright"], adds="the trained H-Net and CNN"))
    with gr.Row():
        with gr.Column(scale=1):
            source, index, sketch = digit_inputs(DEFAULTS["index"])
            angle = gr.Slider(0, 360, step=1, value=DEFAULTS["angle"], label="Turn (°, counter-clockwise)")
            layer = gr.Slider(1, len(harmonic.Config().widths), step=1, value=DEFAULTS["layer"], label="Layer")
            regime = gr.Radio(list(REGIMES), value=DEFAULTS["regime"], label="Models")
        with gr.Column(scale=2):
            with gr.Row():
                image = gr.Image(label="Input (28×28)", height=200)
                hnet_label = gr.Label(num_top_classes=3, label="H-Net prediction")
                cnn_label = gr.Label(num_top_classes=3, label="CNN prediction")
            hnet_maps = gr.Image(label=f"H-Net: |order-0 stream| (top), |order-1 stream| (bottom), "
                                       f"first {MAPS_SHOWN} channels")
            cnn_maps = gr.Image(label=f"CNN: |feature maps|, first {MAPS_SHOWN} channels")
    with gr.Row():
        gr.LinePlot(accuracy_frame(), x="angle (°)", y="accuracy (%)", color="model", height=320,
                    title="Test accuracy with every test digit turned by the angle")
        with gr.Column():
            measure = gr.Button("Measure equivariance error vs angle")
            plot = gr.LinePlot(x="angle (°)", y="relative error", color="network", height=260,
                               title="‖f(turned x) − turned f(x)‖ / ‖f(x)‖ at this layer")
    gr.Markdown(results_table())

    sketch.change(source_after_drawing, [sketch, source], source, api_visibility="private", queue=False)
    inputs, outputs = [source, index, sketch, angle, layer, regime], [image, hnet_maps, cnn_maps, hnet_label, cnn_label]
    gr.on([c.change for c in inputs], turn, inputs, outputs, api_name=f"{SLUG}_turn", trigger_mode="always_last")
    on_tab_open(turn, outputs, inputs)  # the default digit, turned when the tab opens
    measure.click(equivariance, [layer, regime], plot, api_name=f"{SLUG}_equivariance")


def bench_default():
    d = DEFAULTS
    return turn(d["source"], d["index"], None, d["angle"], d["layer"], d["regime"])
