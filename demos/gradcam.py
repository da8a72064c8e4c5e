"""Grad-CAM tab: which pixels made the network say this class (and which argue against it)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch
from PIL import Image

from demos.common import example_paths, friendly_errors, header, heavy_id, on_tab_open
from demos.i18n import localized, say, t, zh_figure
from demos.deconvnet import (DEFAULT_BACKBONE, EXAMPLES, TOP_CLASS, backbone, backbone_choices, backbone_note,
                             backbone_note_value, class_choices, class_index, class_name, enlarge, layer_choices,
                             layers_of, on_backbone_change, prepare, top_labels)
from papers import deconvnet, gradcam
from papers.checkpoints import gpu

SLUG = "gradcam"
TITLE = "Grad-CAM"
PAPER_URL = "https://arxiv.org/abs/1610.02391"
INTRO = """Grad-CAM weighs each feature map of a conv layer by how much the class score's gradient
says it matters (Eq. 1: global-average-pooled gradients) and keeps the positive sum (Eq. 2): a
coarse map of the evidence *for* a class. Times Guided Backpropagation it becomes fine-grained
(Guided Grad-CAM); negating the gradients shows what argues *against* the class (counterfactual).
Try the two-digit example with "3" and "7" side by side (the paper's cat-and-dog figure)."""
INTRO_ZH = """Grad-CAM 按类别得分的梯度给某个卷积层的每张特征图加权（公式 1：对梯度做全局平均池化），
再只保留加权和中为正的部分（公式 2）：得到一张粗略的图，标出支持该类别的证据。与 Guided Backpropagation
相乘后就变得精细（Guided Grad-CAM）；把梯度取反，则显示反对该类别的证据（反事实解释）。
试试“3”和“7”并排的双数字示例（相当于论文里猫和狗同框的那张图）。"""
LABELS_ZH = {"ours": "conv4（最后一个卷积层）上的 Grad-CAM", "conv1": "conv1 上的 Grad-CAM", "conv2": "conv2 上的 Grad-CAM",
             "conv3": "conv3 上的 Grad-CAM", "guided_grad_cam": "Guided Grad-CAM（conv4）",
             "image": "图像本身（不看类别）",
             "guided_backprop": "Guided Backprop（|梯度|，模糊后）", "blurred_image": "模糊图像的最亮点（不看类别）",
             "chance": "随机一点（数字框占画布的平均比例）"}

TOP_K = 10
SECOND_BEST = "second most likely class"


def measured_note():
    """measured_note_en and its Chinese, shown in the visitor's language."""
    return localized(measured_note_en(), measured_note_zh())


def _row(claim: str, zh: bool = False, unit: str = " %") -> str:
    """One claim's figures (results/gradcam.json): each method's name and its figure."""
    from papers import results

    found = results.claim(SLUG, claim) or {}
    labels = {**LABELS_ZH, **FAITHFULNESS_LABELS_ZH} if zh and claim in ("faithfulness", "class_sensitivity") else \
        LABELS_ZH if zh else found.get("labels", {})
    cells = [f"{labels.get(key, key)}{'：' if zh else ': '}**{results.figure(SLUG, claim, key, unit)}**"
             for key in ["ours", *found.get("baselines", {})]]
    return zh_figure(("；" if zh else "; ").join(cells)) if zh else "; ".join(cells)


FAITHFULNESS_LABELS_ZH = {"guided_backprop": "Guided Backprop（|梯度|）"}
LAYER_ROWS = ("conv1", "conv2", "conv3", "ours", "guided_backprop", "blurred_image", "chance")


def layer_table(zh: bool = False) -> str:
    """Class discrimination at every conv layer (results/gradcam.json -> class_discrimination):
    one row per map, its share of requests whose peak lands on the requested digit."""
    from papers import results

    found = results.claim(SLUG, "class_discrimination") or {}
    labels = LABELS_ZH if zh else found.get("labels", {})
    rows = (["| 图 | 峰值落在所问数字上 |", "| --- | --- |"] if zh else
            ["| map | peak on the requested digit |", "| --- | --- |"])
    for key in LAYER_ROWS:
        if key == "ours" or key in found.get("baselines", {}):
            rows.append(f"| {labels.get(key, key).replace('|', chr(92) + '|')} | {results.figure(SLUG, 'class_discrimination', key, ' %')} |")
    table = "\n".join(rows)
    return zh_figure(table) if zh else table


def _depth_verdict(zh: bool = False) -> str:
    """Whether the share rises with depth, read from the stored figures."""
    from papers import results

    rates = [results.value(SLUG, "class_discrimination", key) for key in ("conv1", "conv2", "conv3", "ours")]
    if None in rates:
        return ""
    rising = all(a < b for a, b in zip(rates, rates[1:]))
    if zh:
        return ("越深的层越能区分类别：从 conv1 到 conv4 逐层上升。" if rising else
                "越深的层大体上越能区分类别（conv1、conv2 远低于 conv3、conv4），但不是逐层上升："
                + ("conv3 高于最后一个卷积层 conv4。" if rates[2] > rates[3] else "中间有一层下降。"))
    return ("Deeper layers are more class-discriminative: the share rises layer by layer from conv1 to conv4." if rising
            else "Deeper layers are broadly more class-discriminative (conv1 and conv2 far below conv3 and conv4), "
            "but not layer by layer: " + ("conv3 beats the last conv layer, conv4." if rates[2] > rates[3] else
                                          "one deeper layer drops."))


def sensitivity_text(zh: bool = False) -> str:
    """Fig. 1's contrast: how alike each method's maps for the two digits of a canvas are."""
    from papers import results

    if results.claim(SLUG, "class_sensitivity") is None:
        return ""
    grad_cam, guided = (results.value(SLUG, "class_sensitivity"), results.value(SLUG, "class_sensitivity",
                                                                               "guided_backprop"))
    holds = guided > 0.5 and guided > grad_cam + 0.3
    if zh:
        return ("*类别敏感度（图 1）* —— 同一张画布上，为左、右两个数字各画一张图，两张图的 Spearman 秩相关"
                f"（1 = 无论问哪个类别都是同一张图）：{_row('class_sensitivity', True, '')}。"
                + ("Guided Backprop 的两张图几乎一样，Grad-CAM 的则随所问类别移动——正是论文图 1 的对比。" if holds else ""))
    return ("*Class sensitivity (Fig. 1)* — how alike a method's maps for the left and the right digit of a canvas "
            f"are (Spearman rank correlation; 1 = the same map whichever class is asked): "
            f"{_row('class_sensitivity', unit='')}. "
            + ("Guided Backprop's two maps are nearly the same, Grad-CAM's move with the class asked: Fig. 1's "
               "contrast." if holds else ""))


def faithfulness_text(zh: bool = False) -> str:
    """§5.3's rank correlation with occlusion maps (results/gradcam.json -> faithfulness)."""
    from papers import results

    found = results.claim(SLUG, "faithfulness")
    if found is None:
        return ""
    paper = results.paper_figure(SLUG, "faithfulness", digits=3)
    if zh:
        return (f"*忠实度（§5.3）* —— 热力图与遮挡敏感度图（用灰色方块挡住每一处，所问类别得分下降多少）的 Spearman 秩相关，"
                f"在双数字测试画布上对两个数字分别计算：{_row('faithfulness', True, '')}。"
                + (f"论文（§5.3，VGG16）：Grad-CAM {paper}，Guided Backprop 更低"
                   "（论文数字凭记忆引用，未与论文原文核对）。" if paper else ""))
    return ("*Faithfulness (§5.3)* — Spearman rank correlation between a map and the occlusion-sensitivity map "
            "(how much the requested class's score drops when a grey square covers each place), for both digits of "
            f"two-digit test canvases: {_row('faithfulness', unit='')}. "
            + (f"The paper ({found['paper']['where']}): Grad-CAM {paper} {found['paper']['note']}." if paper else ""))


def measured_note_zh() -> str:
    from papers import results

    paper = results.paper_figure(SLUG, "class_discrimination", " %", digits=2)
    human = f"论文的人类实验（§5.1）：看着 Guided Grad-CAM，人们在 {paper} 的情况下说对了类别。" if paper else ""
    grad_cam, guided = (results.value(SLUG, "class_discrimination"),
                        results.value(SLUG, "class_discrimination", "guided_backprop"))
    guided_text = "" if grad_cam is None or guided is None or guided < grad_cam - 10 else (
        "（论文发现 Guided Backprop 在 VGG16 上几乎不区分类别；在这个小网络上，它模糊后的梯度幅值指向所问数字的频率"
        + ("与最后一个卷积层上的 Grad-CAM 相当" if abs(guided - grad_cam) < 5 else "高于最后一个卷积层上的 Grad-CAM") + "。）")
    point, blind = results.value(SLUG, "pointing_game"), results.value(SLUG, "pointing_game", "blurred_image")
    blind_text = "" if point is None or blind is None else (
        "找一个孤零零的数字根本不需要知道类别：模糊图像的最亮点（模糊程度在训练画布上选定）"
        + ("胜过" if blind > point else "没有胜过") + "最后一个卷积层上的 Grad-CAM，所以单看指点游戏说明不了多少；"
        "双数字测试才显示出 Grad-CAM 多做了什么。")
    return ("**在随附的数字 CNN 上实测**（`python -m papers.reproduce gradcam`；每个随机种子抽一批新的测试画布）。\n\n"
            "*类别区分* —— 每张画布上有两个数字，指定其中一个：热力图的峰值落在被指定数字上的比例。"
            "每一层的 Grad-CAM（论文用最后一个卷积层），以及 Guided Backprop 和不看类别的基线：\n\n"
            f"{layer_table(True)}\n\n{_depth_verdict(True)}不看类别的图无论问哪个数字都指向同一处，所以过不了一半的提问。"
            f"{guided_text}{human}\n\n{sensitivity_text(True)}\n\n{faithfulness_text(True)}\n\n"
            f"*指点游戏* —— 杂乱背景中只有一个数字：峰值是否落在它上面？{_row('pointing_game', True)}。{blind_text}")


def measured_note_en() -> str:
    """The paper's claims measured on the shipped digits CNN (results/gradcam.json), with seeds."""
    from papers import results
    row = _row

    paper = results.paper_figure(SLUG, "class_discrimination", " %", digits=2)
    human = f"The paper's human study (§5.1): people named the class from Guided Grad-CAM in {paper} of cases. " if paper else ""
    guided = _guided_verdict(results.value(SLUG, "class_discrimination"),
                             results.value(SLUG, "class_discrimination", "guided_backprop"))
    blind = _pointing_verdict(results.value(SLUG, "pointing_game"), results.value(SLUG, "pointing_game", "blurred_image"))
    return ("**Measured on the shipped digits CNN** (`python -m papers.reproduce gradcam`; each seed draws new test "
            "canvases).\n\n"
            "*Class discrimination* — two digits per canvas, ask for one: how often the map's peak lands on the digit "
            "asked for, with Grad-CAM at every conv layer (the paper uses the last), beside Guided Backprop and "
            f"class-blind baselines:\n\n{layer_table()}\n\n{_depth_verdict()} "
            "A class-blind map points at the same spot whichever digit is "
            f"asked, so it cannot pass half of the requests. {guided}{human}\n\n{sensitivity_text()}\n\n"
            f"{faithfulness_text()}\n\n"
            f"*Pointing game* — one digit among clutter: is the peak on it? {row('pointing_game')}. {blind}")


def _guided_verdict(grad_cam: float | None, guided: float | None) -> str:
    if grad_cam is None or guided is None or guided < grad_cam - 10:
        return ""
    how = "about as often as" if abs(guided - grad_cam) < 5 else "more often than"
    return ("(The paper finds Guided Backprop barely class-sensitive on VGG16; on this small network its blurred "
            f"gradient magnitude points at the requested digit {how} Grad-CAM at the last conv layer.) ")


def _pointing_verdict(grad_cam: float | None, blind: float | None) -> str:
    if grad_cam is None or blind is None:
        return ""
    than = "beats" if blind > grad_cam else "does not beat"
    return ("Finding a lone digit needs no class at all: the blurred image's brightest spot (blur chosen on "
            f"training canvases) {than} Grad-CAM at the last conv layer, so the pointing game alone says little; "
            "the two-digit test shows what Grad-CAM adds.")


def second_choices(key: str, first: list[int] = ()) -> list:
    return [(t(SECOND_BEST), SECOND_BEST)] + class_choices(key, first)[1:]


def overlay(view: np.ndarray, cam: np.ndarray, opacity: float) -> np.ndarray:
    return enlarge(deconvnet.heatmap_overlay(view, cam, opacity, 0.0, 1.0))


@gpu(duration=60)
@friendly_errors
def explain(image, key: str, layer: str, class_choice: str, second_choice: str, opacity: float,
            request: gr.Request = None):
    """Top-10, Grad-CAM, counterfactual, Guided Backprop, Guided Grad-CAM and a second class's map."""
    model, view, x = prepare(image, key)
    if layer not in layers_of(key):
        raise gr.Error(f"Pick a layer of this network: {', '.join(layers_of(key))}.")
    target = model.features[deconvnet.conv_layers(model.features)[layer]]
    names = backbone(key).categories()
    with torch.no_grad():
        probs = model(x).softmax(-1)[0].cpu()
    class_idx = class_index(class_choice, probs)
    other_idx = class_index(None if second_choice == SECOND_BEST else second_choice, probs, rank=1)
    maps = gradcam.grad_cam_maps(model, target, x, class_idx)
    other = gradcam.grad_cam_maps(model, target, x, other_idx)
    guided = gradcam.guided_backprop(model, x, class_idx)
    guided_other = gradcam.guided_backprop(model, x, other_idx)
    same_guided = float(gradcam.rank_correlation(guided.abs().sum(0)[None], guided_other.abs().sum(0)[None])[0])
    same_cam = float(gradcam.rank_correlation(maps.cam[None], other.cam[None])[0])
    alike = same_guided > 0.5 and same_guided > same_cam + 0.2  # Fig. 1's point holds on this image
    top = [int(i) for i in probs.argsort(descending=True)[:TOP_K]]
    this, that = class_name(names[class_idx], request), class_name(names[other_idx], request)
    p_this, p_that = float(probs[class_idx]), float(probs[other_idx])
    info = say(request, f"Explaining **{this}** (p = {p_this:.3f}) at **{layer}**; compared with **{that}** "
               f"(p = {p_that:.3f}). Red = strong evidence, blue = none. How alike the two classes' maps are "
               f"(Spearman rank correlation, 1 = the same ranking of pixels): Grad-CAM ρ = {same_cam:.2f}, Guided "
               f"Backprop ρ = {same_guided:.2f}"
               + (" — the paper's Fig. 1 point: Guided Backprop barely changes with the class." if alike else "."),
               f"在 **{layer}** 解释 **{this}**（p = {p_this:.3f}），对照 **{that}**（p = {p_that:.3f}）。"
               "红 = 证据强，蓝 = 没有证据。两个类别的图有多相像（Spearman 秩相关，1 = 像素排序完全相同）："
               f"Grad-CAM ρ = {same_cam:.2f}，Guided Backprop ρ = {same_guided:.2f}"
               + ("——论文图 1 的要点：Guided Backprop 几乎不随类别变化。" if alike else "。"))
    return (top_labels(probs, names, TOP_K, request), overlay(view, maps.cam, opacity),
            overlay(view, maps.counterfactual, opacity),
            enlarge(gradcam.gradient_image(guided)),
            enlarge(gradcam.gradient_image(gradcam.guided_grad_cam(guided, maps.cam))),
            overlay(view, other.cam, opacity), enlarge(gradcam.gradient_image(guided_other)), info,
            gr.Dropdown(choices=class_choices(key, top), value=class_choice or TOP_CLASS),
            gr.Dropdown(choices=second_choices(key, top), value=second_choice or SECOND_BEST))


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    gr.Markdown(measured_note())
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(example_paths("two_digits_3_7.png")[0], label=t("Image"), type="numpy", sources=["upload", "clipboard"], height=280)
            gr.Examples(example_paths(*EXAMPLES), inputs=image, examples_per_page=8, label=t("Examples"))
            net = gr.Radio(backbone_choices(), value=DEFAULT_BACKBONE, label=t("Network"))
            layers = layers_of(DEFAULT_BACKBONE)
            layer = gr.Dropdown(layer_choices(DEFAULT_BACKBONE), value=layers[-1],
                                label=t("Layer (the paper uses the last conv layer)"))
            target = gr.Dropdown(class_choices(DEFAULT_BACKBONE), value=TOP_CLASS, filterable=True,
                                 label=t("Class to explain (top 10 first; type to search all)"))
            second = gr.Dropdown(second_choices(DEFAULT_BACKBONE), value=SECOND_BEST, filterable=True,
                                 label=t("Second class, side by side"))
            opacity = gr.Slider(0, 1, value=0.5, step=0.05, label=t("Heatmap opacity"))
            run = gr.Button(t("Explain"), variant="primary")
        with gr.Column(scale=2):
            info = gr.Markdown()
            with gr.Row():
                cam = gr.Image(label=t("Grad-CAM (evidence for the class)"), height=260)
                other = gr.Image(label=t("Grad-CAM for the second class"), height=260)
                counter = gr.Image(label=t("Counterfactual (evidence against)"), height=260)
            with gr.Row():
                guided = gr.Image(label=t("Guided Backpropagation"), height=260)
                guided_other = gr.Image(label=t("Guided Backpropagation for the second class"), height=260)
                guided_cam = gr.Image(label=t("Guided Grad-CAM"), height=260)
            labels = gr.Label(num_top_classes=TOP_K, label=t("Top 10"))
    note = gr.Markdown(backbone_note_value(DEFAULT_BACKBONE))  # below the main content

    net.change(on_backbone_change, net, [note, layer, target], api_visibility="private")
    net.change(lambda key: gr.Dropdown(choices=second_choices(key), value=SECOND_BEST), net, second, api_visibility="private")
    inputs = [image, net, layer, target, second, opacity]
    outputs = [labels, cam, counter, guided, guided_cam, other, guided_other, info, target, second]
    on_tab_open(explain, outputs, inputs)
    run.click(explain, inputs, outputs, api_name=f"{SLUG}_explain", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    for control in (target, second, layer):
        control.input(explain, inputs, outputs, api_visibility="private", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    opacity.release(explain, inputs, outputs, api_visibility="private", concurrency_id=heavy_id(SLUG), concurrency_limit=1)


def bench_default():
    example = np.asarray(Image.open(example_paths(EXAMPLES[0])[0]))
    return explain(example, DEFAULT_BACKBONE, layers_of(DEFAULT_BACKBONE)[-1], TOP_CLASS, SECOND_BEST, 0.5)


ZH = {
    SECOND_BEST: "第二可能的类别",
    "Image": "图像",
    "Examples": "示例",
    "Network": "网络",
    "Layer (the paper uses the last conv layer)": "层（论文用最后一个卷积层）",
    "Class to explain (top 10 first; type to search all)": "要解释的类别（前 10 名在前；可输入搜索全部）",
    "Second class, side by side": "并排对照的第二个类别",
    "Heatmap opacity": "热力图不透明度",
    "Explain": "解释",
    "Grad-CAM (evidence for the class)": "Grad-CAM（支持该类别的证据）",
    "Grad-CAM for the second class": "第二个类别的 Grad-CAM",
    "Counterfactual (evidence against)": "反事实（反对该类别的证据）",
    "Guided Backpropagation": "Guided Backpropagation",
    "Guided Backpropagation for the second class": "第二个类别的 Guided Backpropagation",
    "Guided Grad-CAM": "Guided Grad-CAM",
    "Top 10": "前 10 名",
}
