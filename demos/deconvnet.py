"""Zeiler & Fergus deconvnet tab: project a feature map back to pixels; occlusion sensitivity.

Also the small UI adapters the Grad-CAM tab shares (backbone, layer and class pickers)."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import torch
from PIL import Image

from demos.common import heavy_id, example_paths, friendly_errors, header, read_image, weights_note
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
def backbone_choices() -> list[tuple[str, str]]:
    return [(b.label, b.key) for b in deconvnet.BACKBONES.values()]


def backbone(key: str) -> deconvnet.Backbone:
    if key not in deconvnet.BACKBONES:
        raise gr.Error(f"Unknown network {key!r}.")
    return deconvnet.BACKBONES[key]


def backbone_note(key: str) -> str:
    chosen = backbone(key)
    return weights_note(chosen.checkpoint, adds=chosen.adds)


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
    return [TOP_CLASS] + [f"{i}: {names[i]}" for i in order]


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


def on_backbone_change(key: str):
    layers = layers_of(key)
    return (backbone_note(key), gr.Dropdown(choices=layers, value=layers[-1]),
            gr.Dropdown(choices=class_choices(key), value=TOP_CLASS))


def top_labels(probs: torch.Tensor, names: list[str], k: int) -> dict[str, float]:
    values, indices = probs.topk(min(k, len(probs)))
    return {f"{int(i)}: {names[int(i)]}": float(v) for v, i in zip(values, indices)}


# --------------------------------------------------------------------------- deconvnet projection
def mark_box(rgb: np.ndarray, box: tuple[int, int, int, int], colour=(255, 40, 40)) -> np.ndarray:
    out = rgb.copy()
    x0, y0, x1, y1 = box
    out[y0:y1, [x0, x1 - 1]] = colour
    out[[y0, y1 - 1], x0:x1] = colour
    return out


@gpu(duration=60)
@friendly_errors
def project(image, key: str, layer: str, strongest: bool, channel: float, whole_map: bool):
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
    gallery = [(enlarge(deconvnet.projection_image(p.pixels)), f"map {p.channel}: {p.value:.2f}") for p in ranked]
    what = "the whole map" if whole_map else f"its strongest activation (at {chosen.position}, value {chosen.value:.2f})"
    info = (f"**{layer}**, feature map **{chosen.channel}** of {maps.shape[1]}; kept {what}. "
            "Red box: where the reconstruction is strongest (the part of the image this map responds to).")
    return (enlarge(deconvnet.projection_image(chosen.pixels)), enlarge(mark_box(view, box)), gallery, info)


# --------------------------------------------------------------------------- occlusion (§4.2)
@gpu(duration=OCCLUSION_BUDGET_S + GPU_MARGIN_S)
@friendly_errors
def occlude(image, key: str, layer: str, class_choice: str, size: float, stride: float, opacity: float):
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
        info = (f"{maps_so_far.done}/{maps_so_far.total} square positions. Left: p(**{names[class_idx]}**) while "
                f"each pixel is covered (unoccluded: {float(probs[class_idx]):.3f}; blue = the probability drops, "
                f"red = unchanged). Right: total activation of {layer} map {channel}, the strongest on the "
                "unoccluded image (blue = covering this spot silences it).")
        yield enlarge(prob), enlarge(act), info
        if not done and time.perf_counter() - start > OCCLUSION_BUDGET_S:
            yield enlarge(prob), enlarge(act), info + f"\n\nStopped after {OCCLUSION_BUDGET_S} s: use a larger stride."
            return


def occlusion_defaults(key: str):
    """Square and stride scaled to the input (the paper's Fig. 7 used ~50 px squares at 224)."""
    side = backbone(key).input_size
    return gr.Slider(maximum=side, value=side * 3 // 14), gr.Slider(maximum=side // 2, value=side // 14)


# --------------------------------------------------------------------------- layout
def measured_note() -> str:
    """What the shipped digits CNN measurably does (results/deconvnet.json, with seeds)."""
    from papers import results

    return (f"Measured on the shipped digits CNN (`python -m papers.reproduce deconvnet`, each seed new test "
            f"canvases): it reads **{results.figure(SLUG, 'test_accuracy', unit=' %')}** of cluttered test digits, "
            "and the grey square lowers the digit's probability more on the digit than on the clutter for "
            f"**{results.figure(SLUG, 'occlusion_localises', unit=' %')}** of test canvases (§4.2).")


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(measured_note())
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(example_paths(EXAMPLES[0])[0], label="Image", type="numpy", sources=["upload", "clipboard"], height=280)
            gr.Examples(example_paths(*EXAMPLES), inputs=image, examples_per_page=8)
            net = gr.Radio(backbone_choices(), value=DEFAULT_BACKBONE, label="Network")
            note = gr.Markdown(backbone_note(DEFAULT_BACKBONE))
            layers = layers_of(DEFAULT_BACKBONE)
            layer = gr.Dropdown(layers, value=layers[-1], label="Layer")
        with gr.Column(scale=2):
            with gr.Tab("Deconvnet projection (§2.1)"):
                with gr.Row():
                    strongest = gr.Checkbox(True, label="Strongest feature map")
                    channel = gr.Number(0, precision=0, minimum=0, label="…or feature map number")
                    whole = gr.Checkbox(False, label="Keep the whole map (not just its top activation)")
                run = gr.Button("Project to pixels", variant="primary")
                info = gr.Markdown()
                with gr.Row():
                    recon = gr.Image(label="Reconstruction (deconvnet)", height=280)
                    where = gr.Image(label="Where it looks", height=280)
                gallery = gr.Gallery(label=f"The layer's {GALLERY_SIZE} strongest feature maps, each projected", columns=9,
                                     height=160)
            with gr.Tab("Occlusion sensitivity (§4.2)"):
                with gr.Row():
                    target = gr.Dropdown(class_choices(DEFAULT_BACKBONE), value=TOP_CLASS, filterable=True,
                                         label="Class (type to search)")
                    size = gr.Slider(1, CANVAS_SIDE, value=CANVAS_SIDE * 3 // 14, step=1, label="Grey square (px)")
                    stride = gr.Slider(1, CANVAS_SIDE // 2, value=CANVAS_SIDE // 14, step=1, label="Stride (px)")
                    opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Heatmap opacity")
                with gr.Row():
                    go = gr.Button("Slide the grey square", variant="primary")
                    stop = gr.Button("Stop")
                occ_info = gr.Markdown()
                with gr.Row():
                    prob_map = gr.Image(label="(a) class probability", height=280)
                    act_map = gr.Image(label="(b) strongest feature map", height=280)

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
