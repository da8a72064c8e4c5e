"""Zeiler & Fergus deconvnet tab: project a feature map back to pixels; occlusion sensitivity.

Also the small UI adapters the Grad-CAM tab shares (backbone, layer and class pickers)."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image

from demos.common import (example_paths, friendly_errors, header, heavy_id, on_tab_open, read_image, weights_note,
                          weights_note_zh)
from demos.i18n import localized, say, t
from papers import deconvnet
from papers.checkpoints import GPU_MARGIN_S, Checkpoint, WeightsUnavailable, get_device, gpu

SLUG = "deconvnet"
TITLE = "Deconvnet visualisation"
PAPER_URL = "https://arxiv.org/abs/1311.2901"
INTRO = """Zeiler & Fergus attach a *deconvnet* to a trained CNN: keep one activation, send it back
down through **unpooling** (to where each max-pool found its maximum), **rectification** and the
**transposed filters**, and you see the pixels that activation responds to (§2.1). Then slide a
**grey square** over the image: where it hides the object, the class probability drops (§4.2, Fig. 7).
The shipped digits-in-clutter CNN works offline; AlexNet and VGG16 need their ImageNet weights."""
INTRO_ZH = """Zeiler 和 Fergus 给训练好的 CNN 接上一个 *deconvnet*：只保留一个激活，让它沿网络反向走回去——
经过 **反池化**（回到每个最大池化当初取到最大值的位置）、**整流**（ReLU）和 **转置卷积核**——就能看到这个激活
对哪些像素有反应（§2.1）。再拿一个 **灰色方块** 在图像上滑动：方块挡住物体时，该类别的概率就会下降（§4.2，图 7）。
随附的“杂乱背景中的数字”小 CNN 离线即可使用；AlexNet 和 VGG16 需要它们的 ImageNet 权重。"""
ADDS_ZH = {"digits": "一个在杂乱背景中找数字的小 CNN", "alexnet": "AlexNet 的 1000 个 ImageNet 类别，可用于你的照片",
           "vgg16": "VGG16 的 1000 个 ImageNet 类别，可用于你的照片"}

DEFAULT_BACKBONE = "digits"
TOP_CLASS = "top class"
CANVAS_SIDE = deconvnet.CANVAS
DISPLAY_SIDE = 256
GALLERY_SIZE = 9  # this image's 9 strongest maps (Fig. 2 shows one map's top 9 over a data set)
RETRY_AFTER_S = 300  # how long a failed weights download is not retried
MISSING: dict[str, tuple[float, str]] = {}  # checkpoint file -> (when it failed, message)  # small inputs (64×64 digits) are enlarged for display
OCCLUSION_BUDGET_S = 120
EXAMPLES = ("clutter_digit_9.png", "clutter_digit_8.png", "clutter_digit_5.png", "two_digits_3_7.png",
            "chelsea.jpg", "coffee.jpg", "astronaut.jpg")


# --------------------------------------------------------------------------- shared adapters
def backbone_choices() -> list[tuple]:
    return [(t(b.label), b.key) for b in deconvnet.BACKBONES.values()]


def backbone(key: str) -> deconvnet.Backbone:
    if key not in deconvnet.BACKBONES:
        raise gr.Error(f"Unknown network {key!r}.")
    return deconvnet.BACKBONES[key]


def backbone_note(key: str) -> str:
    chosen = backbone(key)
    return weights_note(chosen.checkpoint, adds=chosen.adds)


def backbone_note_value(key: str):
    """backbone_note in the visitor's language (English and Chinese made together)."""
    chosen = backbone(key)
    return localized(backbone_note(key), weights_note_zh(chosen.checkpoint, adds=ADDS_ZH.get(key, chosen.adds)))


def layer_choices(key: str) -> list[tuple]:
    """conv1..convN as (translated label, value): the names stay, the value the handlers read too."""
    return [(t(name), name) for name in layers_of(key)]


@functools.cache
def layers_of(key: str) -> list[str]:
    """conv1..convN of a backbone, from its architecture (built on the meta device: no weights)."""
    name = backbone(key).key
    with torch.device("meta"):
        if name == "digits":
            network = deconvnet.SmallCNN()
        else:  # torchvision's ImageNet networks, imported only when chosen (a 1.4 s import)
            import torchvision.models

            network = getattr(torchvision.models, name)()
        return list(deconvnet.conv_layers(network.features))


def class_choices(key: str, first: list[int] = ()) -> list[str]:
    """TOP_CLASS, then the classes in `first` (e.g. the top 10), then every class (searchable)."""
    names = backbone(key).categories()
    order = list(first) + [i for i in range(len(names)) if i not in set(first)]
    if key == "digits":  # ten digit names in both languages; ImageNet's 1000 class names stay English
        return [(t(TOP_CLASS), TOP_CLASS)] + [(t(f"{i}: {names[i]}"), f"{i}: {names[i]}") for i in order]
    return [(t(TOP_CLASS), TOP_CLASS)] + [f"{i}: {names[i]}" for i in order]


def class_index(choice: str | None, probs: torch.Tensor, rank: int = 0) -> int:
    """A dropdown value -> class index; TOP_CLASS (or nothing) -> the `rank`-th most likely."""
    if not choice or choice == TOP_CLASS:
        return int(probs.argsort(descending=True)[rank])
    try:
        index = int(str(choice).split(":")[0])
    except ValueError:
        raise gr.Error(f"Pick a class from the list (got {choice!r}).") from None
    if not 0 <= index < len(probs):
        raise gr.Error(f"Class {index} does not exist for this network (0..{len(probs) - 1}).")
    return index


def load_remembering_failure(ckpt: Checkpoint, loader):
    """`loader(device)`, but a checkpoint that just failed to arrive fails again at once for a
    while (offline, each try costs ~25 s of Hub retries) with the same message."""
    failed = MISSING.get(ckpt.filename)
    if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
        raise gr.Error(failed[1])
    try:
        return loader(get_device())
    except WeightsUnavailable as exc:
        MISSING[ckpt.filename] = (time.monotonic(), str(exc))
        raise gr.Error(str(exc)) from None


def load(key: str):
    """The backbone's model on the device (missing weights become a message)."""
    chosen = backbone(key)
    return load_remembering_failure(chosen.checkpoint, chosen.load)


def prepare(image, key: str):
    """Uploaded image -> (model, the square view it sees (uint8 RGB), input tensor on device)."""
    clean = read_image(image)
    chosen = backbone(key)
    model = load(key)
    view = chosen.view(clean.rgb)
    return model, view, chosen.to_tensor(view).to(get_device())


def enlarge(rgb: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Nearest-neighbour enlargement of small images so their pixels stay visible."""
    if max(rgb.shape[:2]) >= side:
        return rgb
    factor = side // max(rgb.shape[:2])
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1)


def on_backbone_change(key: str, request: gr.Request = None):
    layers = layers_of(key)
    chosen = backbone(key)  # the note is made now, so in the visitor's language (a localized() made at
    note = say(request, backbone_note(key),  # request time has no translation registered with the app)
               weights_note_zh(chosen.checkpoint, adds=ADDS_ZH.get(key, chosen.adds)))
    return (note, gr.Dropdown(choices=layer_choices(key), value=layers[-1]),
            gr.Dropdown(choices=class_choices(key), value=TOP_CLASS))


def top_labels(probs: torch.Tensor, names: list[str], k: int, request=None) -> dict[str, float]:
    values, indices = probs.topk(min(k, len(probs)))
    return {f"{int(i)}: {class_name(names[int(i)], request)}": float(v) for v, i in zip(values, indices)}


def class_name(name: str, request=None) -> str:
    """A class name for text made at request time: the digits' in the visitor's language."""
    return say(request, name, name.replace("digit ", "数字 ")) if name.startswith("digit ") else name


# --------------------------------------------------------------------------- deconvnet projection
def mark_box(rgb: np.ndarray, box: tuple[int, int, int, int], colour=(255, 40, 40)) -> np.ndarray:
    out = rgb.copy()
    x0, y0, x1, y1 = box
    out[y0:y1, [x0, x1 - 1]] = colour
    out[[y0, y1 - 1], x0:x1] = colour
    return out


@gpu(duration=60)
@friendly_errors
def project(image, key: str, layer: str, strongest: bool, channel: float, whole_map: bool,
            request: gr.Request = None):
    """The chosen feature map projected to pixels, where it looks, and the layer's 9 strongest maps."""
    model, view, x = prepare(image, key)
    if layer not in layers_of(key):
        raise gr.Error(f"Pick a layer of this network: {', '.join(layers_of(key))}.")
    with torch.no_grad():
        maps, switches = deconvnet.forward_recording(model.features, x, deconvnet.conv_layers(model.features)[layer])
        top = deconvnet.strongest_channels(maps, GALLERY_SIZE)
        picked = top[0] if strongest else int(channel or 0)
        chosen, *ranked = deconvnet.backproject(model.features, maps, switches, [picked] + top, whole_map)
    box = deconvnet.receptive_box(chosen.pixels)
    gallery = [(enlarge(deconvnet.projection_image(p.pixels)),
                say(request, f"map {p.channel}: {p.value:.2f}", f"特征图 {p.channel}：{p.value:.2f}")) for p in ranked]
    what = "the whole map" if whole_map else f"its strongest activation (at {chosen.position}, value {chosen.value:.2f})"
    what_zh = "整张特征图" if whole_map else f"它最强的那个激活（位置 {chosen.position}，值 {chosen.value:.2f}）"
    info = say(request, f"**{layer}**, feature map **{chosen.channel}** of {maps.shape[1]}; kept {what}. "
               "Red box: where the reconstruction is strongest (the part of the image this map responds to).",
               f"**{layer}**，共 {maps.shape[1]} 张特征图中的第 **{chosen.channel}** 张；保留了{what_zh}。"
               "红框：重建最强的地方（这张特征图所响应的图像部分）。")
    return (enlarge(deconvnet.projection_image(chosen.pixels)), enlarge(mark_box(view, box)), gallery, info)


# --------------------------------------------------------------------------- occlusion (§4.2)
@gpu(duration=OCCLUSION_BUDGET_S + GPU_MARGIN_S)
@friendly_errors
def occlude(image, key: str, layer: str, class_choice: str, size: float, stride: float, opacity: float,
            request: gr.Request = None):
    """Stream the two occlusion maps (class probability, strongest feature map) as they fill in."""
    model, view, x = prepare(image, key)
    if layer not in layers_of(key):
        raise gr.Error(f"Pick a layer of this network: {', '.join(layers_of(key))}.")
    size, stride = int(size), int(stride)
    names = backbone(key).categories()
    with torch.no_grad():
        probs = model(x).softmax(-1)[0].cpu()
        maps, _ = deconvnet.forward_recording(model.features, x, deconvnet.conv_layers(model.features)[layer])
    class_idx = class_index(class_choice, probs)
    channel = int(maps[0].flatten(1).amax(1).argmax())
    side = x.shape[-1]
    size, stride = min(size, side), min(stride, side)
    start = time.perf_counter()
    for maps_so_far in deconvnet.occlusion(model, x, class_idx, layer, channel, size, stride):
        prob = deconvnet.heatmap_overlay(view, maps_so_far.probability, opacity, 0.0, float(probs[class_idx]))
        act = deconvnet.heatmap_overlay(view, maps_so_far.activation, opacity)
        done = maps_so_far.done == maps_so_far.total
        name, p0 = class_name(names[class_idx], request), float(probs[class_idx])
        info = say(request,
                   f"{maps_so_far.done}/{maps_so_far.total} square positions. Left: p(**{name}**) while "
                   f"each pixel is covered (unoccluded: {p0:.3f}; blue = the probability drops, "
                   f"red = unchanged). Right: total activation of {layer} map {channel}, the strongest on the "
                   "unoccluded image (blue = covering this spot silences it).",
                   f"方块位置 {maps_so_far.done}/{maps_so_far.total}。左：每个像素被遮住时的 p(**{name}**)"
                   f"（不遮挡时为 {p0:.3f}；蓝 = 概率下降，红 = 不变）。右：{layer} 第 {channel} 张特征图（未遮挡图像上"
                   "最强的一张）的总激活（蓝 = 遮住这里它就沉默了）。")
        yield enlarge(prob), enlarge(act), info
        if not done and time.perf_counter() - start > OCCLUSION_BUDGET_S:
            yield enlarge(prob), enlarge(act), info + say(
                request, f"\n\nStopped after {OCCLUSION_BUDGET_S} s: use a larger stride.",
                f"\n\n{OCCLUSION_BUDGET_S} 秒后已停止：请加大步长。")
            return


def occlusion_defaults(key: str):
    """Square and stride scaled to the input (the paper's Fig. 7 used ~50 px squares at 224)."""
    side = backbone(key).input_size
    return gr.Slider(maximum=side, value=side * 3 // 14), gr.Slider(maximum=side // 2, value=side // 14)


# --------------------------------------------------------------------------- layout
def measured_note():
    """What the shipped digits CNN measurably does (results/deconvnet.json, with seeds), in both languages."""
    from demos.i18n import zh_figure
    from papers import results

    accuracy = results.figure(SLUG, 'test_accuracy', unit=' %')
    localises = results.figure(SLUG, 'occlusion_localises', unit=' %')
    return localized(measured_note_en(), "随附的数字 CNN 上的实测（`python -m papers.reproduce deconvnet`，每个随机种子都换一批"
                     f"新的测试画布）：它能认出 **{zh_figure(accuracy)}** 的杂乱背景测试数字；在 "
                     f"**{zh_figure(localises)}** 的测试画布上，灰色方块挡住数字时该数字概率的下降比挡住杂物时更多（§4.2）。")


def measured_note_en() -> str:
    from papers import results

    return (f"Measured on the shipped digits CNN (`python -m papers.reproduce deconvnet`, each seed new test "
            f"canvases): it reads **{results.figure(SLUG, 'test_accuracy', unit=' %')}** of cluttered test digits, "
            "and the grey square lowers the digit's probability more on the digit than on the clutter for "
            f"**{results.figure(SLUG, 'occlusion_localises', unit=' %')}** of test canvases (§4.2).")


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    gr.Markdown(measured_note())
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(example_paths(EXAMPLES[0])[0], label=t("Image"), type="numpy", sources=["upload", "clipboard"], height=280)
            gr.Examples(example_paths(*EXAMPLES), inputs=image, examples_per_page=8, label=t("Examples"))
            net = gr.Radio(backbone_choices(), value=DEFAULT_BACKBONE, label=t("Network"))
            layers = layers_of(DEFAULT_BACKBONE)
            layer = gr.Dropdown(layer_choices(DEFAULT_BACKBONE), value=layers[-1], label=t("Layer"))
        with gr.Column(scale=2):
            with gr.Tab(t("Deconvnet projection (§2.1)")):
                with gr.Row():
                    strongest = gr.Checkbox(True, label=t("Strongest feature map"))
                    channel = gr.Number(0, precision=0, minimum=0, label=t("…or feature map number"))
                    whole = gr.Checkbox(False, label=t("Keep the whole map (not just its top activation)"))
                run = gr.Button(t("Project to pixels"), variant="primary")
                info = gr.Markdown()
                with gr.Row():
                    recon = gr.Image(label=t("Reconstruction (deconvnet)"), height=280)
                    where = gr.Image(label=t("Where it looks"), height=280)
                gallery = gr.Gallery(label=t(f"The layer's {GALLERY_SIZE} strongest feature maps, each projected"), columns=9,
                                     height=160)
            with gr.Tab(t("Occlusion sensitivity (§4.2)")):
                with gr.Row():
                    target = gr.Dropdown(class_choices(DEFAULT_BACKBONE), value=TOP_CLASS, filterable=True,
                                         label=t("Class (type to search)"))
                    size = gr.Slider(1, CANVAS_SIDE, value=CANVAS_SIDE * 3 // 14, step=1, label=t("Grey square (px)"))
                    stride = gr.Slider(1, CANVAS_SIDE // 2, value=CANVAS_SIDE // 14, step=1, label=t("Stride (px)"))
                    opacity = gr.Slider(0, 1, value=0.5, step=0.05, label=t("Heatmap opacity"))
                with gr.Row():
                    go = gr.Button(t("Slide the grey square"), variant="primary")
                    stop = gr.Button(t("Stop"))
                occ_info = gr.Markdown()
                with gr.Row():
                    prob_map = gr.Image(label=t("(a) class probability"), height=280)
                    act_map = gr.Image(label=t("(b) strongest feature map"), height=280)
    note = gr.Markdown(backbone_note_value(DEFAULT_BACKBONE))  # below the main content
    on_tab_open(project, [recon, where, gallery, info], [image, net, layer, strongest, channel, whole])

    net.change(on_backbone_change, net, [note, layer, target], api_visibility="private")
    net.change(occlusion_defaults, net, [size, stride], api_visibility="private")
    run.click(project, [image, net, layer, strongest, channel, whole], [recon, where, gallery, info],
              api_name=f"{SLUG}_project", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    event = go.click(occlude, [image, net, layer, target, size, stride, opacity], [prob_map, act_map, occ_info],
                     api_name=f"{SLUG}_occlude", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop.click(None, None, None, cancels=[event], api_visibility="private")



def bench_default():
    example = example_paths(EXAMPLES[0])[0]
    return project(np.asarray(Image.open(example)), DEFAULT_BACKBONE, layers_of(DEFAULT_BACKBONE)[-1], True, 0, False)


ZH = {
    "Digits-in-clutter CNN (offline, shipped)": "杂乱背景数字 CNN（离线可用，随附）",
    "AlexNet (ImageNet)": "AlexNet（ImageNet）",
    "VGG16 (ImageNet)": "VGG16（ImageNet）",
    **{f"conv{i}": f"conv{i}" for i in range(1, 14)},  # layer names stay as they are
    TOP_CLASS: "最可能的类别",
    **{f"{i}: digit {i}": f"{i}：数字 {i}" for i in range(10)},
    "Image": "图像",
    "Examples": "示例",
    "Network": "网络",
    "Layer": "层",
    "Deconvnet projection (§2.1)": "Deconvnet 投影（§2.1）",
    "Strongest feature map": "最强的特征图",
    "…or feature map number": "……或指定特征图编号",
    "Keep the whole map (not just its top activation)": "保留整张特征图（不只是最强的激活）",
    "Project to pixels": "投影回像素",
    "Reconstruction (deconvnet)": "重建（deconvnet）",
    "Where it looks": "它在看哪里",
    f"The layer's {GALLERY_SIZE} strongest feature maps, each projected": f"该层最强的 {GALLERY_SIZE} 张特征图，各自投影回像素",
    "Occlusion sensitivity (§4.2)": "遮挡敏感性（§4.2）",
    "Class (type to search)": "类别（可输入搜索）",
    "Grey square (px)": "灰色方块（像素）",
    "Stride (px)": "步长（像素）",
    "Heatmap opacity": "热力图不透明度",
    "Slide the grey square": "滑动灰色方块",
    "Stop": "停止",
    "(a) class probability": "(a) 类别概率",
    "(b) strongest feature map": "(b) 最强的特征图",
}
