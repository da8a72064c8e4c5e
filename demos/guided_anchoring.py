"""Guided Anchoring tab: where anchors should go, what shape they should have, and the recall."""
from __future__ import annotations

import time

import gradio as gr
import torch

from demos.common import heavy_id, example_paths, friendly_errors, header, read_image
from papers import faster_rcnn as frcnn
from papers import guided_anchoring as ga
from papers.checkpoints import GPU_MARGIN_S, get_device, gpu
from papers.results import figure, paper_figure

SLUG = "guided-anchoring"
TITLE = "Guided Anchoring"
PAPER_URL = "https://arxiv.org/abs/1901.03278"
_GA = f"GA-RPN (ε = {ga.DEMO_THRESHOLD:g})"
INTRO = f"""A plain RPN puts the same 9 anchors (3 sizes × 3 aspect ratios) at every position of the
feature map. **GA-RPN** predicts them instead: a *location* branch gives, for every position,
the probability that an object's centre is there (anchors only where it exceeds ε), a *shape*
branch predicts the best width and height there, and a deformable convolution adapts the
features to that shape. Both models below share the same tiny backbone and were trained here
with the same budget on generated shapes whose aspect ratio reaches 6:1 — the case anchors
of fixed shapes fit badly. On COCO the paper's GA-RPN reaches AR@100
{paper_figure(SLUG, "shipped_ar100", " %")} and beats the RPN with about a tenth of its anchors.

**Here** (held-out scenes, `python -m papers.reproduce {SLUG}`): the shipped {_GA} reaches AR@100
**{figure(SLUG, "shipped_ar100", unit=" %")}** from **{figure(SLUG, "shipped_anchors", digits=0)}** anchors per image; the RPN
{figure(SLUG, "shipped_ar100", "rpn", " %")} from {figure(SLUG, "shipped_anchors", "rpn", digits=0, spread=False)}.
Retrained from scratch per seed at a smaller budget: {_GA} {figure(SLUG, "retrained_ar100", unit=" %")} from
{figure(SLUG, "retrained_anchors", digits=0)} anchors, RPN {figure(SLUG, "retrained_ar100", "rpn", " %")}.
The paper's ε is {ga.LOCATION_THRESHOLD:g}; our briefly trained location branch is not that sure of the
background, so at ε = {ga.LOCATION_THRESHOLD:g} it keeps {figure(SLUG, "shipped_anchors", "ga_paper_eps", digits=0, spread=False)}
anchors per image — every position — and the tab's default is ε = {ga.DEMO_THRESHOLD:g}, which keeps the
recall ({figure(SLUG, "shipped_ar100", "ga_paper_eps", " %")} at ε = {ga.LOCATION_THRESHOLD:g}).
**Measure recall** re-measures on the tab's own held-out scenes."""

EXAMPLES = ["ga_shapes_1.png", "ga_shapes_2.png", "shapes_3.png"]
GUIDED_COLOUR, SLIDING_COLOUR, PROPOSAL_COLOUR = (0, 220, 90), (255, 170, 0), (40, 120, 255)
MEASURE_BUDGET_S = 120


@gpu(duration=30)
@friendly_errors
def propose(image, threshold: float, locations: int, top_n: int):
    """-> location map, guided anchors, sliding-window anchors, GA-RPN and RPN proposals, summary."""
    rgb = read_image(image).rgb
    tensor = frcnn.image_to_tensor(rgb, get_device())
    guided = ga.ga_proposals(ga.load_model("ga_rpn"), tensor, threshold=float(threshold))
    sliding = ga.rpn_proposals(ga.load_model("rpn"), tensor)
    cells = ga.likeliest_locations(guided.location_prob, int(locations))
    rows, cols = [r for r, _ in cells], [c for _, c in cells]
    top_n = int(top_n)
    summary = (f"**GA-RPN** kept **{guided.num_anchors}** anchors (locations with p > ε = {threshold:g}) "
               f"of {guided.location_prob.numel()} positions; the **RPN** scores **{sliding.num_anchors}** "
               f"sliding-window anchors ({sliding.anchors.shape[2]} per position). Drawn: the top {top_n} "
               f"proposals of each after NMS.")
    return (ga.heat_overlay(rgb, guided.location_prob),
            frcnn.draw_boxes(rgb, guided.anchors[rows, cols, 0].cpu(), GUIDED_COLOUR),
            frcnn.draw_boxes(rgb, sliding.anchors[rows, cols].reshape(-1, 4).cpu(), SLIDING_COLOUR, width=1),
            frcnn.draw_boxes(rgb, guided.boxes[:top_n].cpu(), PROPOSAL_COLOUR, width=1),
            frcnn.draw_boxes(rgb, sliding.boxes[:top_n].cpu(), PROPOSAL_COLOUR, width=1),
            summary)


def _recall_table(results: dict, scenes: int, threshold: float) -> str:
    header_row = "| model | " + " | ".join(f"AR@{n}" for n in ga.AR_AT) + " | anchors / image |"
    lines = [header_row, "|---" * (len(ga.AR_AT) + 2) + "|"]
    for name, label in (("ga_rpn", "GA-RPN"), ("rpn", "RPN")):
        if name in results:
            r = results[name]
            lines.append(f"| {label} | " + " | ".join(f"{100 * r[f'AR@{n}']:.1f}" for n in ga.AR_AT)
                         + f" | {r['anchors_per_image']:.0f} |")
    return (f"Average recall (%, IoU 0.5:0.95) on {scenes} held-out scenes, GA-RPN at ε = {threshold:g}:\n\n"
            + "\n".join(lines))


@gpu(duration=MEASURE_BUDGET_S + GPU_MARGIN_S)
@friendly_errors
def measure(scenes: int, threshold: float):
    """Streams AR@N of both models on held-out generated scenes (never seen in training)."""
    data = frcnn.synthetic_scenes(int(scenes), ga.TEST_SEED, ga.SCENE_STYLE)
    truth = [torch.from_numpy(boxes) for _, boxes, _ in data]
    results, start = {}, time.perf_counter()
    for name, label in (("ga_rpn", "GA-RPN"), ("rpn", "RPN")):
        model = ga.load_model(name)
        kwargs = {"threshold": float(threshold)} if name == "ga_rpn" else {}
        found, anchors = [], []
        for i, (image, _, _) in enumerate(data):
            if time.perf_counter() - start > MEASURE_BUDGET_S:
                yield f"Stopped after {MEASURE_BUDGET_S} s (the machine is busy); try fewer scenes."
                return
            proposals = ga.propose(name, model, frcnn.image_to_tensor(image, get_device()), **kwargs)
            found.append(proposals.boxes.cpu())
            anchors.append(proposals.num_anchors)
            if (i + 1) % 10 == 0:
                yield f"Measuring {label}: {i + 1} / {len(data)} scenes…"
        results[name] = ga.recall_metrics(found, truth, anchors)
    yield _recall_table(results, len(data), float(threshold))


def bench_default():
    return propose(example_paths("ga_shapes_1.png")[0], ga.DEMO_THRESHOLD, 8, 20)


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(value=example_paths(EXAMPLES[0])[0], label="Image", type="numpy",
                             sources=["upload", "clipboard"])
            threshold = gr.Slider(0.001, 0.9, value=ga.DEMO_THRESHOLD, step=0.001,
                                  label="ε: keep anchors where p(object centre) > ε")
            locations = gr.Slider(1, 30, value=8, step=1, label="Likeliest locations to show")
            top_n = gr.Slider(1, 100, value=20, step=1, label="Proposals to draw (top N)")
            run = gr.Button("Propose", variant="primary")
            gr.Examples(example_paths(*EXAMPLES), inputs=image)
        with gr.Column(scale=2):
            with gr.Row():
                location_map = gr.Image(label="Location branch: p(object centre)", type="numpy")
                guided = gr.Image(label="GA-RPN anchors at the likeliest positions", type="numpy")
                sliding = gr.Image(label="RPN anchors at the same positions", type="numpy")
            with gr.Row():
                ga_props = gr.Image(label="GA-RPN proposals", type="numpy")
                rpn_props = gr.Image(label="RPN proposals", type="numpy")
            summary = gr.Markdown()
    with gr.Accordion("Average recall vs number of proposals, GA-RPN vs RPN (the paper's Table 1, here)", open=True):
        with gr.Row():
            scenes = gr.Slider(10, 200, value=50, step=10, label="Held-out scenes")
            measure_button = gr.Button("Measure recall", variant="primary")
            stop = gr.Button("Stop")
        table = gr.Markdown()
    inputs, outputs = [image, threshold, locations, top_n], [location_map, guided, sliding, ga_props, rpn_props, summary]
    run.click(propose, inputs, outputs, api_name=f"{SLUG}_propose")
    for slider in (threshold, locations, top_n):
        slider.release(propose, inputs, outputs, api_visibility="private")
    event = measure_button.click(measure, [scenes, threshold], table, api_name=f"{SLUG}_measure",
                                 concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop.click(None, None, None, cancels=[event], api_visibility="private")
