"""AlexNet tab: classify a photo, ten-crop averaging, first-layer kernels, activations, layer table."""
from __future__ import annotations

import gradio as gr
import numpy as np
from PIL import Image

from demos.common import heavy_id, example_paths, friendly_errors, header, on_tab_open, read_image, weights_note
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

EXAMPLES = ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg", "coins.png")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
ADDS = "ImageNet top-5 labels, ten-crop averaging, trained (Gabor-like) first-layer kernels and activations"
TABLE_HEADERS = ["layer", "output shape", "neurons", "parameters", "multiply-adds", "towers"]


def measured_note() -> str:
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


def architecture_label() -> str:
    from papers import results

    return (f"Per layer, for one 224×224 image: {results.figure(SLUG, 'params_original', unit=' M')} parameters and "
            f"{results.figure(SLUG, 'neurons_original')} neurons for the paper's network (the paper: "
            f"{results.paper_figure(SLUG, 'params_original', ' M', digits=0)} and "
            f"{results.paper_figure(SLUG, 'neurons_original')})")


def weights_state() -> str:
    return weights_note(alexnet.IMAGENET, adds=ADDS)


def table(variant: str) -> list[list]:
    rows = alexnet.layer_table(variant)
    body = [[r.layer, "×".join(map(str, r.output_shape)), f"{r.neurons:,}", f"{r.parameters:,}",
             f"{r.mult_adds:,}", r.towers] for r in rows]
    total = ["total", "", f"{sum(r.neurons for r in rows):,}", f"{sum(r.parameters for r in rows):,}",
             f"{sum(r.mult_adds for r in rows):,}", ""]
    return body + [total]


@gpu(duration=30)
@friendly_errors
def architecture(variant: str):
    """Layer table, tower diagram and first-layer kernels (trained ones when the weights are here)."""
    if variant not in alexnet.VARIANTS:
        raise gr.Error(f"Unknown variant {variant!r}.")
    return table(variant), alexnet.tower_diagram(variant), kernels(variant)


def kernels(variant: str) -> gr.Image:
    """Fig. 3's grid: trained kernels when the ImageNet weights are here, else a random initialisation."""
    conv, caption = alexnet.first_layer(variant), "random initialisation (no trained weights for this variant)"
    if variant == "torchvision":
        if is_available_locally(alexnet.IMAGENET):
            conv, caption = alexnet.imagenet_model(get_device()).features[0], "trained on ImageNet"
        else:
            caption = "random initialisation; the ImageNet weights show edges and colour blobs"
    towers = alexnet.VARIANTS[variant].towers
    where = " (left: GPU 1, right: GPU 2)" if towers > 1 else ""
    return gr.Image(value=alexnet.kernels_grid(conv.weight, towers), label=f"First-layer kernels{where}: {caption}")


@gpu(duration=30)
@friendly_errors
def classify(image, ten_crop: bool, layer: str):
    """Top-5 (single centre crop), optionally the ten-crop average, and one layer's activations."""
    clean = read_image(image)
    if layer not in LAYERS:
        raise gr.Error(f"Pick one of {', '.join(LAYERS)}.")
    model = load_remembering_failure(alexnet.IMAGENET, alexnet.imagenet_model)
    names = alexnet.imagenet_categories()
    single = alexnet.class_probabilities(model, clean.rgb)
    top = dict(alexnet.top_k(single, names))
    text = f"Centre crop: **{max(top, key=top.get)}** ({max(top.values()):.1%})."
    averaged = None
    if ten_crop:
        ten = alexnet.class_probabilities(model, clean.rgb, ten_crop=True)
        averaged = dict(alexnet.top_k(ten, names))
        best = int(ten.argmax())
        changed = (single - ten).abs().sum() / 2
        text += (f" Ten crops: **{names[best]}** ({float(ten[best]):.1%}); the averaging moved "
                 f"{float(changed):.1%} of the probability mass (total variation distance).")
    maps = alexnet.activations(model, clean.rgb, layer)
    return top, averaged, text, alexnet.activation_grid(maps)


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_state())
    gr.Markdown(measured_note())
    with gr.Tab("Classify a photo"):
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(example_paths(EXAMPLES[0])[0], label="Photo", type="numpy", sources=["upload", "clipboard"], height=280)
                gr.Examples(example_paths(*EXAMPLES), inputs=image)
                ten_crop = gr.Checkbox(True, label="Ten-crop averaging (§4.1: corners + centre of the central 256×256, and their mirror images)")
                layer = gr.Dropdown(list(LAYERS), value="conv1", label="Show this layer's activations")
                run = gr.Button("Classify", variant="primary")
            with gr.Column(scale=2):
                info = gr.Markdown()
                with gr.Row():
                    single = gr.Label(num_top_classes=5, label="Top 5, centre crop")
                    ten = gr.Label(num_top_classes=5, label="Top 5, ten-crop average")
                maps = gr.Image(label="The 64 strongest feature maps of the chosen layer (white = strong)")
    with gr.Tab("Architecture"):
        variant = gr.Radio([("The paper's two-GPU network", "original"), ("torchvision (public weights)", "torchvision")],
                           value="original", label="Variant")
        layers = gr.Dataframe(headers=TABLE_HEADERS, interactive=False,
                              label=architecture_label())
        with gr.Row():
            diagram = gr.Image(label="Towers (orange: reads both GPUs)")
            grid = gr.Image(label="First-layer kernels")
        on_tab_open(lambda: architecture("original"), [layers, diagram, grid])  # not at start-up
    run.click(classify, [image, ten_crop, layer], [single, ten, info, maps], api_name=f"{SLUG}_classify",
              concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    variant.change(architecture, variant, [layers, diagram, grid], api_name=f"{SLUG}_architecture")


def bench_default():
    """Classification when the ImageNet weights are here; otherwise the weight-free architecture view."""
    if not is_available_locally(alexnet.IMAGENET):
        return architecture("original")
    return classify(np.asarray(Image.open(example_paths(EXAMPLES[0])[0])), False, "conv1")
