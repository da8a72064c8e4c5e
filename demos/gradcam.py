"""Grad-CAM tab: which pixels made the network say this class (and which argue against it)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch
from PIL import Image

from demos.common import heavy_id, example_paths, friendly_errors, header
from demos.deconvnet import (DEFAULT_BACKBONE, EXAMPLES, TOP_CLASS, backbone, backbone_choices, backbone_note,
                             class_choices, class_index, enlarge, layers_of, on_backbone_change, prepare,
                             top_labels)
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

TOP_K = 10
SECOND_BEST = "second most likely class"


def measured_note() -> str:
    """The paper's claims measured on the shipped digits CNN (results/gradcam.json), with seeds."""
    from papers import results

    def row(claim: str) -> str:
        found = results.claim(SLUG, claim) or {}
        labels = found.get("labels", {})
        cells = [f"{labels.get(key, key)}: **{results.figure(SLUG, claim, key, ' %')}**"
                 for key in ["ours", *found.get("baselines", {})]]
        return "; ".join(cells)

    paper = results.paper_figure(SLUG, "class_discrimination", " %", digits=2)
    human = f"The paper's human study (§5.1): people named the class from Guided Grad-CAM in {paper} of cases. " if paper else ""
    guided = _guided_verdict(results.value(SLUG, "class_discrimination"),
                             results.value(SLUG, "class_discrimination", "guided_backprop"))
    blind = _pointing_verdict(results.value(SLUG, "pointing_game"), results.value(SLUG, "pointing_game", "blurred_image"))
    return ("**Measured on the shipped digits CNN** (`python -m papers.reproduce gradcam`; each seed draws new test "
            "canvases).\n\n"
            "*Class discrimination* — two digits per canvas, ask for one: how often the map's peak lands on the digit "
            f"asked for. {row('class_discrimination')}. A class-blind map points at the same spot whichever digit is "
            f"asked, so it cannot pass half of the requests. {guided}{human}\n\n"
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


def second_choices(key: str, first: list[int] = ()) -> list[str]:
    return [SECOND_BEST] + class_choices(key, first)[1:]


def overlay(view: np.ndarray, cam: np.ndarray, opacity: float) -> np.ndarray:
    return enlarge(deconvnet.heatmap_overlay(view, cam, opacity, 0.0, 1.0))


@gpu(duration=60)
@friendly_errors
def explain(image, key: str, layer: str, class_choice: str, second_choice: str, opacity: float):
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
    top = [int(i) for i in probs.argsort(descending=True)[:TOP_K]]
    info = (f"Explaining **{names[class_idx]}** (p = {float(probs[class_idx]):.3f}) at **{layer}**; "
            f"compared with **{names[other_idx]}** (p = {float(probs[other_idx]):.3f}). "
            "Red = strong evidence, blue = none.")
    return (top_labels(probs, names, TOP_K), overlay(view, maps.cam, opacity),
            overlay(view, maps.counterfactual, opacity),
            enlarge(gradcam.gradient_image(guided)),
            enlarge(gradcam.gradient_image(gradcam.guided_grad_cam(guided, maps.cam))),
            overlay(view, other.cam, opacity), info,
            gr.Dropdown(choices=class_choices(key, top), value=class_choice or TOP_CLASS),
            gr.Dropdown(choices=second_choices(key, top), value=second_choice or SECOND_BEST))


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(measured_note())
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(example_paths("two_digits_3_7.png")[0], label="Image", type="numpy", sources=["upload", "clipboard"], height=280)
            gr.Examples(example_paths(*EXAMPLES), inputs=image, examples_per_page=8)
            net = gr.Radio(backbone_choices(), value=DEFAULT_BACKBONE, label="Network")
            note = gr.Markdown(backbone_note(DEFAULT_BACKBONE))
            layers = layers_of(DEFAULT_BACKBONE)
            layer = gr.Dropdown(layers, value=layers[-1], label="Layer (the paper uses the last conv layer)")
            target = gr.Dropdown(class_choices(DEFAULT_BACKBONE), value=TOP_CLASS, filterable=True,
                                 label="Class to explain (top 10 first; type to search all)")
            second = gr.Dropdown(second_choices(DEFAULT_BACKBONE), value=SECOND_BEST, filterable=True,
                                 label="Second class, side by side")
            opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Heatmap opacity")
            run = gr.Button("Explain", variant="primary")
        with gr.Column(scale=2):
            info = gr.Markdown()
            with gr.Row():
                cam = gr.Image(label="Grad-CAM (evidence for the class)", height=260)
                other = gr.Image(label="Grad-CAM for the second class", height=260)
                counter = gr.Image(label="Counterfactual (evidence against)", height=260)
            with gr.Row():
                guided = gr.Image(label="Guided Backpropagation", height=260)
                guided_cam = gr.Image(label="Guided Grad-CAM", height=260)
                labels = gr.Label(num_top_classes=TOP_K, label="Top 10")

    net.change(on_backbone_change, net, [note, layer, target], api_visibility="private")
    net.change(lambda key: gr.Dropdown(choices=second_choices(key), value=SECOND_BEST), net, second, api_visibility="private")
    inputs = [image, net, layer, target, second, opacity]
    outputs = [labels, cam, counter, guided, guided_cam, other, info, target, second]
    run.click(explain, inputs, outputs, api_name=f"{SLUG}_explain", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    for control in (target, second, layer):
        control.input(explain, inputs, outputs, api_visibility="private", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    opacity.release(explain, inputs, outputs, api_visibility="private", concurrency_id=heavy_id(SLUG), concurrency_limit=1)


def bench_default():
    example = np.asarray(Image.open(example_paths(EXAMPLES[0])[0]))
    return explain(example, DEFAULT_BACKBONE, layers_of(DEFAULT_BACKBONE)[-1], TOP_CLASS, SECOND_BEST, 0.5)
