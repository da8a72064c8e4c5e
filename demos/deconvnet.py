"""Zeiler & Fergus deconvnet tab: project a feature map back to pixels; occlusion sensitivity.

Also the small UI adapters the Grad-CAM tab shares (backbone, layer and class pickers)."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

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
**transposed filters**, and you see the pixels that activation responds to (§2.1). Fig. 2 does this
for one feature map's 9 strongest activations over a whole data set, beside the image patches that
caused them. Then slide a **grey square** over the image: where it hides the object, the class
probability drops and the most probable label changes (§4.2, Fig. 7).
The shipped digits-in-clutter CNN works offline; AlexNet and VGG16 need their ImageNet weights."""
INTRO_ZH = """Zeiler 和 Fergus 给训练好的 CNN 接上一个 *deconvnet*：只保留一个激活，让它沿网络反向走回去——
经过 **反池化**（回到每个最大池化当初取到最大值的位置）、**整流**（ReLU）和 **转置卷积核**——就能看到这个激活
对哪些像素有反应（§2.1）。图 2 对一张特征图在整个数据集上最强的 9 个激活这样做，并把引起它们的图像块放在旁边。
再拿一个 **灰色方块** 在图像上滑动：方块挡住物体时，该类别的概率下降，最可能的类别也随之改变（§4.2，图 7）。
随附的“杂乱背景中的数字”小 CNN 离线即可使用；AlexNet 和 VGG16 需要它们的 ImageNet 权重。"""
ADDS_ZH = {"digits": "一个在杂乱背景中找数字的小 CNN", "alexnet": "AlexNet 的 1000 个 ImageNet 类别，可用于你的照片",
           "vgg16": "VGG16 的 1000 个 ImageNet 类别，可用于你的照片"}

DEFAULT_BACKBONE = "digits"
TOP_CLASS = "top class"
CANVAS_SIDE = deconvnet.CANVAS
DISPLAY_SIDE = 256
GALLERY_SIZE = 9  # this image's 9 strongest maps (Fig. 2 proper, one map's top 9 over a set, is its own tab)
FIG2_CELL = 84  # display side of one projection / patch in the Fig. 2 grids
LEGEND_ROW = 18  # height of one legend row under the Fig. 7(e) label map
# Fig. 7(e)'s label colours (matplotlib's tab10); a class keeps its colour on the digits network
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], np.uint8)
OTHER = np.array((60, 60, 60), np.uint8)  # ImageNet labels beyond the 10 most common in the map
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


# --------------------------------------------------------------------------- Fig. 2: one map's top 9
def fit_cell(rgb: np.ndarray, side: int = FIG2_CELL) -> np.ndarray:
    """A crop enlarged (nearest neighbour, aspect kept) and padded to a side×side cell."""
    return np.asarray(ImageOps.pad(Image.fromarray(rgb), (side, side), Image.NEAREST, color=(255, 255, 255)))


def grid3(cells: list[np.ndarray], gap: int = 3) -> np.ndarray:
    """Up to 9 equal cells in a 3×3 grid (white gaps), row by row."""
    side = cells[0].shape[0]
    out = np.full((3 * side + 2 * gap, 3 * side + 2 * gap, 3), 255, np.uint8)
    for k, cell in enumerate(cells):
        r, c = divmod(k, 3)
        out[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = cell
    return out


def fig2_image(tops: list[deconvnet.TopActivation], canvases: torch.Tensor, gap: int = 12) -> np.ndarray:
    """The paper's Fig. 2 layout: the projections (left 3×3) beside their input patches (right 3×3),
    each cropped to the unit's receptive field."""
    projections, patches = [], []
    for top in tops:
        x0, y0, x1, y1 = top.box
        projections.append(fit_cell(deconvnet.projection_image(top.pixels[:, y0:y1, x0:x1])))
        patch = (canvases[top.image, 0, y0:y1, x0:x1].numpy() * 255).round().astype(np.uint8)  # (h, w) grey
        patches.append(fit_cell(np.repeat(patch[..., None], 3, axis=2)))
    left, right = grid3(projections), grid3(patches)
    return np.concatenate([left, np.full((left.shape[0], gap, 3), 255, np.uint8), right], axis=1)


@gpu(duration=60)
@friendly_errors
def top9(key: str, layer: str, channel: float, request: gr.Request = None):
    """Fig. 2 for one feature map of the shipped digits CNN: its 9 strongest activations over the
    held-out canvases, each projected alone, beside the input patch under its receptive field."""
    if key != "digits":  # a message, not an error: this runs when the visitor opens the tab
        return None, say(request, "Fig. 2 needs a data set to search: it runs on the shipped digits CNN over "
                         "held-out digit canvases. Choose that network.",
                         "图 2 需要在一个数据集上搜索：它在随附的数字 CNN 和留出的数字画布上运行。请选择该网络。")
    if layer not in layers_of(key):
        raise gr.Error(f"Pick a layer of this network: {', '.join(layers_of(key))}.")
    try:
        channel = int(channel or 0)
    except (TypeError, ValueError, OverflowError):
        raise gr.Error(f"The feature map number must be a whole number (got {channel!r}).") from None
    load(key)  # missing weights become a message
    try:
        tops = deconvnet.shipped_top_activations(layer, channel, get_device())
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    if tops[0].value <= 0:
        return None, say(request, f"**{layer}**, feature map **{channel}** never fires on the "
                         f"{deconvnet.FIG2_CANVASES} held-out canvases (a dead ReLU unit): nothing to project. "
                         "Try another map.",
                         f"**{layer}** 第 **{channel}** 张特征图在 {deconvnet.FIG2_CANVASES} 张留出画布上从未激活"
                         "（一个“死”的 ReLU 单元）：没有可投影的东西。请换一张特征图。")
    side = max(max(top.box[2] - top.box[0], top.box[3] - top.box[1]) for top in tops)
    values = ", ".join(f"{top.value:.2f}" for top in tops)
    where = ", ".join(f"#{top.image}" for top in tops)
    info = say(request,
               f"**{layer}**, feature map **{channel}**: its {len(tops)} strongest "
               f"activations over {deconvnet.FIG2_CANVASES} held-out test canvases (one per canvas; values {values}; "
               f"canvases {where}). Left: each activation projected down alone by the deconvnet (§2.1); right: "
               f"the input patch under that unit's receptive field (up to {side}×{side} px, less at the border). "
               "Similar patches on the right = the map detects one kind of structure.",
               f"**{layer}** 第 **{channel}** 张特征图：在 {deconvnet.FIG2_CANVASES} 张留出的测试画布上它最强的 "
               f"{len(tops)} 个激活（每张画布取一个；值 {values}；画布 {where}）。左：每个激活单独经 deconvnet 投影回像素"
               f"（§2.1）；右：该单元感受野下的输入图块（最大 {side}×{side} 像素，靠近边界时更小）。"
               "右边的图块彼此相似，说明这张特征图检测的是同一类结构。")
    return fig2_image(tops, deconvnet.fig2_canvases()), info


# --------------------------------------------------------------------------- occlusion (§4.2)
def label_colours(labels: np.ndarray, classes: int) -> dict[int, np.ndarray]:
    """A colour per label: fixed per digit with ≤ 10 classes; else the 10 most common labels in the map."""
    if classes <= len(PALETTE):
        return {c: PALETTE[c] for c in range(classes)}
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    return {int(c): PALETTE[k] for k, c in enumerate(found[np.argsort(-counts, kind="stable")][:len(PALETTE)])}


def label_map_image(view: np.ndarray, labels: np.ndarray, names: list[str], opacity: float) -> np.ndarray:
    """Fig. 7(e): the most probable label per pixel (H, W; -1 = not yet) as colours over the view,
    enlarged, with a legend of the labels present (most area first) drawn under it."""
    colours = label_colours(labels, len(names))
    colour = np.zeros(view.shape, np.float64)
    for label in np.unique(labels[labels >= 0]):
        colour[labels == label] = colours.get(int(label), OTHER)
    blend = np.where((labels >= 0)[..., None], view * (1 - opacity) + colour * opacity, view)
    image = enlarge(blend.round().clip(0, 255).astype(np.uint8))
    present, counts = np.unique(labels[labels >= 0], return_counts=True)
    present = present[np.argsort(-counts, kind="stable")]
    shown = [int(c) for c in present if int(c) in colours][:len(PALETTE)]
    per_row = 5 if len(names) <= len(PALETTE) else 2
    rows = -(-len(shown) // per_row) if shown else 0
    legend = Image.new("RGB", (image.shape[1], rows * LEGEND_ROW + (LEGEND_ROW if len(shown) < len(present) else 0)),
                       (255, 255, 255))
    draw, width = ImageDraw.Draw(legend), image.shape[1] // per_row
    for k, label in enumerate(shown):
        x, y = (k % per_row) * width + 2, (k // per_row) * LEGEND_ROW + 2
        draw.rectangle((x, y + 1, x + 12, y + 13), fill=tuple(int(v) for v in colours[label]))
        name = names[label].replace("digit ", "")
        while len(name) > 4 and draw.textlength(name) > width - 20:  # fit its column
            name = name.removesuffix("...")[:-1] + "..."
        draw.text((x + 16, y + 1), name, fill=(0, 0, 0))
    if len(shown) < len(present):
        draw.rectangle((2, rows * LEGEND_ROW + 3, 14, rows * LEGEND_ROW + 15), fill=tuple(int(v) for v in OTHER))
        draw.text((18, rows * LEGEND_ROW + 3), f"+{len(present) - len(shown)}", fill=(0, 0, 0))
    return np.concatenate([image, np.asarray(legend)], axis=0) if legend.height else image


@gpu(duration=OCCLUSION_BUDGET_S + GPU_MARGIN_S)
@friendly_errors
def occlude(image, key: str, layer: str, class_choice: str, size: float, stride: float, opacity: float,
            request: gr.Request = None):
    """Stream Fig. 7's maps (class probability, strongest feature map, most probable label) as they fill in."""
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
        labels = label_map_image(view, maps_so_far.label_pixels(size), names, opacity)
        done = maps_so_far.done == maps_so_far.total
        name, p0 = class_name(names[class_idx], request), float(probs[class_idx])
        top_name = class_name(names[int(probs.argmax())], request)
        info = say(request,
                   f"{maps_so_far.done}/{maps_so_far.total} square positions. (d): p(**{name}**) while "
                   f"each pixel is covered (unoccluded: {p0:.3f}; blue = the probability drops, "
                   f"red = unchanged). (b): total activation of {layer} map {channel}, the strongest on the "
                   "unoccluded image (blue = covering this spot silences it). (e): the most probable label with "
                   f"the square centred nearest each pixel (unoccluded: **{top_name}**; another colour = "
                   "hiding this spot changes the answer).",
                   f"方块位置 {maps_so_far.done}/{maps_so_far.total}。(d)：每个像素被遮住时的 p(**{name}**)"
                   f"（不遮挡时为 {p0:.3f}；蓝 = 概率下降，红 = 不变）。(b)：{layer} 第 {channel} 张特征图（未遮挡图像上"
                   "最强的一张）的总激活（蓝 = 遮住这里它就沉默了）。(e)：方块中心离该像素最近时最可能的类别"
                   f"（不遮挡时为 **{top_name}**；换了颜色 = 遮住这里答案就变了）。")
        yield enlarge(prob), enlarge(act), labels, info
        if not done and time.perf_counter() - start > OCCLUSION_BUDGET_S:
            yield enlarge(prob), enlarge(act), labels, info + say(
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
    away = results.figure(SLUG, 'label_map_follows_the_digit', unit=' %')
    on_digit = results.figure(SLUG, 'label_map_follows_the_digit', 'on_digit', unit=' %')
    return localized(measured_note_en(), "随附的数字 CNN 上的实测（`python -m papers.reproduce deconvnet`，每个随机种子都换一批"
                     f"新的测试画布）：它能认出 **{zh_figure(accuracy)}** 的杂乱背景测试数字；在 "
                     f"**{zh_figure(localises)}** 的测试画布上，灰色方块挡住数字时该数字概率的下降比挡住杂物时更多（§4.2）。"
                     f"图 7(e)：方块不碰数字时，**{zh_figure(away)}** 的方块位置上最可能的类别仍是真实数字；方块盖住数字中心时"
                     f"只有 **{zh_figure(on_digit)}**。")


def measured_note_en() -> str:
    from papers import results

    return (f"Measured on the shipped digits CNN (`python -m papers.reproduce deconvnet`, each seed new test "
            f"canvases): it reads **{results.figure(SLUG, 'test_accuracy', unit=' %')}** of cluttered test digits, "
            "and the grey square lowers the digit's probability more on the digit than on the clutter for "
            f"**{results.figure(SLUG, 'occlusion_localises', unit=' %')}** of test canvases (§4.2). Fig. 7(e): "
            "with the square away from the digit the most probable label is still the true digit at "
            f"**{results.figure(SLUG, 'label_map_follows_the_digit', unit=' %')}** of square positions; with it "
            f"on the digit's centre, at **{results.figure(SLUG, 'label_map_follows_the_digit', 'on_digit', unit=' %')}**.")


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
                gallery = gr.Gallery(label=t(f"This image's {GALLERY_SIZE} strongest feature maps in the layer, each "
                                             "projected (one image; Fig. 2 proper is the next tab)"),
                                     columns=9, height=160)
            with gr.Tab(t("Fig. 2: one map's top 9 over a data set")):
                with gr.Row():
                    fig2_channel = gr.Number(0, precision=0, minimum=0, label=t("Feature map number"))
                    fig2_run = gr.Button(t("Find its 9 strongest activations"), variant="primary")
                fig2_info = gr.Markdown()
                fig2 = gr.Image(label=t("Deconvnet projections (left) and the input patches under them (right)"),
                                height=300)
                on_tab_open(top9, [fig2, fig2_info], [net, layer, fig2_channel])  # when this sub-tab is selected
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
                    prob_map = gr.Image(label=t("Fig. 7(d): class probability"), height=280)
                    act_map = gr.Image(label=t("Fig. 7(b): strongest feature map"), height=280)
                    label_map = gr.Image(label=t("Fig. 7(e): most probable label"), height=280)
    note = gr.Markdown(backbone_note_value(DEFAULT_BACKBONE))  # below the main content
    on_tab_open(project, [recon, where, gallery, info], [image, net, layer, strongest, channel, whole])

    net.change(on_backbone_change, net, [note, layer, target], api_visibility="private")
    net.change(occlusion_defaults, net, [size, stride], api_visibility="private")
    run.click(project, [image, net, layer, strongest, channel, whole], [recon, where, gallery, info],
              api_name=f"{SLUG}_project", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    fig2_run.click(top9, [net, layer, fig2_channel], [fig2, fig2_info], api_name=f"{SLUG}_top9",
                   concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    event = go.click(occlude, [image, net, layer, target, size, stride, opacity],
                     [prob_map, act_map, label_map, occ_info],
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
    f"This image's {GALLERY_SIZE} strongest feature maps in the layer, each projected (one image; Fig. 2 proper is "
    "the next tab)": f"这张图像在该层最强的 {GALLERY_SIZE} 张特征图，各自投影回像素（只看一张图像；真正的图 2 在下一个标签页）",
    "Fig. 2: one map's top 9 over a data set": "图 2：一张特征图在整个数据集上最强的 9 个激活",
    "Feature map number": "特征图编号",
    "Find its 9 strongest activations": "找出它最强的 9 个激活",
    "Deconvnet projections (left) and the input patches under them (right)": "Deconvnet 投影（左）及其下方的输入图块（右）",
    "Occlusion sensitivity (§4.2)": "遮挡敏感性（§4.2）",
    "Class (type to search)": "类别（可输入搜索）",
    "Grey square (px)": "灰色方块（像素）",
    "Stride (px)": "步长（像素）",
    "Heatmap opacity": "热力图不透明度",
    "Slide the grey square": "滑动灰色方块",
    "Stop": "停止",
    "Fig. 7(d): class probability": "图 7(d)：类别概率",
    "Fig. 7(b): strongest feature map": "图 7(b)：最强的特征图",
    "Fig. 7(e): most probable label": "图 7(e)：最可能的类别",
}
