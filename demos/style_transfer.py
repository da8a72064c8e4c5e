"""Gatys, Ecker & Bethge: neural style transfer and texture synthesis, streamed step by step.

The tab opens on a precomputed texture (demos/assets/style_transfer_brick.png, remade by
`python -m demos.style_transfer`): an optimisation is far too slow to run when a tab opens."""
from __future__ import annotations

import math

import gradio as gr
import numpy as np
import pandas as pd

from demos.common import (ASSETS, bounded_seconds, device_note_zh, example_paths, friendly_errors, header, heavy_id,
                          read_image, weights_note, weights_note_zh)
from demos.common import device_note
from demos.common import cjk_markdown
from demos.i18n import localized, say, t
from papers import style_transfer as st
from papers.results import figure
from demos.i18n import zh_figure
from papers.checkpoints import WeightsUnavailable, budget, get_device, gpu

SLUG = "style-transfer"
TITLE = "Gatys style transfer"
PAPER_URL = "https://arxiv.org/abs/1508.06576"
INTRO = f"""An image is **optimised pixel by pixel** so that its deep VGG-19 features match a
*content* photo (layer conv4_2) while the **Gram matrices** (feature correlations) of
conv1_1…conv5_1 match a *style* image: L = α·L_content + β·L_style. The ratio α/β trades
content for style (the paper uses 10⁻³…10⁻⁴); with α = 0 it is pure **texture synthesis**.
Watch the image and the two weighted terms α·L_content and β·L_style change as the optimiser runs
(from white noise, as in the paper); **Stop** keeps what you have. Below: the paper's Fig. 1 (what one
layer keeps) and Fig. 3 (α/β × style layers).

*Offline:* without the ImageNet VGG-19 weights (about 575 MB) the tab still synthesises
textures with a **random-weight multi-scale network** (Ustyuzhaninov et al. 2017) — a labelled
substitute, clearly worse than VGG-19 and unable to do content transfer. It does match the Gram
matrices it is given: {st.TEXTURE_STEPS} L-BFGS forward/backward passes from white noise bring the style loss against
a brick patch {figure(SLUG, "offline_texture_style_loss", unit="×")} below the noise's, further
than another patch of the same wall gets ({figure(SLUG, "offline_texture_style_loss", "same_wall", unit="×")};
a grass photo: {figure(SLUG, "offline_texture_style_loss", "grass", unit="×")})
(`python -m papers.reproduce style-transfer`)."""

INTRO_ZH = f"""把一张图像**逐像素地优化**：让它在 VGG-19 深层（conv4_2）的特征与*内容*照片一致，同时让
conv1_1…conv5_1 各层的 **Gram 矩阵**（特征之间的相关性）与*风格*图像一致：L = α·L_content + β·L_style。
α/β 的比值在内容与风格之间取舍（论文用 10⁻³…10⁻⁴）；α = 0 时就是纯粹的**纹理合成**。
优化器运行时（与论文一样从白噪声出发），可以看着图像和两个加权项 α·L_content、β·L_style 一起变化；按**停止**会保留当前结果。
下方是论文的图 1（一层保留了什么）和图 3（α/β × 风格层）。

*离线时*：没有 ImageNet 上训练的 VGG-19 权重（约 575 MB），本页仍可用一个**随机权重的多尺度网络**
（Ustyuzhaninov 等 2017）合成纹理——这是明确标注的替代品，效果明显不如 VGG-19，也做不了内容迁移。
但它确实能匹配给定的 Gram 矩阵：从白噪声出发做 {st.TEXTURE_STEPS} 次 L-BFGS 前向/反向计算后，相对砖墙纹理块的风格损失
比白噪声低 {zh_figure(figure(SLUG, "offline_texture_style_loss", unit="×"))}，
比同一面墙的另一块（{zh_figure(figure(SLUG, "offline_texture_style_loss", "same_wall", unit="×"))}）还要低；
草地照片为 {zh_figure(figure(SLUG, "offline_texture_style_loss", "grass", unit="×"))}
（`python -m papers.reproduce style-transfer`）。"""

# What the tab shows when it opens: a texture the offline network synthesised from brick.png,
# made once by `python -m demos.style_transfer` (the optimisation is far too slow for a tab open).
PRECOMPUTED = dict(style="brick.png", size=256, steps=100, init="noise", seconds=120)
PRECOMPUTED_IMAGE, PRECOMPUTED_CURVE = ASSETS / "style_transfer_brick.png", ASSETS / "style_transfer_brick.csv"

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


STYLE_TERM, CONTENT_TERM = "β·L_style (style)", "α·L_content (content)"
STYLE_TERM_ZH, CONTENT_TERM_ZH = "β·L_style（风格）", "α·L_content（内容）"


def _loss_frame(history: list[st.Progress], request=None) -> pd.DataFrame:
    """log10 of the weighted terms α·L_content and β·L_style of Eq. 7 against the step: the two
    terms as the optimiser trades them off (a term whose weight is 0 is left out)."""
    style_term, content_term = say(request, STYLE_TERM, STYLE_TERM_ZH), say(request, CONTENT_TERM, CONTENT_TERM_ZH)
    rows = []
    if history and history[-1].beta > 0:
        rows += [{"step": p.step, "loss": p.style_term, "term": style_term} for p in history]
    if history and history[-1].alpha > 0:
        rows += [{"step": p.step, "loss": p.content_term, "term": content_term} for p in history]
    frame = pd.DataFrame(rows, columns=["step", "loss", "term"])
    frame["loss"] = frame["loss"].map(lambda v: math.log10(max(v, 1e-12)))  # log10 for readability
    return frame


@gpu(budget=("budget_s", BUDGET_S[1]))
@friendly_errors
def run(content, style, network_choice, log_ratio, texture_only, size, steps, optimiser, init,
        pooling, preserve_colour, budget_s, request: gr.Request = None):
    """Stream (image, loss curves, status, before/after slider)."""
    style_rgb = read_image(style, max_side=st.MAX_SIDE["gpu"]).rgb
    notes = []
    if network_choice == RANDOM and not texture_only:
        texture_only = True
        notes.append(say(request, "The random network has no meaningful content representation, "
                                  "so this is texture synthesis (α = 0).",
                         "随机网络没有有意义的内容表示，所以这里做的是纹理合成（α = 0）。"))
    content_rgb = None if texture_only else read_image(content, max_side=st.MAX_SIDE["gpu"]).rgb
    if texture_only and init != "noise":
        notes.append(say(request, "Texture synthesis starts from white noise (from the style image it would start "
                                  "at the optimum and return the style image unchanged).",
                         "纹理合成从白噪声开始（从风格图像开始就已处在最优点，会原样返回风格图像）。"))
    config = st.StyleConfig(size=int(size), ratio=0.0 if texture_only else 10 ** float(log_ratio),
                            steps=int(steps), optimiser=optimiser, init=init, pooling=pooling,
                            preserve_colour=bool(preserve_colour) and not texture_only,
                            time_budget_s=bounded_seconds(budget_s, *BUDGET_S[:2]))
    asked = int(size)
    config, size_note = st.with_size(config, get_device())
    if size_note:
        notes.append(say(request, size_note, f"{asked} 像素在这里需要的内存太多，改用 {config.size} 像素。"))
    yield gr.skip(), gr.skip(), say(request, "Loading the network…", "正在加载网络…"), gr.skip()
    network = _network(network_choice, pooling)
    what = say(request, "Texture synthesis", "纹理合成") if texture_only else say(
        request, f"Style transfer, α/β = {config.ratio:.0e}", f"风格迁移，α/β = {config.ratio:.0e}")
    label = say(request, " — **random-weight network, not VGG-19**", "——**随机权重网络，不是 VGG-19**"
                ) if network_choice == RANDOM else ""
    history = []
    for progress in st.synthesise(content_rgb, style_rgb, config, network, stream_every=STREAM_EVERY):
        history.append(progress)
        status = say(request, f"{what}{label}: step {progress.step}/{config.steps}, {progress.elapsed_s:.0f} s "
                              f"of {config.time_budget_s:.0f} s. ",
                     f"{what}{label}：第 {progress.step}/{config.steps} 步，{progress.elapsed_s:.0f} 秒 / "
                     f"{config.time_budget_s:.0f} 秒。") + " ".join(notes)
        if not progress.done:
            yield progress.image, _loss_frame(history, request), status, gr.skip()
    before = content_rgb if content_rgb is not None else style_rgb  # what the result has the shape of
    last = history[-1]
    per_step = last.elapsed_s / max(last.step, 1)
    done = say(request, f"{what}{label}: stopped after {last.step} steps ({last.reason}), {last.elapsed_s:.1f} s, "
                        f"{per_step:.2f} s per step at {config.size} px. ",
               f"{what}{label}：{last.step} 步后停止（{_reason_zh(last.reason)}），用时 {last.elapsed_s:.1f} 秒，"
               f"{config.size} 像素下每步 {per_step:.2f} 秒。") + " ".join(notes)
    slider = (st.to_uint8(st.to_tensor(before, config.size)), last.image)
    yield last.image, _loss_frame(history, request), done, slider


# --------------------------------------------------------------------------- Fig. 1: reconstructions per layer
FIG1_CONTENT, FIG1_STYLE = "content", "style"
FIG1_STYLE_CHOICES = [(" + ".join(st.style_layer_set(d)), d) for d in st.FIG1_STYLE_DEPTHS]


def _fig1_unavailable(kind: str, what: str, request=None) -> str:
    """What Fig. 1 would show, for a visitor without the VGG-19 weights (nothing is run)."""
    head = say(request, "**Not run: this needs the ImageNet VGG-19 weights, which are not here.** The random offline "
                        "network is not VGG-19 and its reconstructions would not show the paper's finding. ",
               "**未运行：这需要 ImageNet 上训练的 VGG-19 权重，而本机没有。**离线的随机网络不是 VGG-19，"
               "它的重建显示不出论文的发现。")
    if kind == FIG1_CONTENT:
        return head + say(
            request,
            f"With VGG-19 this reconstructs the image from white noise from the responses of {what} alone "
            "(only L_content). The paper's Fig. 1 (content reconstructions a–e): from conv1_2, conv2_2 and "
            "conv3_2 the reconstruction is almost a copy of the photo; from conv4_2 and conv5_2 the arrangement of "
            "the objects stays but the exact pixels are lost: deep layers keep what is where, not how it looks.",
            f"有 VGG-19 时，这里从白噪声出发，只用 {what} 的响应（只有 L_content）重建图像。论文图 1（内容重建 a–e）："
            "用 conv1_2、conv2_2、conv3_2 重建出的几乎就是原照片；用 conv4_2 和 conv5_2 时物体的布局还在，"
            "但精确的像素丢了：深层保留的是什么东西在哪里，而不是它看起来的样子。")
    return head + say(
        request,
        f"With VGG-19 this synthesises a texture from white noise from the Gram matrices of {what} alone (only "
        "L_style). The paper's Fig. 1 (style reconstructions a–e): with conv1_1 alone a fine-grained colour "
        "texture; each added layer matches the image's style on a larger scale, while the arrangement of the "
        "scene is lost.",
        f"有 VGG-19 时，这里从白噪声出发，只用 {what} 的 Gram 矩阵（只有 L_style）合成纹理。论文图 1（风格重建 a–e）："
        "只用 conv1_1 时是细碎的颜色纹理；每加一层，就在更大的尺度上匹配图像的风格，而场景的布局消失了。")


@gpu(budget=("budget_s", BUDGET_S[1]))
@friendly_errors
def reconstruct(image, kind, content_layer, style_depth, size, steps, budget_s, request: gr.Request = None):
    """Fig. 1: reconstruct the image from white noise from one content layer or one set of style
    layers of VGG-19; streams (image, weighted-term curve, status). Without VGG-19: says what it would show."""
    kind = FIG1_STYLE if kind == FIG1_STYLE else FIG1_CONTENT
    depth = int(style_depth) if style_depth in st.FIG1_STYLE_DEPTHS else st.FIG1_STYLE_DEPTHS[-1]
    layer = content_layer if content_layer in st.FIG1_CONTENT_LAYERS else st.CONTENT_LAYERS[0]
    what = layer if kind == FIG1_CONTENT else " + ".join(st.style_layer_set(depth))
    rgb = read_image(image, max_side=st.MAX_SIDE["gpu"]).rgb
    try:
        network = st.vgg19("avg")
    except WeightsUnavailable:
        yield None, None, _fig1_unavailable(kind, what, request)
        return
    config = st.StyleConfig(size=int(size), steps=int(steps), init="noise",
                            time_budget_s=bounded_seconds(budget_s, *BUDGET_S[:2]))
    config, _ = st.with_size(config, get_device())
    label = say(request, f"Content reconstruction from {what}" if kind == FIG1_CONTENT else
                f"Style reconstruction from {what}",
                f"用 {what} 做内容重建" if kind == FIG1_CONTENT else f"用 {what} 做风格重建")
    history = []
    for progress in st.reconstruct(rgb, kind, layer if kind == FIG1_CONTENT else depth, config, network,
                                   stream_every=STREAM_EVERY):
        history.append(progress)
        status = say(request, f"{label} (VGG-19), from white noise: step {progress.step}/{config.steps}, "
                              f"{progress.elapsed_s:.0f} s" + (f" ({progress.reason})." if progress.done else "."),
                     f"{label}（VGG-19），从白噪声出发：第 {progress.step}/{config.steps} 步，{progress.elapsed_s:.0f} 秒"
                     + (f"（{_reason_zh(progress.reason)}）。" if progress.done else "。"))
        yield progress.image, _loss_frame(history, request), status


# --------------------------------------------------------------------------- Fig. 3: the precomputed grid
GRID_IMAGE, GRID_SETTINGS = ASSETS / f"{st.GRID_NAME}.jpg", ASSETS / f"{st.GRID_NAME}.json"
GRID_COMMAND = "python -m papers.style_transfer grid --out demos/assets"


def _grid():
    """(path of the Fig. 3 grid, its settings) when shipped, else (None, None)."""
    if not (GRID_IMAGE.is_file() and GRID_SETTINGS.is_file()):
        return None, None
    import json

    return str(GRID_IMAGE), json.loads(GRID_SETTINGS.read_text())


def _grid_caption(settings: dict | None):
    ratios = ", ".join(f"{r:.0e}" for r in st.GRID_RATIOS)
    if settings is None:
        return localized(
            f"**Fig. 3 (α/β ∈ {ratios} × style layers conv1_1 … up to conv5_1) is not shipped yet.** It must be "
            f"made with the real ImageNet VGG-19 ({len(st.GRID_RATIOS) * len(st.GRID_DEPTHS)} optimisations of "
            f"{st.GRID_DEFAULTS['steps']} steps at {st.GRID_DEFAULTS['size']} px: minutes on a GPU), which this "
            f"gallery does not have offline. Make it with `{GRID_COMMAND}` (writes {GRID_IMAGE.name} and "
            f"{GRID_SETTINGS.name}); the tab then shows it here.",
            f"**图 3（α/β ∈ {ratios} × 风格层 conv1_1 … 直到 conv5_1）还没有随项目提供。**它必须用真正的 ImageNet VGG-19 "
            f"生成（{len(st.GRID_RATIOS) * len(st.GRID_DEPTHS)} 次优化，每次 {st.GRID_DEFAULTS['steps']} 步、"
            f"{st.GRID_DEFAULTS['size']} 像素：在 GPU 上需要几分钟），而本画廊离线时没有这个网络。用 `{GRID_COMMAND}` "
            f"生成（写出 {GRID_IMAGE.name} 和 {GRID_SETTINGS.name}），之后本页会在这里显示它。")
    return localized(
        f"Fig. 3 made with {settings['network']} by `{GRID_COMMAND}`: content {settings.get('content', '?')}, style "
        f"{settings.get('style', '?')}, {settings['size']} px, {settings['steps']} {settings['optimiser']} steps from "
        f"white noise (seed {settings['seed']}); rows: style layers conv1_1 up to the layer named; columns: α/β "
        "(a/b in the labels). As in the paper, more layers match the style on a larger scale, and a larger α/β "
        "keeps more of the content.",
        f"图 3，由 {settings['network']} 用 `{GRID_COMMAND}` 生成：内容 {settings.get('content', '?')}，风格 "
        f"{settings.get('style', '?')}，{settings['size']} 像素，从白噪声出发做 {settings['steps']} 步 "
        f"{settings['optimiser']}（种子 {settings['seed']}）；行：从 conv1_1 直到所标的层的风格层；列：α/β（标签里写作 a/b）。"
        "与论文一样，层越多，风格在越大的尺度上被匹配；α/β 越大，保留的内容越多。")


def _reason_zh(reason: str) -> str:
    """papers.style_transfer's stop reasons in Chinese."""
    if reason == "steps done":
        return "步数已完成"
    if reason.startswith("time budget"):
        return "已到时间预算"
    if reason.startswith("the loss became non-finite"):
        return "损失变成了非有限值；请试试更低的比值或换一个优化器"
    return reason


def precompute() -> None:
    """Make the result the tab opens on (PRECOMPUTED): `python -m demos.style_transfer`."""
    from PIL import Image

    *_, (image, curve, status, _) = run(None, example_paths(PRECOMPUTED["style"])[0], RANDOM, LOG_RATIO[2], True,
                                        PRECOMPUTED["size"], PRECOMPUTED["steps"], "lbfgs", PRECOMPUTED["init"],
                                        "avg", False, PRECOMPUTED["seconds"])
    Image.fromarray(image).save(PRECOMPUTED_IMAGE)
    curve.to_csv(PRECOMPUTED_CURVE, index=False)
    print(status)


def _opening():
    """(result, loss curves, before/after) of the precomputed texture, or nothing if it is absent."""
    if not (PRECOMPUTED_IMAGE.is_file() and PRECOMPUTED_CURVE.is_file()):
        return None, None, None
    from PIL import Image

    image = np.asarray(Image.open(PRECOMPUTED_IMAGE).convert("RGB"))
    style_rgb = read_image(example_paths(PRECOMPUTED["style"])[0]).rgb
    return image, pd.read_csv(PRECOMPUTED_CURVE), (st.to_uint8(st.to_tensor(style_rgb, PRECOMPUTED["size"])), image)


def _opening_status(steps: int):
    """What the precomputed result is, in both languages (`steps`: as many as it took)."""
    return localized(OPENING_STATUS_EN.format(steps=steps), OPENING_STATUS_ZH.format(steps=steps))


OPENING_STATUS_EN = (f"Shown on opening: a texture synthesised from the brick image by the **random-weight network** "
                     f"(not VGG-19), {{steps}} L-BFGS steps from white noise at {PRECOMPUTED['size']} px, "
                     f"computed once ahead of time. Pick a content and a style image (or keep the examples), "
                     f"then **Run** to make your own.")
OPENING_STATUS_ZH = (f"打开时显示的是预先算好的结果：**随机权重网络**（不是 VGG-19）以砖墙图为目标，从白噪声出发、"
                     f"在 {PRECOMPUTED['size']} 像素下做 {{steps}} 步 L-BFGS 合成的纹理。"
                     f"选一张内容图和一张风格图（或沿用示例），然后按**运行**生成你自己的结果。")


def bench_default() -> str:
    """The main handler at default settings (fewer steps) on shipped examples; returns the status."""
    size, _, seconds = defaults()
    *_, last = run(*example_paths("chelsea.jpg", "brick.png"), RANDOM, LOG_RATIO[2], True, size, 5,
                   "lbfgs", "content", "avg", False, seconds)
    return last[2]


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, cjk_markdown(INTRO_ZH)))
    opening_image, opening_curve, opening_pair = _opening()
    with gr.Row():
        content = gr.Image(example_paths("chelsea.jpg")[0], label=t("Content image"), type="numpy", height=260)
        style = gr.Image(example_paths("brick.png")[0], label=t("Style / texture image"), type="numpy", height=260)
        result = gr.Image(opening_image, label=t("Synthesised image (streams while optimising)"), type="numpy",
                          height=260, interactive=False)
    with gr.Row():
        gr.Examples(example_paths("chelsea.jpg", "astronaut.jpg", "coffee.jpg"), inputs=content,
                    label=t("Content examples"))
        gr.Examples(example_paths("brick.png", "grass.png", "gravel.png", "rocket.jpg", "coffee.jpg"),
                    inputs=style, label=t("Style examples (textures and photos)"))
    with gr.Row():
        with gr.Column():
            network = gr.Radio([(t(VGG), VGG), (t(RANDOM), RANDOM)], value=RANDOM if not st.vgg19_local() else VGG,
                               label=t("Network"))
            texture_only = gr.Checkbox(value=not st.vgg19_local(), label=t("Texture synthesis only (α = 0)"))
            log_ratio = gr.Slider(*LOG_RATIO[:2], value=LOG_RATIO[2], step=0.25,
                                  label=t("log₁₀ content/style ratio α/β (paper: −3 … −4)"))
            preserve_colour = gr.Checkbox(label=t("Preserve the content's colours (luminance-only transfer, "
                                                  "Gatys et al. 2016b)"))
        with gr.Column():
            default_size, default_steps, default_seconds = defaults()
            cpu_side, gpu_side = st.MAX_SIDE["cpu"], st.MAX_SIDE["gpu"]
            size = gr.Slider(*SIZE[:2], value=default_size, step=32, label=t("Image size (long side, px)"),
                             info=localized(f"Capped at {cpu_side} px on a CPU, {gpu_side} px on a GPU",
                                            f"CPU 上最大 {cpu_side} 像素，GPU 上最大 {gpu_side} 像素"))
            steps = gr.Slider(*STEPS[:2], value=default_steps, step=1, label=t("Steps (forward/backward passes)"))
            budget = gr.Slider(*BUDGET_S[:2], value=default_seconds, step=5, label=t("Time budget (seconds)"),
                               info=localized(
                                   device_note(f"{GPU_DEFAULTS[0]} px images (up to {gpu_side} px) and "
                                               f"{GPU_DEFAULTS[1]} steps by default, as in the paper's figures"),
                                   device_note_zh(f"默认 {GPU_DEFAULTS[0]} 像素的图像（最大 {gpu_side} 像素）和 "
                                                  f"{GPU_DEFAULTS[1]} 步，与论文插图一致")))
        with gr.Column():
            optimiser = gr.Radio([(t("L-BFGS (the paper's)"), "lbfgs"), (t("Adam"), "adam")], value="lbfgs",
                                 label=t("Optimiser"))
            init = gr.Radio([(t("white noise"), "noise"), (t("content image"), "content"), (t("style image"), "style")],
                            value="noise", label=t("Start from (the paper: white noise)"))
            pooling = gr.Radio([(t("average (the paper's)"), "avg"), (t("max (VGG's own)"), "max")], value="avg",
                               label=t("Pooling in VGG-19"))
    with gr.Row():
        run_btn = gr.Button(t("Run"), variant="primary")
        stop_btn = gr.Button(t("Stop"))
    status = gr.Markdown(_opening_status(int(opening_curve["step"].max())) if opening_image is not None else
                         t("Pick a content and a style image (or keep the examples), then **Run**."))
    with gr.Row():
        curves = gr.LinePlot(opening_curve, x="step", y="loss", color="term",
                             title=t("log₁₀ of the weighted terms α·L_content and β·L_style"), height=260)
        compare = gr.ImageSlider(opening_pair, label=t("Before / after (drag)"), type="numpy", height=260)
    event = run_btn.click(run, [content, style, network, log_ratio, texture_only, size, steps, optimiser,
                                init, pooling, preserve_colour, budget], [result, curves, status, compare],
                          api_name=f"{SLUG}_run", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[event], api_visibility="private")
    with gr.Accordion(t("Fig. 1: what each layer keeps (reconstruction from white noise)"), open=False):
        gr.Markdown(t("Reconstruct the image from white noise from one VGG-19 layer alone: content from one layer's "
                      "responses (only L_content), or style from the Gram matrices of conv1_1 up to a deeper layer "
                      "(only L_style). Needs the ImageNet VGG-19 weights; without them it says what it would show."))
        with gr.Row():
            fig1_image = gr.Image(example_paths("chelsea.jpg")[0], label=t("Image to reconstruct"), type="numpy",
                                  height=220)
            fig1_result = gr.Image(label=t("Reconstruction"), type="numpy", height=220, interactive=False)
            fig1_curve = gr.LinePlot(None, x="step", y="loss", color="term", height=220,
                                     title=t("log₁₀ of the weighted term"))
        with gr.Row():
            fig1_kind = gr.Radio([(t("content (one layer)"), FIG1_CONTENT), (t("style (layer set)"), FIG1_STYLE)],
                                 value=FIG1_CONTENT, label=t("Reconstruct"))
            fig1_layer = gr.Dropdown([(t(name), name) for name in st.FIG1_CONTENT_LAYERS], value=st.CONTENT_LAYERS[0],
                                     label=t("Content layer"))
            fig1_depth = gr.Dropdown([(t(name), depth) for name, depth in FIG1_STYLE_CHOICES],
                                     value=st.FIG1_STYLE_DEPTHS[-1], label=t("Style layers"))
        with gr.Row():
            fig1_size = gr.Slider(*SIZE[:2], value=default_size, step=32, label=t("Image size (long side, px)"))
            fig1_steps = gr.Slider(*STEPS[:2], value=default_steps, step=1, label=t("Steps (forward/backward passes)"))
            fig1_budget = gr.Slider(*BUDGET_S[:2], value=default_seconds, step=5, label=t("Time budget (seconds)"))
        with gr.Row():
            fig1_btn = gr.Button(t("Reconstruct"), variant="primary")
            fig1_stop = gr.Button(t("Stop"))
        fig1_status = gr.Markdown()
        fig1_event = fig1_btn.click(reconstruct, [fig1_image, fig1_kind, fig1_layer, fig1_depth, fig1_size, fig1_steps,
                                                  fig1_budget], [fig1_result, fig1_curve, fig1_status],
                                    api_name=f"{SLUG}_reconstruct", concurrency_id=heavy_id(SLUG),
                                    concurrency_limit=1)
        fig1_stop.click(None, None, None, cancels=[fig1_event], api_visibility="private")
    with gr.Accordion(t("Fig. 3: content/style ratio α/β × style layers (VGG-19, precomputed)"), open=False):
        grid_path, grid_settings = _grid()
        gr.Markdown(_grid_caption(grid_settings))
        if grid_path is not None:
            gr.Image(grid_path, label=t("Fig. 3 grid (VGG-19)"), type="filepath", interactive=False)
    gr.Markdown(localized(
        weights_note(st.VGG19_IMAGENET, adds="the paper's own network: style transfer, not only textures, and "
                                             "much better textures"),
        weights_note_zh(st.VGG19_IMAGENET, adds="论文自己的网络：不只是纹理，还能做风格迁移，纹理也好得多")))


ZH = {
    "Content image": "内容图像",
    "Style / texture image": "风格 / 纹理图像",
    "Synthesised image (streams while optimising)": "合成的图像（优化时实时更新）",
    "Content examples": "内容示例",
    "Style examples (textures and photos)": "风格示例（纹理和照片）",
    VGG: "VGG-19，ImageNet 预训练（论文所用）",
    RANDOM: "随机多尺度网络（离线，只能合成纹理）",
    "Network": "网络",
    "Texture synthesis only (α = 0)": "只做纹理合成（α = 0）",
    "log₁₀ content/style ratio α/β (paper: −3 … −4)": "内容/风格比值 α/β 的 log₁₀（论文：−3 … −4）",
    "Preserve the content's colours (luminance-only transfer, Gatys et al. 2016b)":
        "保留内容图的颜色（只迁移亮度，Gatys 等 2016b）",
    "Image size (long side, px)": "图像尺寸（长边，像素）",
    "Steps (forward/backward passes)": "步数（前向/反向计算次数）",
    "Time budget (seconds)": "时间预算（秒）",
    "L-BFGS (the paper's)": "L-BFGS（论文所用）",
    "Optimiser": "优化器",
    "Adam": "Adam",
    "white noise": "白噪声",
    "content image": "内容图像",
    "style image": "风格图像",
    "average (the paper's)": "平均池化（论文所用）",
    "max (VGG's own)": "最大池化（VGG 原本的）",
    "Pooling in VGG-19": "VGG-19 中的池化",
    "Run": "运行",
    "Stop": "停止",
    "Pick a content and a style image (or keep the examples), then **Run**.":
        "选一张内容图和一张风格图（或沿用示例），然后按**运行**。",
    "Before / after (drag)": "前 / 后对比（拖动）",
    "Start from (the paper: white noise)": "初始图像（论文：白噪声）",
    "log₁₀ of the weighted terms α·L_content and β·L_style": "加权项 α·L_content 与 β·L_style 的 log₁₀",
    "Fig. 1: what each layer keeps (reconstruction from white noise)": "图 1：每一层保留了什么（从白噪声重建）",
    "Reconstruct the image from white noise from one VGG-19 layer alone: content from one layer's "
    "responses (only L_content), or style from the Gram matrices of conv1_1 up to a deeper layer "
    "(only L_style). Needs the ImageNet VGG-19 weights; without them it says what it would show.":
        "只用 VGG-19 的一层，从白噪声重建图像：内容用某一层的响应（只有 L_content），风格用从 conv1_1 直到更深一层的 "
        "Gram 矩阵（只有 L_style）。需要 ImageNet 上训练的 VGG-19 权重；没有时会说明它本来会显示什么。",
    "Image to reconstruct": "要重建的图像",
    "Reconstruction": "重建结果",
    "log₁₀ of the weighted term": "加权项的 log₁₀",
    "content (one layer)": "内容（一层）",
    "style (layer set)": "风格（一组层）",
    "Reconstruct": "重建",
    "Content layer": "内容层",
    "Style layers": "风格层",
    "Fig. 3: content/style ratio α/β × style layers (VGG-19, precomputed)": "图 3：内容/风格比值 α/β × 风格层（VGG-19，预先计算）",
    "Fig. 3 grid (VGG-19)": "图 3 网格（VGG-19）",
    **{name: name for name in st.FIG1_CONTENT_LAYERS},  # layer names stay as they are
    **{name: name for name, _ in FIG1_STYLE_CHOICES},
}


if __name__ == "__main__":
    precompute()
