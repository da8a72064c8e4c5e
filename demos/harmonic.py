"""Harmonic Networks tab: turn a digit and watch H-Net feature maps turn with it."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from PIL import Image

import gradio as gr

from demos.common import (cjk_markdown, comparison_table_zh, friendly_errors, header, on_tab_open, weights_note,
                          weights_note_zh)
from demos.i18n import localized, say, t, zh_figure
from demos.stn import SOURCES, digit_inputs, pick_digit, source_after_drawing
from papers import harmonic, results
from papers.checkpoints import gpu
from papers.data import digits

SLUG = "harmonic"
TITLE = "Harmonic Networks"
PAPER_URL = "https://arxiv.org/abs/1612.04642"
INTRO = """An H-Net's filters are **circular harmonics** R(r)·e^{i(mφ+β)}: turning the input turns
every feature map with it and only shifts the phase of the order-m stream by m·θ (Eq. 6). Its final
magnitudes are therefore the same at every angle — *exactly* at quarter turns, where turning the
pixel grid loses nothing, and only approximately in between, where the grid must be resampled
(measured below). Turn the digit: the H-Net's maps rotate along rigidly, and in the colour
picture of its order-1 stream (hue = phase, brightness = magnitude) the colours cycle with the
turn; the plain CNN's maps (same layout, ordinary filters) change. Both networks saw only
**upright** digits in training unless you pick the rotated-training pair."""
INTRO_ZH = cjk_markdown("""H-Net 的滤波器是**圆谐波** R(r)·e^{i(mφ+β)}：输入转动时，每张特征图都跟着转动，
m 阶流只是相位平移 m·θ（式 6）。所以它最后得到的幅值在任何角度下都一样——在直角转动时是*精确*的，
因为转动像素网格不损失任何信息；在两者之间只是近似的，因为网格必须重新采样（见下方的测量）。
转动数字：H-Net 的特征图整体刚性地跟着转，它的 1 阶流的彩色图（色相 = 相位，亮度 = 幅值）的颜色随转动循环变化；
而普通 CNN 的特征图（同样的布局，普通滤波器）会变样。两个网络训练时都只见过**正立**的数字，除非你选用旋转数字训练的那一对。""")

REGIMES = ("trained on upright digits", "trained on rotated digits")
REGIMES_ZH = {REGIMES[0]: "用正立数字训练", REGIMES[1]: "用旋转数字训练"}
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


def _phase_mosaic(rows: list[torch.Tensor], zoom: int = MAP_ZOOM) -> np.ndarray:
    """Rows of complex maps (C, h, w) -> one colour image (hue = phase, value = magnitude, one
    brightness scale for all rows, papers.harmonic.phase_picture), grey 1 px borders."""
    top = max(r[:MAPS_SHOWN].abs().max().item() for r in rows) or 1.0
    tiles = [torch.cat([torch.nn.functional.pad(harmonic.phase_picture(m, top).permute(2, 0, 1), (1, 1, 1, 1),
                                                value=0.35) for m in r[:MAPS_SHOWN]], 2) for r in rows]
    pixels = (torch.cat(tiles, 1).permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((image.width * zoom, image.height * zoom), Image.NEAREST))


def _probs(p: torch.Tensor) -> dict[str, float]:
    return {str(k): float(v) for k, v in enumerate(p)}


def _check_layer(layer, request=None) -> int:
    layer, layers = int(layer), len(harmonic.Config().widths)
    if not 1 <= layer <= layers:
        raise gr.Error(say(request, f"Choose a layer between 1 and {layers}.", f"请选择第 1 到第 {layers} 层。"))
    return layer - 1


@gpu(duration=20)
@friendly_errors
def turn(source, index, sketch, angle, layer, regime, request: gr.Request = None):
    """The turned digit, both networks' feature-map magnitudes, and their predictions."""
    out = harmonic.turn_and_look(pick_digit(source, index, sketch, request), float(angle), _check_layer(layer, request),
                                 upright=regime == REGIMES[0])
    zoom = (out["image"].numpy() * 255).astype(np.uint8)
    image = np.asarray(Image.fromarray(zoom).resize((168, 168), Image.NEAREST))
    return (image, _mosaic([out["hnet_maps"][0], out["hnet_maps"][1]]), _mosaic([out["cnn_maps"]]),
            _probs(out["hnet_probs"]), _probs(out["cnn_probs"]),
            _phase_mosaic([out["hnet_order1_unturned"], out["hnet_order1"]]))


FILTER_ZOOM = 12


@gpu(duration=10)
@friendly_errors
def filters(layer, regime, request: gr.Request = None):
    """The H-Net's learned complex filters W = R(r)e^{i(mφ+β)} of block `layer` as colour (hue =
    phase, value = magnitude): one row per (m_in -> m_out) pair, first output channels, input
    channel 0."""
    variant = "upright" if regime == REGIMES[0] else "rotated"
    found = harmonic.learned_filters(harmonic.load_model(f"hnet_{variant}"), _check_layer(layer, request))
    return _phase_mosaic([w[:, 0] for w in found.values()], zoom=FILTER_ZOOM)


@gpu(duration=60)
@friendly_errors
def equivariance(layer, regime, request: gr.Request = None):
    """Relative equivariance error of both networks' maps at `layer` against the angle, beside the
    check's own resampling error (the H-Net's maps turned by +θ and back, no network)."""
    variant = "upright" if regime == REGIMES[0] else "rotated"
    images = digits("test")[0][:EQUIVARIANCE_DIGITS]
    layer = _check_layer(layer, request)
    floor = say(request, FLOOR, ZH[FLOOR])
    rows = []
    for name, label in (("hnet", "H-Net"), ("cnn", "CNN")):
        model = harmonic.load_model(f"{name}_{variant}")
        for a in EQUIVARIANCE_ANGLES:
            measured = harmonic.equivariance_with_floor(model, images, a, layer)
            rows.append({"angle (°)": a, "relative error": measured["network"], "network": label})
            if name == "hnet":
                rows.append({"angle (°)": a, "relative error": measured["floor"], "network": floor})
    return pd.DataFrame(rows)


CONFUSIONS_SHOWN = 10


@gpu(duration=30)
@friendly_errors
def confusions(regime, request: gr.Request = None):
    """The H-Net's errors on the rotated test set (angle draw 0) counted by (true, predicted) pair."""
    variant = "upright" if regime == REGIMES[0] else "rotated"
    pairs, total = harmonic.rotated_test_confusions(f"hnet_{variant}", 0)
    errors = sum(n for _, n in pairs)
    columns = [say(request, c, ZH[c]) for c in CONFUSION_COLUMNS]
    rows = [[true, predicted, n, round(100 * n / errors, 1)] for (true, predicted), n in pairs[:CONFUSIONS_SHOWN]]
    return pd.DataFrame(rows, columns=columns), say(
        request, f"{errors} errors on {total} turned test digits; the {min(len(pairs), CONFUSIONS_SHOWN)} most frequent:",
        f"在 {total} 个转动后的测试数字上共 {errors} 个错误；最常见的 {min(len(pairs), CONFUSIONS_SHOWN)} 种：")


MODEL_NAMES_ZH = {"H-Net trained on upright digits": "用正立数字训练的 H-Net",
                  "H-Net trained on rotated digits": "用旋转数字训练的 H-Net",
                  "CNN trained on upright digits": "用正立数字训练的 CNN",
                  "CNN trained on rotated digits": "用旋转数字训练的 CNN"}


def accuracy_frame(request: gr.Request = None) -> pd.DataFrame:
    """Accuracy vs angle of the four shipped models (measured when they were trained)."""
    rows = []
    for variant, ckpt in harmonic.CHECKPOINTS.items():
        label = say(request, ckpt.description, MODEL_NAMES_ZH.get(ckpt.description, ckpt.description))
        rows += [{"angle (°)": int(a), "accuracy (%)": acc, "model": label}
                 for a, acc in ckpt.extra.get("accuracy_vs_angle", {}).items()]
    return pd.DataFrame(rows, columns=["angle (°)", "accuracy (%)", "model"])


HEADLINE = "upright_trained_rotated_error"
CLAIMS = [HEADLINE, "rotated_trained_rotated_error", "shipped_upright_rotated_error",
          "shipped_rotated_rotated_error", "shipped_quarter_turn_accuracy", "shipped_upright_invariance_45",
          "shipped_upright_error_pairs"]


def _verdict(claim_id: str, zh: bool = False) -> str:
    """Whether the H-Net-vs-CNN gap of a seeded claim exceeds the sum of the two seed spreads."""
    found = results.claim(SLUG, claim_id)
    if not found:
        return ""
    ours, cnn = found["ours"], found["baselines"]["cnn"]
    gap, noise = cnn["mean"] - ours["mean"], ours["sd"] + cnn["sd"]
    if zh:
        return ("H-Net 更好，超出随机种子之间的波动" if gap > noise else
                "CNN 更好，超出随机种子之间的波动" if -gap > noise else "在随机种子之间的波动范围内")
    return ("H-Net better beyond the seed-to-seed spread" if gap > noise else
            "CNN better beyond the seed-to-seed spread" if -gap > noise else "within the seed-to-seed spread")


def _claims_zh() -> dict[str, str]:
    """The claims of results_table in Chinese, each with its metric (settings from papers.harmonic)."""
    steps, batch, draws = harmonic.EXPERIMENT_STEPS, harmonic.BATCH, harmonic.ROTATED_TEST_DRAWS
    params = f"H-Net {harmonic.PARAMS['hnet']:,} 个参数，CNN {harmonic.PARAMS['cnn']:,} 个"

    def budget(rotated):
        return (f"Adam {steps[rotated]} 步、批大小 {batch}，在 1,347 个训练数字上，每个随机种子都从头训练两个网络；"
                f"测试：450 个测试数字，每个转 {draws} 个随机角度")

    shipped = f"随附的检查点（{harmonic.TRAIN_STEPS} 步，随机种子 0）在随机角度下；随机种子 = 测试角度的抽样"
    random_error = f"随机角度下的测试错误率（%），450 个测试数字 × {draws} 个随机角度"
    return {
        HEADLINE: f"只用正立数字训练时，H-Net 在转到随机角度的数字上胜过 CNN（{params}）"
                  f"（随机角度下的测试错误率（%）；{budget(False)}）",
        "rotated_trained_rotated_error": "用随机转动的数字训练（MNIST-rot 的做法），H-Net 对比 CNN，在随机角度下"
                                         f"（随机角度下的测试错误率（%）；{budget(True)}）",
        "shipped_upright_rotated_error": f"用正立数字训练的{shipped}（{random_error}）",
        "shipped_rotated_rotated_error": f"用旋转数字训练的{shipped}（{random_error}）",
        "shipped_quarter_turn_accuracy": "用正立数字训练的随附检查点，每个测试数字都转 0°、90°、180°、270°（随机种子 0–3）："
                                         "H-Net 在四个角度下的准确率完全相同（标准差为 0），CNN 则不然"
                                         "（测试准确率（%），450 个测试数字，在四个直角转动上）",
        "shipped_upright_invariance_45": "不变性在直角转动时是精确的，在两者之间是近似的：用正立数字训练的随附 H-Net，"
                                         "每个测试数字都转 45° 时的准确率，对比 0° 和 90°（旁边是用正立数字训练的随附 CNN 在 0° 和 45° 时）；随机种子 = 测试数字的一次自助重抽样"
                                         "（测试准确率（%），450 个测试数字的自助重抽样，全部转过该角度）",
        "shipped_upright_error_pairs": "用正立数字训练的随附 H-Net 在随机角度下犯的是哪些错误：6 与 9 互认（转 180° 的 6 "
                                       "对旋转不变的网络来说就是 9）所占的比例，以及把别的数字认成 9 或 6 的比例；"
                                       "随机种子 = 测试角度的抽样（H-Net 在 450 个测试数字 × 4 个随机角度上的错误中所占的 %）",
    }


def results_table(zh: bool = False) -> str:
    """The measured claims (results/harmonic.json): headline first, the paper's figure beside."""
    fig = functools.partial(results.figure, SLUG, unit=" %")
    inv = functools.partial(fig, "shipped_upright_invariance_45")
    pairs = functools.partial(fig, "shipped_upright_error_pairs")
    paper = results.paper_figure(SLUG, "rotated_trained_rotated_error", unit=" %", digits=2)
    if zh:
        labels = {"cnn": f"CNN（{harmonic.PARAMS['cnn']:,} 个参数）", "at_0": "H-Net，0°", "at_90": "H-Net，90°",
                  "cnn_at_0": "CNN，0°", "cnn_at_45": "CNN，45°",
                  "as_9": "别的数字（不是 6）认成 9", "as_6_or_9": "别的数字（不是 6 或 9）认成 6 或 9"}
        return zh_figure(
            f"**用正立数字训练、在随机角度下测试**（错误率 %，每个随机种子都从头训练两个网络）：H-Net **{fig(HEADLINE)}**，"
            f"CNN **{fig(HEADLINE, 'cnn')}**（{_verdict(HEADLINE, zh=True)}）。用旋转数字训练、步数为三分之一时："
            f"H-Net {fig('rotated_trained_rotated_error')}，CNN {fig('rotated_trained_rotated_error', 'cnn')}"
            f"（{_verdict('rotated_trained_rotated_error', zh=True)}）；论文中的 H-Net 在 MNIST-rot 上为 {paper}"
            "（12,000 个训练数字、50,000 个测试数字；本实现：1,347 个和 450 个）。\n\n"
            + comparison_table_zh(SLUG, CLAIMS, _claims_zh(), labels) +
            f"\n\n**不变性，按实测**：用正立数字训练的 H-Net 的准确率每隔 90° 精确地重复一次（0° 时 "
            f"{inv('at_0')}，90° 时 {inv('at_90')}），但在 45° 时只有 {inv('ours')}：在直角之间，像素网格的重新采样使不变性只是近似的。"
            f"用同样的正立数字训练的 CNN 在 0° 时更好（{inv('cnn_at_0')}），在 45° 时降到 {inv('cnn_at_45')}。"
            f"\n\n**它犯的是哪些错误**：在随机角度下，6 与 9 互认（对旋转不变的网络来说，转 180° 的 6 就是 9）只占它的错误的 "
            f"{pairs('ours')}；把别的数字（不是 6 或 9）认成 6 或 9 的占 {pairs('as_6_or_9')}，其余是别的混淆"
            "（用下面的按钮逐对统计）。重新生成：`python -m papers.reproduce harmonic`。")
    return (f"**Trained on upright digits, tested at random angles** (% error, each seed trains both "
            f"from scratch): H-Net **{fig(HEADLINE)}** vs CNN **{fig(HEADLINE, 'cnn')}** ({_verdict(HEADLINE)}). "
            f"Trained on rotated digits, for a third of the steps: H-Net {fig('rotated_trained_rotated_error')} "
            f"vs CNN {fig('rotated_trained_rotated_error', 'cnn')} ({_verdict('rotated_trained_rotated_error')}); "
            f"the paper's H-Net on MNIST-rot: {paper} (12,000 training and "
            "50,000 test digits; ours: 1,347 and 450).\n\n" + results.comparison_table(SLUG, CLAIMS) +
            f"\n\n**Invariance, as measured**: the upright-trained H-Net's accuracy repeats exactly every 90° "
            f"({inv('at_0')} at 0°, {inv('at_90')} at 90°) but is {inv('ours')} at 45°: between quarter turns, "
            "resampling the pixel grid makes the invariance only approximate. The CNN, trained on the same upright "
            f"digits, is better at 0° ({inv('cnn_at_0')}) and falls to {inv('cnn_at_45')} at 45°."
            f"\n\n**What its errors are**: at random angles, 6 <-> 9 (a 6 turned by 180° is a 9 to a rotation-invariant "
            f"network) is only {pairs('ours')} of its errors; reading another digit (not 6 or 9) as 6 or 9 is "
            f"{pairs('as_6_or_9')}, and the rest are other confusions (count them pair by pair with the button below). "
            "Regenerate: `python -m papers.reproduce harmonic`.")


def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    with gr.Row():
        with gr.Column(scale=1):
            source, index, sketch = digit_inputs(DEFAULTS["index"])
            angle = gr.Slider(0, 360, step=1, value=DEFAULTS["angle"], label=t("Turn (°, counter-clockwise)"))
            layer = gr.Slider(1, len(harmonic.Config().widths), step=1, value=DEFAULTS["layer"], label=t("Layer"))
            regime = gr.Radio([(t(name), name) for name in REGIMES], value=DEFAULTS["regime"], label=t("Models"))
        with gr.Column(scale=2):
            with gr.Row():
                image = gr.Image(label=t("Input (28×28)"), height=200)
                hnet_label = gr.Label(num_top_classes=3, label=t("H-Net prediction"))
                cnn_label = gr.Label(num_top_classes=3, label=t("CNN prediction"))
            hnet_maps = gr.Image(label=t(HNET_MAPS))
            phase = gr.Image(label=t(PHASE_MAPS))
            cnn_maps = gr.Image(label=t(CNN_MAPS))
            filter_picture = gr.Image(label=t(FILTERS))
    with gr.Row():
        accuracy = gr.LinePlot(x="angle (°)", y="accuracy (%)", color="model", height=320,
                               x_title=t("angle (°)"), y_title=t("accuracy (%)"), color_title=t("model"),
                               title=t("Test accuracy with every test digit turned by the angle"))
        with gr.Column():
            measure = gr.Button(t("Measure equivariance error vs angle"))
            plot = gr.LinePlot(x="angle (°)", y="relative error", color="network", height=260,
                               x_title=t("angle (°)"), y_title=t("relative error"), color_title=t("network"),
                               title=t("‖f(turned x) − turned f(x)‖ / ‖f(x)‖ at this layer"))
            gr.Markdown(t(FLOOR_NOTE))
    gr.Markdown(localized(results_table(), results_table(zh=True)))
    with gr.Row():
        count = gr.Button(t("Count the H-Net's errors at random angles by (true, predicted)"))
        count_note = gr.Markdown()
    confusion_table = gr.Dataframe(interactive=False)
    gr.Markdown(localized(weights_note(harmonic.CHECKPOINTS["hnet_upright"], adds=ADDS),
                          weights_note_zh(harmonic.CHECKPOINTS["hnet_upright"], adds=ADDS_ZH)))  # below the content

    sketch.change(source_after_drawing, [sketch, source], source, api_visibility="private", queue=False)
    inputs = [source, index, sketch, angle, layer, regime]
    outputs = [image, hnet_maps, cnn_maps, hnet_label, cnn_label, phase]
    gr.on([c.change for c in inputs], turn, inputs, outputs, api_name=f"{SLUG}_turn", trigger_mode="always_last")
    on_tab_open(turn, outputs, inputs)  # the default digit, turned when the tab opens
    on_tab_open(accuracy_frame, [accuracy])  # the shipped models' accuracy, its series in the visitor's language
    on_tab_open(equivariance, [plot], [layer, regime])  # and the equivariance error at the defaults (~0.5 s)
    measure.click(equivariance, [layer, regime], plot, api_name=f"{SLUG}_equivariance")
    gr.on([layer.change, regime.change], filters, [layer, regime], filter_picture, api_name=f"{SLUG}_filters",
          trigger_mode="always_last")
    on_tab_open(filters, [filter_picture], [layer, regime])
    count.click(confusions, [regime], [confusion_table, count_note], api_name=f"{SLUG}_confusions",
                concurrency_limit=1)


HNET_MAPS = f"H-Net: |order-0 stream| (top), |order-1 stream| (bottom), first {MAPS_SHOWN} channels"
CNN_MAPS = f"CNN: |feature maps|, first {MAPS_SHOWN} channels"
PHASE_MAPS = (f"H-Net order-1 stream as colour (hue = phase, brightness = magnitude), first {MAPS_SHOWN} channels: "
              "the digit unturned (top) and turned (bottom); turning by θ turns the maps and shifts every hue by θ (Eq. 6)")
FILTERS = (f"H-Net's learned complex filters W = R(r)e^{{i(mφ+β)}} at this layer (hue = phase, brightness = magnitude): "
           f"one row per order pair m_in → m_out (m = m_out − m_in) in the order 0→0, 1→0, 0→1, 1→1 (layer 1, whose "
           f"input is order 0 only: 0→0, 0→1), first {MAPS_SHOWN} output channels, input channel 1")
FLOOR = "check alone (H-Net maps turned +θ and back)"
FLOOR_NOTE = ("The third line is the check's own error: the H-Net's maps turned by +θ and back by −θ with the same "
              "bilinear resampling, no network. At quarter turns it is zero and the H-Net's error is at float "
              "precision: equivariance exact. In between, where the H-Net's line lies at or below this floor (the first "
              "layers), the plot cannot separate the network's own error from the resampling's; where it rises above "
              "it (the last layer, after two poolings), the excess is the network's own, approximate equivariance.")
CONFUSION_COLUMNS = ("true digit", "read as", "errors", "% of errors")
ADDS = "the trained H-Net and CNN"
ADDS_ZH = "训练好的 H-Net 和 CNN"


def bench_default():
    d = DEFAULTS
    return turn(d["source"], d["index"], None, d["angle"], d["layer"], d["regime"])


ZH = {
    INTRO: INTRO_ZH,
    **REGIMES_ZH,
    "Turn (°, counter-clockwise)": "转动（°，逆时针）",
    "Layer": "层",
    "Models": "模型",
    "Input (28×28)": "输入（28×28）",
    "H-Net prediction": "H-Net 的预测",
    "CNN prediction": "CNN 的预测",
    HNET_MAPS: f"H-Net：|0 阶流|（上）、|1 阶流|（下），前 {MAPS_SHOWN} 个通道",
    CNN_MAPS: f"CNN：|特征图|，前 {MAPS_SHOWN} 个通道",
    "angle (°)": "角度（°）",
    "accuracy (%)": "准确率（%）",
    "model": "模型",
    "Test accuracy with every test digit turned by the angle": "把每个测试数字都转过这个角度后的测试准确率",
    "Measure equivariance error vs angle": "测量等变误差随角度的变化",
    PHASE_MAPS: f"H-Net 的 1 阶流的彩色图（色相 = 相位，亮度 = 幅值），前 {MAPS_SHOWN} 个通道：未转动的数字（上）和转动后的数字（下）；"
                "转动 θ 会把特征图转过去，并把每个色相平移 θ（式 6）",
    FILTERS: f"H-Net 在本层学到的复数滤波器 W = R(r)e^{{i(mφ+β)}}（色相 = 相位，亮度 = 幅值）：每行一对阶数 m_in → m_out"
             f"（m = m_out − m_in），依次为 0→0、1→0、0→1、1→1（第 1 层的输入只有 0 阶：0→0、0→1），"
             f"前 {MAPS_SHOWN} 个输出通道，输入通道 1",
    FLOOR: "仅检查本身（H-Net 的特征图转 +θ 再转回）",
    FLOOR_NOTE: "第三条线是检查本身的误差：用同样的双线性重采样把 H-Net 的特征图转 +θ 再转 −θ，不经过网络。"
                "在直角转动时它为零，H-Net 的误差在浮点精度以内：等变是精确的。在两者之间，H-Net 的线在这条下限或其下方时（前几层），"
                "这张图无法区分网络本身的误差和重采样的误差；它高出下限时（最后一层，经过两次池化之后），"
                "高出的部分才是网络本身的、近似的等变。",
    "Count the H-Net's errors at random angles by (true, predicted)": "按（真实，预测）统计 H-Net 在随机角度下的错误",
    "true digit": "真实数字",
    "read as": "认成",
    "errors": "错误数",
    "% of errors": "占错误的 %",
    "relative error": "相对误差",
    "network": "网络",
    "‖f(turned x) − turned f(x)‖ / ‖f(x)‖ at this layer": "本层的 ‖f(转动后的 x) − 转动后的 f(x)‖ / ‖f(x)‖",
}
