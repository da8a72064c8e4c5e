"""Recurrent STN tab: a recurrent spatial transformer reads a cluttered digit sequence, glimpse by glimpse."""
from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

import gradio as gr

from demos.common import friendly_errors, header, on_tab_open, weights_note
from papers import results, rstn
from papers.checkpoints import gpu

SLUG = "rstn"
TITLE = "Recurrent STN"
PAPER_URL = "https://arxiv.org/abs/1509.05329"
INTRO = f"""A recurrent network looks at the whole canvas and, at each of {rstn.SEQUENCE_LENGTH} steps, emits
an affine transformation θ_t; a spatial transformer cuts out the glimpse θ_t points at and a
classifier reads it. Nobody told it where the digits are: it learned to move its attention from
the digit labels alone. Type three digits (or roll a random sequence) and add clutter."""

ZOOM = 5
STEP_COLOURS = [(255, 80, 80), (80, 220, 80), (90, 150, 255)]
DEFAULTS = dict(sequence="4 7 2", clutter=rstn.CLUTTER_PIECES, seed=0)


def _parse(sequence: str) -> list[int]:
    symbols = [c for c in str(sequence or "") if not c.isspace() and c not in ",;-"]
    if len(symbols) != rstn.SEQUENCE_LENGTH or not all(c.isdigit() for c in symbols):
        raise gr.Error(f"Type exactly {rstn.SEQUENCE_LENGTH} digits, e.g. '4 7 2'.")
    return [int(c) for c in symbols]


def _overlay(canvas: np.ndarray, boxes) -> np.ndarray:
    """The canvas enlarged, with each step's attention box in its colour."""
    image = Image.fromarray((canvas * 255).astype(np.uint8)).convert("RGB")
    image = image.resize((image.width * ZOOM, image.height * ZOOM), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    for box, colour in zip(boxes, STEP_COLOURS):
        points = [tuple(p) for p in (box * ZOOM).tolist()]
        draw.line(points + [points[0]], fill=colour, width=3)
    return np.asarray(image)


def _glimpse(g) -> np.ndarray:
    pixels = (g.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(pixels).resize((112, 112), Image.NEAREST))


@gpu(duration=20)
@friendly_errors
def read(sequence, clutter, seed):
    """Compose the canvas, run the RNN-SPN: overlay, the glimpses, and what each model read."""
    clutter, seed = int(clutter), int(seed)
    if not 0 <= clutter <= 40:
        raise gr.Error("Clutter must be between 0 and 40 pieces.")
    canvas = rstn.sequence_from_labels(_parse(sequence), clutter, seed)
    out = rstn.read_sequence(canvas)
    steps = "\n".join(
        f"| {t + 1} | **{int(p.argmax())}** | {float(p.max()):.0%} |" for t, p in enumerate(out["probs"]))
    text = ("| step | read | confidence |\n|---|---|---|\n" + steps +
            f"\n\n**RNN-SPN:** {' '.join(str(int(p.argmax())) for p in out['probs'])} · "
            f"**CNN:** {' '.join(map(str, out['cnn']))} · **single STN:** {' '.join(map(str, out['single_stn']))}")
    return (_overlay(canvas[0, 0].numpy(), out["boxes_px"]), *[_glimpse(g) for g in out["glimpses"]], text)


def roll(seed):
    """A random sequence of digits and a new seed."""
    rng = random.Random(int(seed) + 1)
    return " ".join(str(rng.randrange(10)) for _ in range(rstn.SEQUENCE_LENGTH)), int(seed) + 1


def results_table() -> str:
    """% test error from results/rstn.json: the seeded comparison (each seed trains all three from
    scratch), the shipped models, and where the RNN-SPN's attention goes."""
    rows = []
    for name in rstn.MODELS:
        method = "ours" if name == "rnn_spn" else name
        ckpt = rstn.CHECKPOINTS[name]
        rows.append(f"| {rstn.LABELS[name]} | {ckpt.num_params:,} | "
                    + " | ".join(results.figure(SLUG, claim, method) for claim in
                                 ("digit_error", "sequence_error", "shipped_digit_error", "shipped_sequence_error"))
                    + f" | {rstn.PAPER_ERRORS[rstn.LABELS[name]]} |")
    attention = (f"The shipped RNN-SPN's glimpses sit **{results.figure(SLUG, 'attention_error_px', unit=' px')}** "
                 f"from the digits' centres, against {results.figure(SLUG, 'attention_error_px', 'slots', unit=' px')} "
                 "for its starting point (the centres of the thirds, where it would look without learning).")
    return ("**% test error** on 600 test sequences (ours: 40×100 canvas, 1,347 training digits, minutes of "
            "CPU, mean ± sd over seeds; paper: 100×100 MNIST sequences). Regenerate: "
            "`python -m papers.reproduce rstn`.\n\n"
            f"| model | parameters | per digit, {rstn.EXPERIMENT_STEPS} steps per seed | per sequence, "
            f"{rstn.EXPERIMENT_STEPS} steps per seed | per digit, shipped ({rstn.TRAIN_STEPS} steps; 3 test draws) "
            "| per sequence, shipped | paper, per digit |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\nAt {rstn.EXPERIMENT_STEPS} steps (the budget that fits the seeded runs on a CPU) the two "
            "baselines have barely started to learn, so that column overstates the gap; the shipped models, "
            f"trained {rstn.TRAIN_STEPS} steps, show the ranking at a fuller budget (one training seed).\n\n" + attention)


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(rstn.CHECKPOINTS["rnn_spn"], adds="the trained RNN-SPN and its baselines"))
    with gr.Row():
        with gr.Column(scale=1):
            sequence = gr.Textbox(value=DEFAULTS["sequence"], label=f"{rstn.SEQUENCE_LENGTH} digits to write")
            clutter = gr.Slider(0, 40, step=1, value=DEFAULTS["clutter"], label="Clutter (6×6 pieces of other digits)")
            seed = gr.Number(value=DEFAULTS["seed"], precision=0, label="Handwriting / clutter seed")
            roll_button = gr.Button("Random sequence")
        with gr.Column(scale=2):
            overlay = gr.Image(label="Canvas with each step's attention (red → green → blue)")
            with gr.Row():
                glimpses = [gr.Image(label=f"Glimpse {t + 1}", height=140) for t in range(rstn.SEQUENCE_LENGTH)]
            reading = gr.Markdown()
    gr.Markdown(results_table())
    outputs = [overlay, *glimpses, reading]
    inputs = [sequence, clutter, seed]
    gr.on([c.change for c in inputs], read, inputs, outputs, api_name=f"{SLUG}_read", trigger_mode="always_last")
    on_tab_open(read, outputs, inputs)  # the default sequence, read when the tab opens
    roll_button.click(roll, seed, [sequence, seed], api_name=f"{SLUG}_roll")


def bench_default():
    return read(DEFAULTS["sequence"], DEFAULTS["clutter"], DEFAULTS["seed"])
