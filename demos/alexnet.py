"""AlexNet tab: classify a photo, ten-crop averaging, first-layer kernels, activations, layer table."""
from __future__ import annotations

import gradio as gr
import numpy as np
from PIL import Image

import pandas as pd

from demos.common import (example_paths, friendly_errors, header, heavy_id, on_tab_open, read_image, weights_note,
                          weights_note_zh)
from demos.i18n import localized, request_locale, say, t, zh_figure
from papers import alexnet
from demos.deconvnet import load_remembering_failure
from papers.checkpoints import get_device, gpu, is_available_locally

SLUG = "alexnet"
TITLE = "AlexNet"
PAPER_URL = "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks"
INTRO = """The 2012 network that started the deep-learning era: 5 conv + 3 fully connected layers,
ReLU, local response normalisation, overlapping max-pooling, dropout, and a model split over **two
GPUs** (grouped convolutions: conv2, conv4, conv5 see only their own GPU's half). The architecture,
the layer table and the towers work without weights; classifying photos needs torchvision's ImageNet weights."""
INTRO_ZH = """开启深度学习时代的 2012 年网络：5 个卷积层 + 3 个全连接层，ReLU、局部响应归一化、重叠最大池化、
dropout，整个模型拆在 **两块 GPU** 上（分组卷积：conv2、conv4、conv5 只看本 GPU 上的那一半）。结构图、
逐层表和双塔示意不需要权重；给照片分类需要 torchvision 的 ImageNet 权重。"""
ADDS_ZH = "ImageNet 前 5 名类别、十裁剪平均、训练好的（类似 Gabor 的）第一层卷积核和各层激活"
TABLE_HEADERS_ZH = ["层", "输出形状", "神经元", "参数", "乘加次数", "塔"]
TOWERS_ZH = {"own tower": "只看本塔", "both towers (crosses)": "读两个塔（交叉）",
             "each tower sees the image": "每个塔都看整张图像", "single tower": "单塔", "total": "合计"}

EXAMPLES = ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg", "coins.png")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
ADDS = "ImageNet top-5 labels, ten-crop averaging, trained (Gabor-like) first-layer kernels and activations"
TABLE_HEADERS = ["layer", "output shape", "neurons", "parameters", "multiply-adds", "towers"]


def measured_note():
    """measured_note_en and its Chinese, shown in the visitor's language."""
    from papers import results

    relu, tanh = results.value(SLUG, "relu_vs_tanh_epochs"), results.value(SLUG, "relu_vs_tanh_epochs", "tanh")
    verdict = "" if relu is None or tanh is None else (
        "在这个规模上 ReLU 先达到。" if relu < tanh else
        "在这个规模上看不到论文的效果：在这些简单的数字上 tanh 反而先达到（论文用的是难得多的 CIFAR-10）。")
    zh = ("**小规模复现图 1**（`python -m papers.reproduce alexnet`）：一个四层小 CNN 在离线数字数据上训练两次，"
          "一次用 ReLU、一次用 tanh，学习率按论文的做法分别为两个网络挑选。"
          f"训练误差降到 {results.setting('25 %')} 所需的轮数：ReLU **{zh_figure(results.figure(SLUG, 'relu_vs_tanh_epochs'))}**，"
          f"tanh **{zh_figure(results.figure(SLUG, 'relu_vs_tanh_epochs', 'tanh'))}**；ReLU 的速度是 tanh 的 "
          f"**{zh_figure(results.figure(SLUG, 'relu_speedup', unit='×'))}**（论文，CIFAR-10："
          f"{results.paper_figure(SLUG, 'relu_speedup', '×', digits=0)}）。{verdict}")
    return localized(measured_note_en(), zh)


def measured_note_en() -> str:
    """What can be measured offline (results/alexnet.json): Fig. 1 at toy scale, with seeds."""
    from papers import results

    relu, tanh = results.value(SLUG, "relu_vs_tanh_epochs"), results.value(SLUG, "relu_vs_tanh_epochs", "tanh")
    verdict = "" if relu is None or tanh is None else (
        " At this scale ReLU gets there first." if relu < tanh else
        " At this scale the paper's effect does not show: tanh gets there first on these easy digits "
        "(the paper trained on CIFAR-10, a much harder task).")
    return ("**Fig. 1 at toy scale** (`python -m papers.reproduce alexnet`): a small four-layer CNN on the offline "
            f"digits, once with ReLUs and once with tanh units, learning rate chosen per network as in the paper. "
            f"Epochs to {results.setting('25 %')} training error: ReLU **{results.figure(SLUG, 'relu_vs_tanh_epochs')}**, "
            f"tanh **{results.figure(SLUG, 'relu_vs_tanh_epochs', 'tanh')}**; ReLU is "
            f"**{results.figure(SLUG, 'relu_speedup', unit='×')}** as fast (paper, CIFAR-10: "
            f"{results.paper_figure(SLUG, 'relu_speedup', '×', digits=0)}).{verdict}")


def architecture_label():
    from papers import results

    zh = (f"逐层统计，输入一张 224×224 图像：论文中的网络有 {zh_figure(results.figure(SLUG, 'params_original', unit=' M'))} 参数、"
          f"{zh_figure(results.figure(SLUG, 'neurons_original'))} 个神经元（论文："
          f"{results.paper_figure(SLUG, 'params_original', ' M', digits=0)} 和 "
          f"{results.paper_figure(SLUG, 'neurons_original')}）")
    return localized(architecture_label_en(), zh)


def architecture_label_en() -> str:
    from papers import results

    return (f"Per layer, for one 224×224 image: {results.figure(SLUG, 'params_original', unit=' M')} parameters and "
            f"{results.figure(SLUG, 'neurons_original')} neurons for the paper's network (the paper: "
            f"{results.paper_figure(SLUG, 'params_original', ' M', digits=0)} and "
            f"{results.paper_figure(SLUG, 'neurons_original')})")


def weights_state() -> str:
    return weights_note(alexnet.IMAGENET, adds=ADDS)


def weights_state_value():
    """The full weights note (inside the Classify tab), in the visitor's language."""
    return localized(weights_state(), weights_note_zh(alexnet.IMAGENET, adds=ADDS_ZH))


def short_weights_note():
    """One line below the architecture: whether photos can be classified here."""
    ckpt = alexnet.IMAGENET
    if is_available_locally(ckpt):
        return localized(f"**{ckpt.name}** weights: found locally ({ckpt.size_text()}); classify photos in the "
                         "**Classify a photo** tab.",
                         f"**{ckpt.name}** 权重：已在本地找到（{ckpt.size_text()}）；可在 **给照片分类** 页中给照片分类。")
    return localized(f"Classifying photos needs the ImageNet weights ({ckpt.size_text()}), not found here: the "
                     "**Classify a photo** tab says how to get them.",
                     f"给照片分类需要 ImageNet 权重（{ckpt.size_text()}），这里没有找到：**给照片分类** 页里写了获取方法。")


def table(variant: str) -> list[list]:
    rows = alexnet.layer_table(variant)
    body = [[r.layer, "×".join(map(str, r.output_shape)), f"{r.neurons:,}", f"{r.parameters:,}",
             f"{r.mult_adds:,}", r.towers] for r in rows]
    total = ["total", "", f"{sum(r.neurons for r in rows):,}", f"{sum(r.parameters for r in rows):,}",
             f"{sum(r.mult_adds for r in rows):,}", ""]
    return body + [total]


@gpu(duration=30)
@friendly_errors
def architecture(variant: str, request: gr.Request = None):
    """Layer table, tower diagram and first-layer kernels (trained ones when the weights are here)."""
    if variant not in alexnet.VARIANTS:
        raise gr.Error(say(request, f"Unknown variant {variant!r}.", f"没有这个变体：{variant!r}。"))
    rows, headers = table(variant), TABLE_HEADERS
    if request_locale(request) == "zh-CN":
        rows, headers = [[TOWERS_ZH.get(cell, cell) for cell in row] for row in rows], TABLE_HEADERS_ZH
    return pd.DataFrame(rows, columns=headers), alexnet.tower_diagram(variant), kernels(variant, request)


def kernels(variant: str, request=None) -> gr.Image:
    """Fig. 3's grid: trained kernels when the ImageNet weights are here, else a random initialisation."""
    conv = alexnet.first_layer(variant)
    caption = say(request, "random initialisation (no trained weights for this variant)", "随机初始化（这个变体没有训练好的权重）")
    if variant == "torchvision":
        if is_available_locally(alexnet.IMAGENET):
            conv = alexnet.imagenet_model(get_device()).features[0]
            caption = say(request, "trained on ImageNet", "在 ImageNet 上训练")
        else:
            caption = say(request, "random initialisation; the ImageNet weights show edges and colour blobs",
                          "随机初始化；ImageNet 权重会显示出边缘和色块")
    towers = alexnet.VARIANTS[variant].towers
    where = say(request, " (left: GPU 1, right: GPU 2)", "（左：GPU 1，右：GPU 2）") if towers > 1 else ""
    return gr.Image(value=alexnet.kernels_grid(conv.weight, towers),
                    label=say(request, f"First-layer kernels{where}: {caption}", f"第一层卷积核{where}：{caption}"))


@gpu(duration=30)
@friendly_errors
def classify(image, ten_crop: bool, layer: str, request: gr.Request = None):
    """Top-5 (single centre crop), optionally the ten-crop average, and one layer's activations."""
    clean = read_image(image)
    if layer not in LAYERS:
        raise gr.Error(say(request, f"Pick one of {', '.join(LAYERS)}.", f"请从 {', '.join(LAYERS)} 中选一个。"))
    model = load_remembering_failure(alexnet.IMAGENET, alexnet.imagenet_model)
    names = alexnet.imagenet_categories()
    single = alexnet.class_probabilities(model, clean.rgb)
    top = dict(alexnet.top_k(single, names))
    text = say(request, f"Centre crop: **{max(top, key=top.get)}** ({max(top.values()):.1%}).",
               f"中心裁剪：**{max(top, key=top.get)}**（{max(top.values()):.1%}）。")
    averaged = None
    if ten_crop:
        ten = alexnet.class_probabilities(model, clean.rgb, ten_crop=True)
        averaged = dict(alexnet.top_k(ten, names))
        best = int(ten.argmax())
        changed = (single - ten).abs().sum() / 2
        text += say(request, f" Ten crops: **{names[best]}** ({float(ten[best]):.1%}); the averaging moved "
                    f"{float(changed):.1%} of the probability mass (total variation distance).",
                    f"十裁剪：**{names[best]}**（{float(ten[best]):.1%}）；平均挪动了 {float(changed):.1%} 的概率质量"
                    "（总变差距离）。")
    maps = alexnet.activations(model, clean.rgb, layer)
    return top, averaged, text, alexnet.activation_grid(maps)


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    with gr.Tabs():
        with gr.Tab(t("Architecture")):  # works without weights: what the tab opens on
            variant = gr.Radio([(t("The paper's two-GPU network"), "original"),
                                (t("torchvision (public weights)"), "torchvision")],
                               value="original", label=t("Variant"))
            layers = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, label=architecture_label())
            with gr.Row():
                diagram = gr.Image(label=t("Towers (orange: reads both GPUs)"))
                grid = gr.Image(label=t("First-layer kernels"))
        with gr.Tab(t("Classify a photo")):
            gr.Markdown(weights_state_value())
            with gr.Row():
                with gr.Column(scale=1):
                    image = gr.Image(example_paths(EXAMPLES[0])[0], label=t("Photo"), type="numpy",
                                     sources=["upload", "clipboard"], height=280)
                    gr.Examples(example_paths(*EXAMPLES), inputs=image, label=t("Examples"))
                    ten_crop = gr.Checkbox(True, label=t("Ten-crop averaging (§4.1: corners + centre of the central "
                                                         "256×256, and their mirror images)"))
                    layer = gr.Dropdown([(t(name), name) for name in LAYERS], value="conv1",
                                        label=t("Show this layer's activations"))
                    run = gr.Button(t("Classify"), variant="primary")
                with gr.Column(scale=2):
                    info = gr.Markdown()
                    with gr.Row():
                        single = gr.Label(num_top_classes=5, label=t("Top 5, centre crop"))
                        ten = gr.Label(num_top_classes=5, label=t("Top 5, ten-crop average"))
                    maps = gr.Image(label=t("The 64 strongest feature maps of the chosen layer (white = strong)"))
    gr.Markdown(measured_note())
    gr.Markdown(short_weights_note())  # short, below the main content
    on_tab_open(architecture, [layers, diagram, grid], [variant])  # when the AlexNet tab is opened, not at start-up
    run.click(classify, [image, ten_crop, layer], [single, ten, info, maps], api_name=f"{SLUG}_classify",
              concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    variant.change(architecture, variant, [layers, diagram, grid], api_name=f"{SLUG}_architecture")


def bench_default():
    """Classification when the ImageNet weights are here; otherwise the weight-free architecture view."""
    if not is_available_locally(alexnet.IMAGENET):
        return architecture("original")
    return classify(np.asarray(Image.open(example_paths(EXAMPLES[0])[0])), False, "conv1")


ZH = {
    "Architecture": "网络结构",
    "The paper's two-GPU network": "论文中的双 GPU 网络",
    "torchvision (public weights)": "torchvision（公开权重）",
    "Variant": "变体",
    "Towers (orange: reads both GPUs)": "双塔（橙色：读取两块 GPU 的输出）",
    "First-layer kernels": "第一层卷积核",
    "Classify a photo": "给照片分类",
    "Photo": "照片",
    "Examples": "示例",
    "Ten-crop averaging (§4.1: corners + centre of the central 256×256, and their mirror images)":
        "十裁剪平均（§4.1：中央 256×256 区域的四角 + 中心，以及它们的镜像）",
    **{name: name for name in LAYERS},  # layer names stay as they are
    "Show this layer's activations": "显示这一层的激活",
    "Classify": "分类",
    "Top 5, centre crop": "前 5 名，中心裁剪",
    "Top 5, ten-crop average": "前 5 名，十裁剪平均",
    "The 64 strongest feature maps of the chosen layer (white = strong)": "所选层最强的 64 张特征图（白 = 强）",
}
