"""Gatys, Ecker & Bethge: neural style transfer and texture synthesis, streamed step by step."""
from __future__ import annotations

import math

import gradio as gr
import pandas as pd

from demos.common import bounded_seconds, heavy_id, example_paths, friendly_errors, header, read_image, weights_note
from demos.common import device_note
from papers import style_transfer as st
from papers.results import figure
from papers.checkpoints import budget, get_device, gpu

SLUG = "style-transfer"
TITLE = "Gatys style transfer"
PAPER_URL = "https://arxiv.org/abs/1508.06576"
INTRO = f"""An image is **optimised pixel by pixel** so that its deep VGG-19 features match a
*content* photo (layer conv4_2) while the **Gram matrices** (feature correlations) of
conv1_1…conv5_1 match a *style* image: L = α·L_content + β·L_style. The ratio α/β trades
content for style (the paper uses 10⁻³…10⁻⁴); with α = 0 it is pure **texture synthesis**.
Watch the image and both losses change as the optimiser runs; **Stop** keeps what you have.

*Offline:* without the ImageNet VGG-19 weights (about 575 MB) the tab still synthesises
textures with a **random-weight multi-scale network** (Ustyuzhaninov et al. 2017) — a labelled
substitute, clearly worse than VGG-19 and unable to do content transfer. It does match the Gram
matrices it is given: {st.TEXTURE_STEPS} L-BFGS forward/backward passes from white noise bring the style loss against
a brick patch {figure(SLUG, "offline_texture_style_loss", unit="×")} below the noise's, further
than another patch of the same wall gets ({figure(SLUG, "offline_texture_style_loss", "same_wall", unit="×")};
a grass photo: {figure(SLUG, "offline_texture_style_loss", "grass", unit="×")})
(`python -m papers.reproduce style-transfer`)."""

VGG, RANDOM = "VGG-19, ImageNet (the paper's)", "Random multi-scale network (offline, texture only)"
LOG_RATIO = (-6.0, 0.0, -3.0)  # slider over log10(α/β): min, max, default
STREAM_EVERY = 2
SIZE = (64, 1024, 256)
STEPS = (1, 1000, 100)
GPU_DEFAULTS = (512, 300, 120)  # size (px), steps, seconds with a GPU: the paper's figures are 512 px
BUDGET_S = (5, 180, 60)  # min, max, default seconds: a shared 2-core CPU must not be held for 10 min


def defaults() -> tuple[int, int, int]:
    """(size, steps, time budget) the tab starts with: larger on a GPU."""
    return budget(cpu=(SIZE[2], STEPS[2], BUDGET_S[2]), gpu=GPU_DEFAULTS)


def _network(choice: str, pooling: str):
    if choice == VGG:
        return st.vgg19(pooling)  # raises WeightsUnavailable with how to get them
    return st.random_multiscale()


def _loss_frame(history: list[st.Progress], texture_only: bool) -> pd.DataFrame:
    rows = [{"step": p.step, "loss": p.style_loss, "term": "style L_style"} for p in history]
    if not texture_only:
        rows += [{"step": p.step, "loss": p.content_loss, "term": "content L_content"} for p in history]
    frame = pd.DataFrame(rows, columns=["step", "loss", "term"])
    frame["loss"] = frame["loss"].map(lambda v: math.log10(max(v, 1e-12)))  # log10 for readability
    return frame


@gpu(budget=("budget_s", BUDGET_S[1]))
@friendly_errors
def run(content, style, network_choice, log_ratio, texture_only, size, steps, optimiser, init,
        pooling, preserve_colour, budget_s):
    """Stream (image, loss curves, status, before/after slider)."""
    style_rgb = read_image(style, max_side=st.MAX_SIDE["gpu"]).rgb
    notes = []
    if network_choice == RANDOM and not texture_only:
        texture_only = True
        notes.append("The random network has no meaningful content representation, "
                     "so this is texture synthesis (α = 0).")
    content_rgb = None if texture_only else read_image(content, max_side=st.MAX_SIDE["gpu"]).rgb
    if texture_only and init == "content":
        notes.append("Texture synthesis starts from white noise.")
    config = st.StyleConfig(size=int(size), ratio=0.0 if texture_only else 10 ** float(log_ratio),
                            steps=int(steps), optimiser=optimiser, init=init, pooling=pooling,
                            preserve_colour=bool(preserve_colour) and not texture_only,
                            time_budget_s=bounded_seconds(budget_s, *BUDGET_S[:2]))
    config, size_note = st.with_size(config, get_device())
    notes += [size_note] if size_note else []
    yield gr.skip(), gr.skip(), "Loading the network…", gr.skip()
    network = _network(network_choice, pooling)
    what = "Texture synthesis" if texture_only else f"Style transfer, α/β = {config.ratio:.0e}"
    label = " — **random-weight network, not VGG-19**" if network_choice == RANDOM else ""
    history = []
    for progress in st.synthesise(content_rgb, style_rgb, config, network, stream_every=STREAM_EVERY):
        history.append(progress)
        status = (f"{what}{label}: step {progress.step}/{config.steps}, {progress.elapsed_s:.0f} s "
                  f"of {config.time_budget_s:.0f} s. " + " ".join(notes))
        if not progress.done:
            yield progress.image, _loss_frame(history, texture_only), status, gr.skip()
    before = content_rgb if content_rgb is not None else style_rgb  # what the result has the shape of
    last = history[-1]
    done = (f"{what}{label}: stopped after {last.step} steps ({last.reason}), {last.elapsed_s:.1f} s, "
            f"{last.elapsed_s / max(last.step, 1):.2f} s per step at {config.size} px. " + " ".join(notes))
    slider = (st.to_uint8(st.to_tensor(before, config.size)), last.image)
    yield last.image, _loss_frame(history, texture_only), done, slider


def bench_default() -> str:
    """The main handler at default settings (fewer steps) on shipped examples; returns the status."""
    size, _, seconds = defaults()
    *_, last = run(*example_paths("chelsea.jpg", "brick.png"), RANDOM, LOG_RATIO[2], True, size, 5,
                   "lbfgs", "content", "avg", False, seconds)
    return last[2]


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(st.VGG19_IMAGENET, adds="the paper's own network: style transfer, not only "
                                                      "textures, and much better textures"))
    with gr.Row():
        content = gr.Image(example_paths("chelsea.jpg")[0], label="Content image", type="numpy", height=260)
        style = gr.Image(example_paths("brick.png")[0], label="Style / texture image", type="numpy", height=260)
        result = gr.Image(label="Synthesised image (streams while optimising)", type="numpy", height=260,
                          interactive=False)
    with gr.Row():
        gr.Examples(example_paths("chelsea.jpg", "astronaut.jpg", "coffee.jpg"), inputs=content,
                    label="Content examples")
        gr.Examples(example_paths("brick.png", "grass.png", "gravel.png", "rocket.jpg", "coffee.jpg"),
                    inputs=style, label="Style examples (textures and photos)")
    with gr.Row():
        with gr.Column():
            network = gr.Radio([VGG, RANDOM], value=RANDOM if not st.vgg19_local() else VGG, label="Network")
            texture_only = gr.Checkbox(value=not st.vgg19_local(), label="Texture synthesis only (α = 0)")
            log_ratio = gr.Slider(*LOG_RATIO[:2], value=LOG_RATIO[2], step=0.25,
                                  label="log₁₀ content/style ratio α/β (paper: −3 … −4)")
            preserve_colour = gr.Checkbox(label="Preserve the content's colours (luminance-only transfer, "
                                                "Gatys et al. 2016b)")
        with gr.Column():
            default_size, default_steps, default_seconds = defaults()
            size = gr.Slider(*SIZE[:2], value=default_size, step=32, label="Image size (long side, px)",
                             info=f"Capped at {st.MAX_SIDE['cpu']} px on a CPU, {st.MAX_SIDE['gpu']} px on a GPU")
            steps = gr.Slider(*STEPS[:2], value=default_steps, step=1, label="Steps (forward/backward passes)")
            budget = gr.Slider(*BUDGET_S[:2], value=default_seconds, step=5, label="Time budget (seconds)",
                               info=device_note(f"{GPU_DEFAULTS[0]} px images (up to {st.MAX_SIDE['gpu']} px) "
                                                f"and {GPU_DEFAULTS[1]} steps by default, as in the paper's figures"))
        with gr.Column():
            optimiser = gr.Radio([("L-BFGS (the paper's)", "lbfgs"), ("Adam", "adam")], value="lbfgs",
                                 label="Optimiser")
            init = gr.Radio([("white noise", "noise"), ("content image", "content"), ("style image", "style")],
                            value="content", label="Start from")
            pooling = gr.Radio([("average (the paper's)", "avg"), ("max (VGG's own)", "max")], value="avg",
                               label="Pooling in VGG-19")
    with gr.Row():
        run_btn = gr.Button("Run", variant="primary")
        stop_btn = gr.Button("Stop")
    status = gr.Markdown("Pick a content and a style image (or keep the examples), then **Run**.")
    with gr.Row():
        curves = gr.LinePlot(x="step", y="loss", color="term", title="log₁₀ loss (content and style)",
                             height=260)
        compare = gr.ImageSlider(label="Before / after (drag)", type="numpy", height=260)
    event = run_btn.click(run, [content, style, network, log_ratio, texture_only, size, steps, optimiser,
                                init, pooling, preserve_colour, budget], [result, curves, status, compare],
                          api_name=f"{SLUG}_run", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[event], api_visibility="private")
