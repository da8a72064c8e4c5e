"""Xception tab: classify at 299×299, measure the Inception hypothesis, look at separable filters."""
from __future__ import annotations

import functools

import gradio as gr
import pandas as pd

from demos.common import heavy_id, example_paths, friendly_errors, header, read_image, weights_note
from papers import xception as X
from papers.checkpoints import WeightsUnavailable, get_device, gpu

SLUG = "xception"
TITLE = "Xception"
PAPER_URL = "https://arxiv.org/abs/1610.02357"
INTRO = """Chollet's **Inception hypothesis**: let a layer find spatial patterns and cross-channel
patterns *separately*. Taken to the extreme this is a **depthwise separable convolution** — one
k×k filter per channel, then a 1×1 convolution that mixes channels, no ReLU in between. Xception
has 36 convolutional layers: two regular ones in the stem, then 34 depthwise separable ones, in 14
modules of which the 12 in between have residual connections (§3, Fig. 5). Its gain is accuracy
for the parameters (Table 1, Table 3), not speed: one separable layer needs far fewer
multiply-adds than a regular one, yet the whole network needs *more* than Inception V3."""


def counts_note() -> str:
    """Xception against Inception V3, counted from the models (results/xception.json)."""
    from papers import results

    f = functools.partial(results.figure, SLUG)
    return (f"Counted here (`python -m papers.reproduce xception`): Xception has **{f('xception_params')}** parameters "
            f"(Table 3: {results.paper_figure(SLUG, 'xception_params')}) against Inception V3's "
            f"{f('inception_v3_params')}, and needs **{f('xception_macs', unit=' G')}** multiply-adds per 299×299 image "
            f"against Inception V3's **{f('inception_v3_macs', unit=' G')}**; on a CPU it takes "
            f"**{f('latency_ratio', unit='×')}** Inception V3's time per image (the paper's Table 3: "
            f"{results.paper_figure(SLUG, 'latency_ratio', '×')} its time per training step on 60 K80 GPUs). "
            "Why a separable layer saves less time than multiply-adds: measure it below.")


EXPLORER_LIMITS = {"cpu": 2_000_000_000, "cuda": 200_000_000_000}  # multiply-adds per measurement
COST_COLUMNS = ["layer", "parameters", "multiply-adds (M)", "latency (ms)", "G multiply-adds / s"]


def _cost_table(rows: list[X.LayerCost]) -> pd.DataFrame:
    return pd.DataFrame([[r.name, r.params, round(r.macs / 1e6, 2), round(r.seconds * 1e3, 3),
                          round(r.macs_per_second / 1e9, 2)] for r in rows], columns=COST_COLUMNS)


# --------------------------------------------------------------------------- handlers
@gpu(duration=30)
@friendly_errors
def classify(image) -> dict[str, float]:
    rgb = read_image(image).rgb
    return dict(X.top_k(X.imagenet_model(), rgb, X.imagenet_categories()))


def _explain(rows: list[X.LayerCost], kernel: int, channels: int) -> str:
    regular, inception, separable, depthwise, pointwise = rows
    fewer, faster = regular.macs / separable.macs, regular.seconds / separable.seconds
    dw_macs, dw_time = depthwise.macs / separable.macs, depthwise.seconds / (depthwise.seconds + pointwise.seconds)
    speed = (f"yet runs **{1 / faster:.1f}× slower**" if faster < 1 else
             f"but runs only **{faster:.1f}× faster**" if faster < fewer else f"and runs **{faster:.1f}× faster** here")
    share = f"Its depthwise part does {dw_macs:.0%} of its multiply-adds and takes **{dw_time:.0%} of its time**"
    why = (f": per value it reads it does k² = {kernel * kernel} multiply-adds, a regular convolution "
           f"k²·C = {kernel * kernel * channels}, so it waits on memory rather than arithmetic"
           if dw_time > 1.5 * dw_macs else "")
    return (f"On **{X.device_description()}**: the depthwise separable convolution needs **{fewer:.1f}× fewer "
            f"multiply-adds** than the regular one and {regular.params / separable.params:.1f}× fewer parameters, "
            f"{speed}. {share}{why} ({depthwise.macs_per_second / 1e9:.2f} G multiply-adds/s against "
            f"{regular.macs_per_second / 1e9:.2f} for the regular convolution). Latencies are medians of layers run "
            "in turns on this machine and vary with its load.")


@gpu(duration=60)
@friendly_errors
def measure(channels, kernel, size):
    channels, kernel, size = int(channels), int(kernel), int(size)
    if not (X.INCEPTION_SEGMENTS <= channels <= 1024 and 1 <= kernel <= 9 and kernel % 2 and 2 <= size <= 224):
        raise gr.Error("Choose channels 3–1024 (a multiple of 3), an odd kernel 1–9 and a size 2–224.")
    rows = X.explore(channels, kernel, size, max_macs=EXPLORER_LIMITS.get(get_device().type))
    return _cost_table(rows), _explain(rows, kernel, channels)


@gpu(duration=120)
@friendly_errors
def time_networks():
    yield None, f"Building both networks and timing them on {X.device_description()} (a few seconds on a CPU)…"
    rows = X.whole_networks()
    xception, inception = rows
    note = (f"Xception has {xception.params / inception.params:.2f}× the parameters and "
            f"{xception.macs / inception.macs:.2f}× the multiply-adds of Inception V3 here, and takes "
            f"**{xception.seconds / inception.seconds:.2f}× its time** on {X.device_description()}. The paper's "
            "Table 3 trains Xception at fewer steps per second than Inception V3 on 60 K80 GPUs. Random weights: "
            "the time does not depend on them.")
    yield _cost_table(rows), note


@gpu(duration=30)
@friendly_errors
def filters():
    try:
        model = X.imagenet_model()
    except WeightsUnavailable as exc:
        sizes = X.first_block_sizes(X.Xception())
        return None, None, _sizes_text(sizes) + f"\n\nThe trained filters need the ImageNet weights. {exc}"
    return X.depthwise_image(model), X.pointwise_image(model), _sizes_text(X.first_block_sizes(model))


def _sizes_text(s: dict[str, int]) -> str:
    return (f"The first separable convolution maps {s['in']} → {s['out']} channels with {s['depthwise']:,} depthwise "
            f"weights ({s['in']} filters of {s['kernel']}×{s['kernel']}) and {s['pointwise']:,} pointwise weights "
            f"({s['out']}×{s['in']}); a regular {s['kernel']}×{s['kernel']} convolution would need {s['regular']:,}.")


def bench_default():
    return measure(192, 3, 28)


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(counts_note())
    with gr.Tabs():
        _explorer()
        _classifier()


def _explorer() -> None:
    with gr.Tab("The Inception hypothesis, measured"):
        gr.Markdown("One layer mapping C channels to C channels, three ways (Fig. 1–4 of the paper): a regular "
                    "convolution (space and channels jointly), the Inception-style module rewritten as in Fig. 3 "
                    "(a 1×1 convolution, then k×k convolutions over 3 separate channel segments) and Xception's "
                    "depthwise separable convolution (one k×k filter per channel, then 1×1).")
        with gr.Row():
            channels = gr.Slider(24, 768, value=192, step=24, label="channels C")
            kernel = gr.Slider(1, 9, value=3, step=2, label="kernel size k")
            size = gr.Slider(4, 112, value=28, step=4, label="feature-map size (pixels)")
        run = gr.Button("Measure", variant="primary")
        table = gr.Dataframe(headers=COST_COLUMNS, label="cost on this device", interactive=False)
        explanation = gr.Markdown()
        run.click(measure, [channels, kernel, size], [table, explanation], api_name=f"{SLUG}_measure",
                  concurrency_id=heavy_id(SLUG), concurrency_limit=1)
        gr.Markdown("### The whole network\nXception against the Inception V3 it was compared with, both at 299×299.")
        networks = gr.Button("Time both networks")
        networks_table = gr.Dataframe(headers=COST_COLUMNS, label="whole networks", interactive=False)
        networks_note = gr.Markdown()
        networks.click(time_networks, None, [networks_table, networks_note], api_name=f"{SLUG}_networks",
                       concurrency_id=heavy_id(SLUG), concurrency_limit=1)



def _classifier() -> None:
    with gr.Tab("Classify (ImageNet weights)"):
        gr.Markdown(weights_note(X.IMAGENET, adds="ImageNet top-5 classification at 299×299 and the trained "
                                             "filters below"))
        with gr.Row():
            image = gr.Image(label="image", type="numpy")
            labels = gr.Label(num_top_classes=5, label="top-5 (ImageNet)")
        gr.Examples(example_paths("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg"), inputs=image)
        go = gr.Button("Classify", variant="primary")
        go.click(classify, image, labels, api_name=f"{SLUG}_classify")
        gr.Markdown("### The first separable block's filters\nLeft: 64 depthwise 3×3 filters, one per input channel "
                    "(spatial patterns). Right: the 128×64 pointwise matrix (how channels are mixed). "
                    "Red positive, blue negative.")
        show = gr.Button("Show filters")
        with gr.Row():
            depthwise = gr.Image(label="depthwise filters", interactive=False)
            pointwise = gr.Image(label="pointwise weights (out × in)", interactive=False)
        sizes = gr.Markdown()
        show.click(filters, None, [depthwise, pointwise, sizes], api_name=f"{SLUG}_filters")
