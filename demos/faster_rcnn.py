"""Faster R-CNN tab: detections, and a look inside (anchors, proposals before/after NMS, timings)."""
from __future__ import annotations

import gradio as gr

from demos.common import example_paths, friendly_errors, header, read_image, weights_note
from papers import faster_rcnn as frcnn
from papers.checkpoints import get_device, gpu
from papers.results import figure, paper_figure, value

SLUG = "faster-rcnn"
TITLE = "Faster R-CNN"
PAPER_URL = "https://arxiv.org/abs/1506.01497"
INTRO = """A **Region Proposal Network** slides over the feature map and scores *anchors* — a few
reference boxes of fixed scales and aspect ratios at every position — then nudges the best of
them towards objects. After non-maximum suppression (NMS) a few hundred *proposals* remain;
**RoI pooling** cuts a small feature grid out of each, and a box head names the object and
refines its box. Open **Look inside** to see each stage and what it costs on this machine.

The default model is a tiny detector trained here in minutes on generated shapes (rectangles,
ellipses, triangles): try the shape examples. The COCO models (torchvision's weights) detect 80
everyday categories, but take seconds per image on a CPU."""


def _measured() -> str:
    """The shapes detector's figures from results/faster-rcnn.json, with the paper's beside them."""
    segments_tighter = (value(SLUG, "proposal_average_recall", "segments") or 0) > (
        value(SLUG, "proposal_average_recall") or 0)
    return f"""**Measured here** (held-out generated scenes, `python -m papers.reproduce {SLUG}`): the
shapes detector reaches mAP@0.5 **{figure(SLUG, "shipped_map50", unit=" %")}** and mAP@[.5:.95]
{figure(SLUG, "shipped_map_coco", unit=" %")} (the paper: {paper_figure(SLUG, "shipped_map50", " %")} on
PASCAL VOC 2007 with VGG-16 — a different task). The paper's case for a *learned* RPN (Fig. 2):
with {frcnn.PROPOSALS} proposals per image ours covers {figure(SLUG, "proposal_recall", unit=" %")} of the
objects at IoU ≥ {frcnn.RECALL_IOU:g}; the same anchors picked at random cover
{figure(SLUG, "proposal_recall", "random_anchors", " %")}, and boxes of Felzenszwalb segments (the
regions Selective Search starts from, not learned) {figure(SLUG, "proposal_recall", "segments", " %")}.
""" + ("On these clean, flat-coloured shapes a segmentation outlines each object, so its boxes fit "
       f"more tightly than the RPN's (average recall over IoU 0.5:0.95: "
       f"{figure(SLUG, 'proposal_average_recall', 'segments', ' %')} vs "
       f"{figure(SLUG, 'proposal_average_recall', unit=' %')}); the paper compares them on natural photos (PASCAL VOC)."
       if segments_tighter else
       f"Average recall over IoU 0.5:0.95: RPN {figure(SLUG, 'proposal_average_recall', unit=' %')}, "
       f"segments {figure(SLUG, 'proposal_average_recall', 'segments', ' %')}.")

MODELS = {
    "Shapes detector (trained here, offline)": "shapes",
    "COCO · MobileNetV3-Large FPN (torchvision)": "mobilenet_v3_large_fpn",
    "COCO · ResNet-50 FPN (torchvision, slow on CPU)": "resnet50_fpn",
}
EXAMPLES = ["shapes_1.png", "shapes_2.png", "shapes_3.png", "astronaut.jpg", "coffee.jpg"]
ANCHOR_COLOUR, BEFORE_COLOUR, AFTER_COLOUR = (255, 170, 0), (40, 120, 255), (0, 200, 90)


def _timing_table(seconds: dict, variant: str) -> str:
    rows = "\n".join(f"| {stage} | {1000 * t:.0f} ms |" for stage, t in seconds.items())
    device = get_device().type.upper()
    return (f"| stage ({variant}, {device}) | time |\n|---|---|\n{rows}\n"
            f"| **total** | **{1000 * sum(seconds.values()):.0f} ms** |")


@gpu(duration=30)
@friendly_errors
def detect(image, model_name: str, score_threshold: float, anchor_x: float, anchor_y: float,
           level: int, top_n: int):
    """-> detections, anchors at a location, proposals before NMS, after NMS, timing table."""
    variant = MODELS.get(model_name)
    if variant is None:
        raise gr.Error(f"Unknown model {model_name!r}.")
    rgb = read_image(image).rgb
    model = frcnn.load_detector(variant)
    found = model.detect(frcnn.image_to_tensor(rgb, get_device()))
    names = model.config.categories
    keep = found.scores >= score_threshold
    annotations = [(tuple(int(round(v)) for v in box), f"{names[label]} {score:.2f}")
                   for box, score, label in zip(found.boxes[keep].tolist(), found.scores[keep].tolist(),
                                                found.labels[keep].tolist())]
    level = min(int(level), len(found.anchors) - 1)
    anchors = frcnn.anchors_at(found, level, anchor_x, anchor_y).cpu()
    top_n = int(top_n)
    before = found.proposals.top_boxes[found.proposals.top_scores.argsort(descending=True)[:top_n]].cpu()
    after = found.proposals.boxes[:top_n].cpu()
    info = (f"**{len(annotations)}** detections ≥ {score_threshold:.2f} · RPN: "
            f"{sum(len(a) for a in found.anchors)} anchors on {len(found.anchors)} level(s) "
            f"{found.feature_sizes} → {len(found.proposals.top_boxes)} kept before NMS → "
            f"{len(found.proposals.boxes)} proposals after NMS.\n\n" + _timing_table(found.seconds, variant))
    return ((rgb, annotations),
            frcnn.draw_boxes(rgb, anchors, ANCHOR_COLOUR),
            frcnn.draw_boxes(rgb, before, BEFORE_COLOUR, width=1),
            frcnn.draw_boxes(rgb, after, AFTER_COLOUR, width=1),
            info)


def bench_default():
    return detect(example_paths("shapes_1.png")[0], next(iter(MODELS)), 0.5, 0.5, 0.5, 0, 50)


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    with gr.Row():
        with gr.Column():
            image = gr.Image(value=example_paths(EXAMPLES[0])[0], label="Image", type="numpy",
                             sources=["upload", "clipboard"])
            model_name = gr.Dropdown(list(MODELS), value=next(iter(MODELS)), label="Detector")
            threshold = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label="Score threshold")
            run = gr.Button("Detect", variant="primary")
            gr.Examples(example_paths(*EXAMPLES), inputs=image)
            gr.Markdown(weights_note(frcnn.CHECKPOINTS["mobilenet_v3_large_fpn"],
                                     adds="detection of the 80 COCO categories on your own photos"))
        with gr.Column():
            detections = gr.AnnotatedImage(label="Detections")
    with gr.Accordion("Look inside: anchors → proposals → NMS → detections", open=True):
        with gr.Row():
            anchor_x = gr.Slider(0, 1, value=0.5, step=0.01, label="Anchor location: x (fraction of width)")
            anchor_y = gr.Slider(0, 1, value=0.5, step=0.01, label="Anchor location: y (fraction of height)")
            level = gr.Slider(0, 2, value=0, step=1, label="Pyramid level (COCO models: 0 finest … 2)")
            top_n = gr.Slider(1, 300, value=50, step=1, label="Proposals to draw (top N)")
        with gr.Row():
            anchors = gr.Image(label="The anchors at that location (scales × aspect ratios)", type="numpy")
            before = gr.Image(label="Top-N RPN boxes before NMS", type="numpy")
            after = gr.Image(label="Top-N proposals after NMS (IoU 0.7)", type="numpy")
        info = gr.Markdown()
    with gr.Accordion("How well it works: measured over seeds, with the paper's figures", open=False):
        gr.Markdown(_measured())
    inputs = [image, model_name, threshold, anchor_x, anchor_y, level, top_n]
    outputs = [detections, anchors, before, after, info]
    run.click(detect, inputs, outputs, api_name=f"{SLUG}_detect")
    for slider in (threshold, anchor_x, anchor_y, level, top_n):
        slider.release(detect, inputs, outputs, api_visibility="private")
