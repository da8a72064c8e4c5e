"""Guided Anchoring tab: where anchors should go, what shape they should have, and the recall."""
from __future__ import annotations

import time

import gradio as gr
import numpy as np
import torch

from demos.common import cjk_markdown, heavy_id, example_paths, friendly_errors, header, on_tab_open, read_image
from demos.i18n import localized, say, t, zh_figure
from papers import faster_rcnn as frcnn
from papers import guided_anchoring as ga
from papers.checkpoints import GPU_MARGIN_S, get_device, gpu
from papers.results import figure, paper_figure, value

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
The paper's trade-off, swept below: at ε = 0.05 GA-RPN keeps {figure(SLUG, "sweep_anchors", "eps_0.05", digits=0)}
anchors at AR@100 {figure(SLUG, "sweep_ar100", "eps_0.05", " %")}; at ε = 0.5 only
{figure(SLUG, "sweep_anchors", "eps_0.5", digits=0)}, and the recall drops to {figure(SLUG, "sweep_ar100", "eps_0.5", " %")}.
**Measure recall** re-measures on the tab's own held-out scenes."""


def _fig(claim_id: str, method: str = "ours", unit: str = "", **kwargs) -> str:
    return zh_figure(figure(SLUG, claim_id, method, unit, **kwargs))


INTRO_ZH = cjk_markdown(f"""普通的 RPN 在特征图的每个位置都放同样的 9 个锚框（3 种尺寸 × 3 种长宽比）。**GA-RPN** 则去预测锚框：
*位置*分支对每个位置给出物体中心落在那里的概率（只在概率超过 ε 的位置放锚框），*形状*分支预测那里最合适的宽和高，
再用一个可变形卷积让特征适应这个形状。下面两个模型共用同一个小主干网络，在这里用相同的训练预算、在长宽比可达 6:1
的生成形状上训练——这正是固定形状的锚框难以贴合的情形。在 COCO 上，论文的 GA-RPN 达到 AR@100
{paper_figure(SLUG, "shipped_ar100", " %")}，只用约十分之一的锚框就胜过 RPN。

**这里**（未参与训练的场景，`python -m papers.reproduce {SLUG}`）：发布的 {_GA} 每张图用 **{_fig("shipped_anchors", digits=0)}** 个锚框达到 AR@100 **{_fig("shipped_ar100", unit=" %")}**；RPN 用
{figure(SLUG, "shipped_anchors", "rpn", digits=0, spread=False)} 个锚框达到 {_fig("shipped_ar100", "rpn", " %")}。
每个随机种子以更小的预算从头重新训练：{_GA} 用 {_fig("retrained_anchors", digits=0)} 个锚框达到
{_fig("retrained_ar100", unit=" %")}，RPN {_fig("retrained_ar100", "rpn", " %")}。
论文的 ε 是 {ga.LOCATION_THRESHOLD:g}；我们短时间训练的位置分支对背景没那么有把握，所以在 ε = {ga.LOCATION_THRESHOLD:g} 时
每张图保留 {figure(SLUG, "shipped_anchors", "ga_paper_eps", digits=0, spread=False)} 个锚框——也就是所有位置；
因此本页默认 ε = {ga.DEMO_THRESHOLD:g}，召回率不受影响（ε = {ga.LOCATION_THRESHOLD:g} 时为
{_fig("shipped_ar100", "ga_paper_eps", " %")}）。下面扫描的正是论文的取舍：ε = 0.05 时 GA-RPN 保留
{_fig("sweep_anchors", "eps_0.05", digits=0)} 个锚框，AR@100 为 {_fig("sweep_ar100", "eps_0.05", " %")}；ε = 0.5 时只剩
{_fig("sweep_anchors", "eps_0.5", digits=0)} 个，召回率降到 {_fig("sweep_ar100", "eps_0.5", " %")}。
**测量召回率** 会在本页自己的未见场景上重新测量。""")

EXAMPLES = ["ga_shapes_1.png", "ga_shapes_2.png", "shapes_3.png"]
GUIDED_COLOUR, SLIDING_COLOUR, PROPOSAL_COLOUR = (0, 220, 90), (255, 170, 0), (40, 120, 255)
MEASURE_BUDGET_S = 120


@gpu(duration=30)
@friendly_errors
def propose(image, threshold: float, locations: int, top_n: int, request: gr.Request = None):
    """-> location map, guided anchors, sliding-window anchors, GA-RPN and RPN proposals, summary,
    and the deformable sampling at the likeliest location (with its note)."""
    rgb = read_image(image).rgb
    tensor = frcnn.image_to_tensor(rgb, get_device())
    guided = ga.ga_proposals(ga.load_model("ga_rpn"), tensor, threshold=float(threshold))
    sliding = ga.rpn_proposals(ga.load_model("rpn"), tensor)
    cells = ga.likeliest_locations(guided.location_prob, int(locations))
    rows, cols = [r for r, _ in cells], [c for _, c in cells]
    top_n = int(top_n)
    positions, per_position = guided.location_prob.numel(), sliding.anchors.shape[2]
    summary = say(request,
                  f"**GA-RPN** kept **{guided.num_anchors}** anchors (locations with p > ε = {threshold:g}) "
                  f"of {positions} positions; the **RPN** scores **{sliding.num_anchors}** "
                  f"sliding-window anchors ({per_position} per position). Drawn: the top {top_n} "
                  f"proposals of each after NMS.",
                  f"**GA-RPN** 在 {positions} 个位置中保留了 **{guided.num_anchors}** 个锚框（p > ε = {threshold:g} "
                  f"的位置）；**RPN** 要给 **{sliding.num_anchors}** 个滑动窗口锚框打分（每个位置 {per_position} 个）。"
                  f"图中画出两者 NMS 之后的前 {top_n} 个候选框。")
    return (ga.heat_overlay(rgb, guided.location_prob),
            frcnn.draw_boxes(rgb, guided.anchors[rows, cols, 0].cpu(), GUIDED_COLOUR),
            frcnn.draw_boxes(rgb, sliding.anchors[rows, cols].reshape(-1, 4).cpu(), SLIDING_COLOUR, width=1),
            frcnn.draw_boxes(rgb, guided.boxes[:top_n].cpu(), PROPOSAL_COLOUR, width=1),
            frcnn.draw_boxes(rgb, sliding.boxes[:top_n].cpu(), PROPOSAL_COLOUR, width=1),
            summary, *_draw_sampling(rgb, tensor, guided, rows[0], cols[0], request))


def _draw_sampling(rgb, image_tensor, guided, row: int, col: int, request=None):
    """The anchor predicted at (row, col) and where the adapted features are read from there."""
    from PIL import Image, ImageDraw

    regular, moved = ga.sampling_points(ga.load_model("ga_rpn"), image_tensor, row, col)
    anchor = guided.anchors[row, col, 0].cpu()
    picture = Image.fromarray(frcnn.draw_boxes(rgb, anchor[None], GUIDED_COLOUR))
    draw = ImageDraw.Draw(picture)
    radius = max(2, rgb.shape[0] // 100)
    for (x0, y0), (x1, y1) in zip(regular, moved):
        draw.line([(x0, y0), (x1, y1)], fill=(255, 255, 255), width=1)
        draw.ellipse([x0 - radius, y0 - radius, x0 + radius, y0 + radius], outline=(160, 160, 160))
        draw.ellipse([x1 - radius, y1 - radius, x1 + radius, y1 + radius], fill=(255, 60, 200))
    spread = float(np.ptp(moved, axis=0).mean() / max(np.ptp(regular, axis=0).mean(), 1e-6))
    note = say(request,
               f"At cell ({row}, {col}): the predicted anchor (green) and where the deformable 3×3 convolution reads "
               f"the features (pink; grey = the regular grid it would read without adaption). The sampling grid spans "
               f"{spread:.2f}× the regular one. Click the location map to choose another position.",
               f"在格子 ({row}, {col})：预测的锚框（绿色），以及可变形 3×3 卷积读取特征的位置（粉色；灰色 = 不做适应时的"
               f"规则网格）。采样网格的跨度是规则网格的 {spread:.2f} 倍。点击位置图可以换一个位置。")
    return np.asarray(picture), note


@gpu(duration=30)
@friendly_errors
def sampling_at(image, evt: gr.SelectData, request: gr.Request = None):
    """Click on the location map: the deformable sampling points of the clicked feature cell."""
    rgb = read_image(image).rgb
    tensor = frcnn.image_to_tensor(rgb, get_device())
    guided = ga.ga_proposals(ga.load_model("ga_rpn"), tensor)
    grid = guided.location_prob.shape
    x, y = evt.index
    row = min(max(int(y / rgb.shape[0] * grid[0]), 0), grid[0] - 1)
    col = min(max(int(x / rgb.shape[1] * grid[1]), 0), grid[1] - 1)
    return _draw_sampling(rgb, tensor, guided, row, col, request)


def _recall_table(results: dict, scenes: int, threshold: float, request=None) -> str:
    header_row = (say(request, "| model | ", "| 模型 | ") + " | ".join(f"AR@{n}" for n in ga.AR_AT)
                  + say(request, " | anchors / image |", " | 每张图锚框数 |"))
    lines = [header_row, "|---" * (len(ga.AR_AT) + 2) + "|"]
    for name, label in (("ga_rpn", "GA-RPN"), ("rpn", "RPN")):
        if name in results:
            r = results[name]
            lines.append(f"| {label} | " + " | ".join(f"{100 * r[f'AR@{n}']:.1f}" for n in ga.AR_AT)
                         + f" | {r['anchors_per_image']:.0f} |")
    return (say(request, f"Average recall (%, IoU 0.5:0.95) on {scenes} held-out scenes, GA-RPN at ε = {threshold:g}:",
                f"{scenes} 个未见场景上的平均召回率（%，IoU 0.5:0.95），GA-RPN 取 ε = {threshold:g}：")
            + "\n\n" + "\n".join(lines))


def stored_sweep():
    """The ε sweep from results/ (shipped models, mean over seeds), in the shape `measure` makes:
    the plots a visitor sees before pressing Measure."""
    def at(claim, key):
        found = value(SLUG, claim, key)
        return None if found is None else found / (100 if claim == "sweep_ar100" else 1)

    def key(eps):
        return "ours" if eps == ga.DEMO_THRESHOLD else ga.epsilon_key(eps)

    sweep = [{"epsilon": eps, "AR@100": at("sweep_ar100", key(eps)), "anchors_per_image": at("sweep_anchors", key(eps))}
             for eps in ga.SWEEP_EPSILONS]
    rpn = {"AR@100": at("sweep_ar100", "rpn"), "anchors_per_image": at("sweep_anchors", "rpn")}
    if any(v is None for r in sweep + [rpn] for v in r.values()):
        return None, None
    by_epsilon = _epsilon_frame({"rpn": rpn}, sweep)
    return by_epsilon, by_epsilon


def _epsilon_frame(results: dict, sweep: list[dict], request=None):
    import pandas as pd

    ga_name, rpn_name = "GA-RPN", say(request, "RPN (no ε)", "RPN（没有 ε）")
    rows = [{"ε": r["epsilon"], "model": ga_name, "AR@100 (%)": 100 * r["AR@100"],
             "anchors / image": r["anchors_per_image"]} for r in sweep]
    rows += [{"ε": r["epsilon"], "model": rpn_name, "AR@100 (%)": 100 * results["rpn"]["AR@100"],
              "anchors / image": results["rpn"]["anchors_per_image"]} for r in sweep]
    return pd.DataFrame(rows)


def _curves(results: dict, sweep: list[dict], request=None):
    """The paper's trade-off as plots: AR@100 and anchors per image against ε (GA-RPN; the RPN,
    which has no ε, as a flat line), and AR against the number of proposals N for both."""
    import pandas as pd

    by_epsilon = _epsilon_frame(results, sweep, request)
    by_n = pd.DataFrame([{"proposals N": n, "model": label, "AR@N (%)": 100 * results[name][f"AR@{n}"]}
                         for name, label in (("ga_rpn", f"GA-RPN (ε = {results['epsilon']:g})"), ("rpn", "RPN"))
                         for n in ga.AR_AT])
    return by_epsilon, by_epsilon, by_n


@gpu(duration=MEASURE_BUDGET_S + GPU_MARGIN_S)
@friendly_errors
def measure(scenes: int, threshold: float, request: gr.Request = None):
    """Streams AR@N of both models on held-out generated scenes (never seen in training), then
    GA-RPN's AR@100 and anchors per image over a sweep of ε, as a table and three plots."""
    data = frcnn.synthetic_scenes(int(scenes), ga.TEST_SEED, ga.SCENE_STYLE)
    truth = [torch.from_numpy(boxes) for _, boxes, _ in data]
    results, sweep, start = {"epsilon": float(threshold)}, [], time.perf_counter()
    runs = [("ga_rpn", "GA-RPN", float(threshold)), ("rpn", "RPN", None)]
    runs += [("ga_rpn", f"GA-RPN, ε = {eps:g}", eps) for eps in ga.SWEEP_EPSILONS]
    for run, (name, label, epsilon) in enumerate(runs):
        model = ga.load_model(name)
        kwargs = {"threshold": epsilon} if name == "ga_rpn" else {}
        found, anchors = [], []
        for i, (image, _, _) in enumerate(data):
            if time.perf_counter() - start > MEASURE_BUDGET_S:
                yield say(request, f"Stopped after {MEASURE_BUDGET_S} s (the machine is busy); try fewer scenes.",
                          f"{MEASURE_BUDGET_S} 秒后停止（机器繁忙）；请减少场景数。"), gr.skip(), gr.skip(), gr.skip()
                return
            proposals = ga.propose(name, model, frcnn.image_to_tensor(image, get_device()), **kwargs)
            found.append(proposals.boxes.cpu())
            anchors.append(proposals.num_anchors)
            if (i + 1) % 25 == 0:
                yield say(request, f"Measuring {label} ({run + 1} / {len(runs)}): {i + 1} / {len(data)} scenes…",
                          f"正在测量 {label}（{run + 1} / {len(runs)}）：{i + 1} / {len(data)} 个场景…"), \
                    gr.skip(), gr.skip(), gr.skip()
        metrics = ga.recall_metrics(found, truth, anchors)
        if run < 2:
            results[name] = metrics
        else:
            sweep.append({"epsilon": epsilon, **metrics})
    yield (_recall_table(results, len(data), float(threshold), request), *_curves(results, sweep, request))


def bench_default():
    return propose(example_paths("ga_shapes_1.png")[0], ga.DEMO_THRESHOLD, 8, 20)


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(value=example_paths(EXAMPLES[0])[0], label=t("Image"), type="numpy",
                             sources=["upload", "clipboard"])
            threshold = gr.Slider(0.001, 0.9, value=ga.DEMO_THRESHOLD, step=0.001,
                                  label=t("ε: keep anchors where p(object centre) > ε"))
            locations = gr.Slider(1, 30, value=8, step=1, label=t("Likeliest locations to show"))
            top_n = gr.Slider(1, 100, value=20, step=1, label=t("Proposals to draw (top N)"))
            run = gr.Button(t("Propose"), variant="primary")
            gr.Examples(example_paths(*EXAMPLES), inputs=image, label=t("Examples"))
        with gr.Column(scale=2):
            with gr.Row():
                location_map = gr.Image(label=t("Location branch: p(object centre)"), type="numpy")
                guided = gr.Image(label=t("GA-RPN anchors at the likeliest positions"), type="numpy")
                sliding = gr.Image(label=t("RPN anchors at the same positions"), type="numpy")
            with gr.Row():
                ga_props = gr.Image(label=t("GA-RPN proposals"), type="numpy")
                rpn_props = gr.Image(label=t("RPN proposals"), type="numpy")
            summary = gr.Markdown()
            with gr.Row():
                sampling = gr.Image(label=t("Feature adaption: where the deformable conv reads (click the location map)"),
                                    type="numpy", height=300)
                sampling_note = gr.Markdown()
    with gr.Accordion(t("Average recall vs number of proposals, GA-RPN vs RPN (the paper's Table 1, here)"), open=True):
        with gr.Row():
            scenes = gr.Slider(10, 200, value=50, step=10, label=t("Held-out scenes"))
            measure_button = gr.Button(t("Measure recall"), variant="primary")
            stop = gr.Button(t("Stop"))
        table = gr.Markdown()
        stored = stored_sweep()
        gr.Markdown(t("Before you press **Measure recall**, the two ε plots show the shipped models' stored "
                      "measurement (`python -m papers.reproduce guided-anchoring`, mean over seeds)."))
        with gr.Row():
            recall_by_epsilon = gr.LinePlot(stored[0], x="ε", y="AR@100 (%)", color="model", height=260,
                                            title=t("AR@100 against ε (the RPN has no ε: a flat line)"))
            anchors_by_epsilon = gr.LinePlot(stored[1], x="ε", y="anchors / image", color="model", height=260,
                                             title=t("Anchors per image against ε"))
            recall_by_n = gr.LinePlot(x="proposals N", y="AR@N (%)", color="model", height=260,
                                      title=t("Average recall against the number of proposals"))
    inputs = [image, threshold, locations, top_n]
    outputs = [location_map, guided, sliding, ga_props, rpn_props, summary, sampling, sampling_note]
    location_map.select(sampling_at, image, [sampling, sampling_note], api_name=f"{SLUG}_sampling")
    run.click(propose, inputs, outputs, api_name=f"{SLUG}_propose")
    on_tab_open(propose, outputs, inputs)  # both tiny models on the default example (~0.05 s)
    for slider in (threshold, locations, top_n):
        slider.release(propose, inputs, outputs, api_visibility="private")
    event = measure_button.click(measure, [scenes, threshold], [table, recall_by_epsilon, anchors_by_epsilon, recall_by_n],
                                 api_name=f"{SLUG}_measure",
                                 concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop.click(None, None, None, cancels=[event], api_visibility="private")


ZH = {
    "Image": "图像",
    "ε: keep anchors where p(object centre) > ε": "ε：只在 p(物体中心) > ε 的位置放锚框",
    "Likeliest locations to show": "显示的最可能位置数",
    "Proposals to draw (top N)": "画出的候选框数（前 N 个）",
    "Propose": "生成候选框",
    "Examples": "示例",
    "Location branch: p(object centre)": "位置分支：p(物体中心)",
    "GA-RPN anchors at the likeliest positions": "最可能位置上的 GA-RPN 锚框",
    "RPN anchors at the same positions": "同样位置上的 RPN 锚框",
    "GA-RPN proposals": "GA-RPN 候选框",
    "RPN proposals": "RPN 候选框",
    "Average recall vs number of proposals, GA-RPN vs RPN (the paper's Table 1, here)":
        "平均召回率随候选框数的变化：GA-RPN 对 RPN（在这里复现论文的表 1）",
    "Held-out scenes": "未见场景数",
    "Measure recall": "测量召回率",
    "Stop": "停止",
    "AR@100 against ε (the RPN has no ε: a flat line)": "AR@100 随 ε 的变化（RPN 没有 ε：一条水平线）",
    "Anchors per image against ε": "每张图的锚框数随 ε 的变化",
    "Average recall against the number of proposals": "平均召回率随候选框数的变化",
    "Before you press **Measure recall**, the two ε plots show the shipped models' stored "
    "measurement (`python -m papers.reproduce guided-anchoring`, mean over seeds).":
        "按下 **测量召回率** 之前，两张 ε 图显示的是发布模型已存储的测量结果（`python -m papers.reproduce guided-anchoring`，"
        "多个随机种子的平均）。",
    "Feature adaption: where the deformable conv reads (click the location map)":
        "特征适应：可变形卷积从哪里读取特征（点击位置图）",
}
