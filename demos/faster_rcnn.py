"""Faster R-CNN tab: detections, and a look inside (anchors, proposals before/after NMS, timings)."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from demos.common import cjk_markdown, example_paths, friendly_errors, header, on_tab_open, read_image, weights_note, weights_note_zh
from demos.i18n import localized, request_locale, say, t, zh_figure
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
INTRO_ZH = cjk_markdown("""**区域提议网络**（RPN）在特征图上滑动，给*锚框*打分——锚框是每个位置上几个尺度和长宽比固定的参考框——
再把最有希望的锚框向物体微调。经过非极大值抑制（NMS）后剩下几百个*候选框*；**RoI 池化**从每个候选框里裁出
一小块特征网格，由检测头判断物体类别并精修边框。展开 **内部细节** 可以看到每个阶段的结果，以及它在本机上的耗时。

默认模型是一个在这里用生成的形状（矩形、椭圆、三角形）几分钟训练出来的小检测器：试试形状示例。COCO 模型
（torchvision 的权重）能检测 80 类日常物体，但在 CPU 上每张图要几秒。""")


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
       f"segments {figure(SLUG, 'proposal_average_recall', 'segments', ' %')}.") + _curve_text()


def _curve_text() -> str:
    """The recall-vs-proposals plot in words, its figures from results/."""
    few, more = frcnn.PROPOSAL_COUNTS[0], frcnn.PROPOSAL_COUNTS[1]
    catch_up = (value(SLUG, f"proposal_recall_at_{more}", "segments") or 0) >= (
        value(SLUG, f"proposal_recall_at_{more}") or 0)
    return (f"\n\nAgainst the number of proposals (the plot): the RPN's best {few} per image already cover "
            f"{figure(SLUG, f'proposal_recall_at_{few}', unit=' %')} of the objects, {few} segment boxes "
            f"{figure(SLUG, f'proposal_recall_at_{few}', 'segments', ' %')}, {few} random anchors "
            f"{figure(SLUG, f'proposal_recall_at_{few}', 'random_anchors', ' %')}. The learned ranking pays off most "
            f"when few proposals are kept — the paper's point with 300 RPN proposals against Selective Search's 2000. "
            + (f"On these simple scenes the segments catch up from {more} proposals on "
               f"({figure(SLUG, f'proposal_recall_at_{more}', 'segments', ' %')} vs "
               f"{figure(SLUG, f'proposal_recall_at_{more}', unit=' %')}): each scene has only a few regions to outline."
               if catch_up else
               f"At {more} proposals: RPN {figure(SLUG, f'proposal_recall_at_{more}', unit=' %')}, segments "
               f"{figure(SLUG, f'proposal_recall_at_{more}', 'segments', ' %')}."))


def _curve_text_zh() -> str:
    few, more = frcnn.PROPOSAL_COUNTS[0], frcnn.PROPOSAL_COUNTS[1]

    def fig(claim_id, method="ours"):
        return zh_figure(figure(SLUG, claim_id, method, " %"))

    catch_up = (value(SLUG, f"proposal_recall_at_{more}", "segments") or 0) >= (
        value(SLUG, f"proposal_recall_at_{more}") or 0)
    return (f"\n\n随候选框数量变化（见图）：每张图只取 RPN 最好的 {few} 个候选框，就覆盖了 "
            f"{fig(f'proposal_recall_at_{few}')} 的物体；{few} 个分割外接框覆盖 {fig(f'proposal_recall_at_{few}', 'segments')}，"
            f"{few} 个随机锚框覆盖 {fig(f'proposal_recall_at_{few}', 'random_anchors')}。候选框越少，学习得到的排序越重要——"
            "这正是论文用 300 个 RPN 候选框对比 Selective Search 的 2000 个时想说明的。"
            + (f"在这些简单场景里，从 {more} 个候选框起分割框就追上了（{fig(f'proposal_recall_at_{more}', 'segments')} 对 "
               f"{fig(f'proposal_recall_at_{more}')}）：每个场景只有少数几个区域可勾勒。"
               if catch_up else
               f"{more} 个候选框时：RPN {fig(f'proposal_recall_at_{more}')}，分割 {fig(f'proposal_recall_at_{more}', 'segments')}。"))


ABLATION_ROWS = {
    "ours": ("RPN, 300 proposals (as shipped)", "RPN，300 个候选框（默认）"),
    "rpn_100": ("RPN, 100 proposals", "RPN，100 个候选框"),
    "no_cls_300": ("no cls layer: 300 regressed anchors at random", "去掉 cls 层：随机取 300 个回归后的锚框"),
    "no_cls_100": ("no cls layer: 100 regressed anchors at random", "去掉 cls 层：随机取 100 个回归后的锚框"),
    "no_reg_300": ("no reg layer: the anchors, ranked + NMS, 300", "去掉 reg 层：锚框本身（排序 + NMS），300 个"),
}


def _ablation(zh: bool = False) -> str:
    """Table 2's test-time ablation of the RPN, ours from results/ beside the paper's figures."""
    claim_id = "rpn_ablation_map50"
    def mean(key):
        return value(SLUG, claim_id, key) or 0

    both_matter = mean("no_cls_100") < mean("rpn_100") and mean("no_reg_300") < mean("ours")
    fewer_better = mean("rpn_100") > mean("ours")
    shapes = frcnn.CONFIGS["shapes"]
    n_anchors = ((shapes.min_size // 2 ** len(shapes.tiny_channels)) ** 2 * len(shapes.anchor_sizes[0])
                 * len(shapes.aspect_ratios))  # 16 x 16 positions x 9 anchors at 128 px
    shown = zh_figure if zh else str
    rows = "\n".join(f"| {ABLATION_ROWS[k][zh]} | {shown(figure(SLUG, claim_id, k))} | {frcnn.TABLE_2[k]:.1f} |"
                      for k in ABLATION_ROWS)
    if zh:
        lead = ("**论文表 2 的消融，在我们的尺度上**（同一个形状检测器，只在测试时替换候选框；同一批未参与训练的场景；论文的检测器用 Selective Search 的候选框训练，我们的用它自己的 RPN 的）。"
                + ("和论文一样，两个输出都有用：没有 cls 分数，随机取的 100 个框远不如排序后的 100 个；没有 reg 回归，"
                   "锚框本身也不如回归后的框。" if both_matter else "")
                + (f"这些场景很小（{n_anchors} 个锚框）：随机取 300 个回归后的锚框，检测头仍能找到大多数物体，所以此时去掉 cls 的损失很小。")
                + ("这里 100 个候选框的得分甚至高于 300 个（论文中略低）。" if fewer_better else ""))
        return cjk_markdown(lead) + "\n\n| 测试时的候选框 | mAP@0.5（形状，我们） | 论文（ZF，VOC 2007） |\n|---|---|---|\n" + rows
    lead = ("**Table 2's ablation at our scale** (the same shapes detector, its proposals changed at test time "
            "only, on the same held-out scenes; the paper's detector was trained on Selective Search proposals, ours "
            "on its own RPN's). "
            + ("Both RPN outputs matter, as in the paper: without the cls scores, 100 random boxes fall far "
               "behind 100 ranked proposals; without the reg layer, the bare anchors fall behind the regressed "
               "boxes. " if both_matter else "")
            + f"These scenes are small ({n_anchors} anchors): from 300 random regressed anchors the box head still "
              "finds most objects, so dropping cls costs little there."
            + (" Here 100 proposals even score higher than 300 (in the paper slightly lower)." if fewer_better else ""))
    return lead + "\n\n| test-time proposals | mAP@0.5, ours (shapes) | paper (ZF, VOC 2007) |\n|---|---|---|\n" + rows


def _measured_zh() -> str:
    """_measured in Chinese: the same figures from results/faster-rcnn.json."""
    def fig(claim_id, method="ours", unit=" %"):
        return zh_figure(figure(SLUG, claim_id, method, unit))

    segments_tighter = (value(SLUG, "proposal_average_recall", "segments") or 0) > (
        value(SLUG, "proposal_average_recall") or 0)
    return cjk_markdown(f"""**本机实测**（未参与训练的生成场景，`python -m papers.reproduce {SLUG}`）：形状检测器的
mAP@0.5 为 **{fig("shipped_map50")}**，mAP@[.5:.95] 为 {fig("shipped_map_coco")}（论文：{paper_figure(SLUG, "shipped_map50", " %")}，
在 PASCAL VOC 2007 上用 VGG-16——是另一个任务）。论文主张用*学习得到的* RPN（图 2）：每张图取
{frcnn.PROPOSALS} 个候选框时，我们的 RPN 在 IoU ≥ {frcnn.RECALL_IOU:g} 下覆盖了 {fig("proposal_recall")} 的物体；
同样的锚框随机挑选只覆盖 {fig("proposal_recall", "random_anchors")}，Felzenszwalb 分割区域的外接框（Selective Search
的起点，不经学习）覆盖 {fig("proposal_recall", "segments")}。
""" + ("在这些干净、纯色的形状上，分割能勾勒出每个物体的轮廓，所以它的框比 RPN 的更贴合（IoU 0.5:0.95 上的平均召回率："
       f"{fig('proposal_average_recall', 'segments')} 对 {fig('proposal_average_recall')}）；论文是在自然照片（PASCAL VOC）上比较两者的。"
       if segments_tighter else
       f"IoU 0.5:0.95 上的平均召回率：RPN {fig('proposal_average_recall')}，分割 {fig('proposal_average_recall', 'segments')}。")
        + _curve_text_zh())

METHODS = {"ours": "learned RPN · 学习的 RPN", "random_anchors": "random anchors · 随机锚框",
           "segments": "segment boxes · 分割外接框"}  # plot series: data, so both languages at once


def recall_curve() -> pd.DataFrame:
    """Recall at IoU 0.7 against proposals per image, each method's mean over seeds, from results/."""
    rows = []
    for n in (*frcnn.PROPOSAL_COUNTS, frcnn.PROPOSALS):
        claim_id = "proposal_recall" if n == frcnn.PROPOSALS else f"proposal_recall_at_{n}"
        for method, label in METHODS.items():
            recall = value(SLUG, claim_id, method)
            if recall is not None:
                rows.append({"proposals per image": n, "recall (%)": recall, "method": label})
    return pd.DataFrame(rows, columns=["proposals per image", "recall (%)", "method"])


MODELS = {
    "Shapes detector (trained here, offline)": "shapes",
    "COCO · MobileNetV3-Large FPN (torchvision)": "mobilenet_v3_large_fpn",
    "COCO · ResNet-50 FPN (torchvision, slow on CPU)": "resnet50_fpn",
}
MAX_LEVEL = max(len(frcnn.CONFIGS[v].anchor_sizes) for v in MODELS.values()) - 1  # ResNet-50 FPN: 4
EXAMPLES = ["shapes_1.png", "shapes_2.png", "shapes_3.png", "astronaut.jpg", "coffee.jpg"]
ANCHOR_COLOUR, BEFORE_COLOUR, AFTER_COLOUR = (255, 170, 0), (40, 120, 255), (0, 200, 90)
STAGES_ZH = {"resize + normalise": "缩放 + 归一化", "backbone": "主干网络",
             "RPN: anchors, objectness, proposals + NMS": "RPN：锚框、前景分数、候选框 + NMS",
             "RoI pooling + box head": "RoI 池化 + 检测头",
             "class scores, box refinement + NMS": "类别分数、边框精修 + NMS"}
SHAPES_ZH = {"rectangle": "矩形", "ellipse": "椭圆", "triangle": "三角形"}  # COCO's 80 names stay English


def _timing_table(seconds: dict, variant: str, request=None) -> str:
    zh = request_locale(request) == "zh-CN"
    rows = "\n".join(f"| {STAGES_ZH.get(stage, stage) if zh else stage} | {1000 * t:.0f} ms |"
                     for stage, t in seconds.items())
    device = get_device().type.upper()
    return (say(request, f"| stage ({variant}, {device}) | time |", f"| 阶段（{variant}，{device}） | 耗时 |")
            + f"\n|---|---|\n{rows}\n"
            + say(request, "| **total** |", "| **合计** |") + f" **{1000 * sum(seconds.values()):.0f} ms** |")


def _proposal_cost(seconds: dict, request=None) -> str:
    """The RPN's time against the backbone's, from this image's own timings (§3.2, Table 5)."""
    rpn, backbone = seconds[frcnn.RPN_STAGE], seconds[frcnn.BACKBONE_STAGE]
    ratio = rpn / max(backbone, 1e-9)
    return say(request,
               f"Proposals on this image: the RPN (its head, box decoding and NMS) took {1000 * rpn:.0f} ms, "
               f"{ratio:.2g}× the backbone's {1000 * backbone:.0f} ms. Sharing the backbone (§3.2) makes proposals "
               "cheap next to a separate method such as Selective Search (seconds per image, Table 5), "
               "not free: with a tiny backbone or a small image the RPN can take as long as the backbone, or longer.",
               f"本图的候选框耗时：RPN（头部、边框解码和 NMS）用了 {1000 * rpn:.0f} 毫秒，是主干网络 "
               f"{1000 * backbone:.0f} 毫秒的 {ratio:.2g} 倍。共享主干网络（§3.2）让候选框比单独的方法（如 Selective "
               "Search，每张图要几秒，表 5）便宜得多，但并非不花时间：主干网络很小或图像很小时，RPN 可能和主干网络一样耗时，甚至更久。")


@gpu(duration=30)
@friendly_errors
def detect(image, model_name: str, score_threshold: float, anchor_x: float, anchor_y: float,
           level: int, top_n: int, request: gr.Request = None):
    """-> detections, anchors at a location, proposals before NMS, after NMS, timing table."""
    variant = MODELS.get(model_name)
    if variant is None:
        raise gr.Error(say(request, f"Unknown model {model_name!r}.", f"未知的模型 {model_name!r}。"))
    rgb = read_image(image).rgb
    model = frcnn.load_detector(variant)
    found = model.detect(frcnn.image_to_tensor(rgb, get_device()))
    names = model.config.categories
    keep = found.scores >= score_threshold
    if request_locale(request) == "zh-CN":
        names = [SHAPES_ZH.get(name, name) for name in names]
    annotations = [(tuple(int(round(v)) for v in box), f"{names[label]} {score:.2f}")
                   for box, score, label in zip(found.boxes[keep].tolist(), found.scores[keep].tolist(),
                                                found.labels[keep].tolist())]
    n_levels = len(found.anchors)
    level = min(max(int(level), 0), n_levels - 1)  # the shapes detector has 1 level, MobileNet 3, ResNet-50 5
    anchors = frcnn.anchors_at(found, level, anchor_x, anchor_y).cpu()
    top_n = int(top_n)
    before = found.proposals.top_boxes[found.proposals.top_scores.argsort(descending=True)[:top_n]].cpu()
    after = found.proposals.boxes[:top_n].cpu()
    n_anchors = sum(len(a) for a in found.anchors)
    scales = ", ".join(str(s) for s in model.config.anchor_sizes[level])
    grid_h, grid_w = found.feature_sizes[level]
    per_cell = len(found.anchors[level]) // (grid_h * grid_w)  # k anchors per position
    if grid_h * grid_w > 1:
        step = found.anchors[level][per_cell] - found.anchors[level][0]  # the next column (or row): (4,)
        stride = round(float(step[0] if grid_w > 1 else step[1]) / found.scale)  # on the network's input
    else:
        stride = "–"  # one position on this level (a tiny image)
    n_before, n_after = len(found.proposals.top_boxes), len(found.proposals.boxes)
    info = say(request,
               f"**{len(annotations)}** detections ≥ {score_threshold:.2f} · RPN: {n_anchors} anchors on "
               f"{n_levels} level(s) {found.feature_sizes} → {n_before} kept before NMS → "
               f"{n_after} proposals after NMS.",
               f"**{len(annotations)}** 个检测结果 ≥ {score_threshold:.2f} · RPN：{n_levels} 层特征图 "
               f"{found.feature_sizes} 上共 {n_anchors} 个锚框 → NMS 前保留 {n_before} 个 → "
               f"NMS 后 {n_after} 个候选框。") + "\n\n" + say(
        request,
        f"Anchors shown: level {level} of 0…{n_levels - 1}, scales {scales} px at stride {stride} px on the "
        f"resized image the network sees (×{found.scale:.2g} in yours).",
        f"图中的锚框：第 {level} 层（共 0…{n_levels - 1} 层），在网络看到的缩放后图像上尺度为 {scales} 像素、"
        f"步长 {stride} 像素（在你的图像上 ×{found.scale:.2g}）。") + "\n\n" \
        + _timing_table(found.seconds, variant, request) + "\n\n" + _proposal_cost(found.seconds, request)
    return ((rgb, annotations),
            frcnn.draw_boxes_uncropped(rgb, anchors, ANCHOR_COLOUR),
            frcnn.draw_boxes(rgb, before, BEFORE_COLOUR, width=1),
            frcnn.draw_boxes(rgb, after, AFTER_COLOUR, width=1),
            info)


def bench_default():
    return detect(example_paths("shapes_1.png")[0], next(iter(MODELS)), 0.5, 0.5, 0.5, 0, 50)


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    with gr.Row():
        with gr.Column():
            image = gr.Image(value=example_paths(EXAMPLES[0])[0], label=t("Image"), type="numpy",
                             sources=["upload", "clipboard"])
            model_name = gr.Dropdown([(t(name), name) for name in MODELS], value=next(iter(MODELS)),
                                     label=t("Detector"))
            threshold = gr.Slider(0.05, 1.0, value=0.5, step=0.05, label=t("Score threshold"))
            run = gr.Button(t("Detect"), variant="primary")
            gr.Examples(example_paths(*EXAMPLES), inputs=image, label=t("Examples"))
        with gr.Column():
            detections = gr.AnnotatedImage(label=t("Detections"))
    with gr.Accordion(t("Look inside: anchors → proposals → NMS → detections"), open=True):
        with gr.Row():
            anchor_x = gr.Slider(0, 1, value=0.5, step=0.01, label=t("Anchor location: x (fraction of width)"))
            anchor_y = gr.Slider(0, 1, value=0.5, step=0.01, label=t("Anchor location: y (fraction of height)"))
            level = gr.Slider(0, MAX_LEVEL, value=0, step=1,
                              label=t("Pyramid level (0 finest; shapes: 1 level, MobileNet: 3, ResNet-50: 5)"))
            top_n = gr.Slider(1, 300, value=50, step=1, label=t("Proposals to draw (top N)"))
        with gr.Row():
            anchors = gr.Image(label=t("The anchors at that location (scales × aspect ratios; grey: beyond the image)"),
                               type="numpy")
            before = gr.Image(label=t("Top-N RPN boxes before NMS"), type="numpy")
            after = gr.Image(label=t("Top-N proposals after NMS (IoU 0.7)"), type="numpy")
        info = gr.Markdown()
    with gr.Accordion(t("How well it works: measured over seeds, with the paper's figures"), open=False):
        gr.Markdown(localized(_measured(), _measured_zh()))
        gr.Markdown(localized(_ablation(), _ablation(zh=True)))
        gr.LinePlot(recall_curve(), x="proposals per image", y="recall (%)", color="method", height=300,
                    x_title=t("proposals per image"), y_title=t("recall at IoU 0.7 (%)"), color_title=t("method"),
                    title=t("Recall of held-out objects against the number of proposals (mean over seeds)"))
    coco = frcnn.CHECKPOINTS["mobilenet_v3_large_fpn"]
    gr.Markdown(localized(weights_note(coco, adds="detection of the 80 COCO categories on your own photos"),
                          weights_note_zh(coco, adds="在你自己的照片上检测 COCO 的 80 类物体")))
    inputs = [image, model_name, threshold, anchor_x, anchor_y, level, top_n]
    outputs = [detections, anchors, before, after, info]
    run.click(detect, inputs, outputs, api_name=f"{SLUG}_detect")
    on_tab_open(detect, outputs, inputs)  # the shapes detector on the default example (~0.1 s)
    for slider in (threshold, anchor_x, anchor_y, level, top_n):
        slider.release(detect, inputs, outputs, api_visibility="private")


ZH = {
    "Image": "图像",
    "Detector": "检测器",
    "Shapes detector (trained here, offline)": "形状检测器（在这里训练，离线可用）",
    "COCO · MobileNetV3-Large FPN (torchvision)": "COCO · MobileNetV3-Large FPN（torchvision）",
    "COCO · ResNet-50 FPN (torchvision, slow on CPU)": "COCO · ResNet-50 FPN（torchvision，CPU 上较慢）",
    "Score threshold": "分数阈值",
    "Detect": "检测",
    "Examples": "示例",
    "Detections": "检测结果",
    "Look inside: anchors → proposals → NMS → detections": "内部细节：锚框 → 候选框 → NMS → 检测结果",
    "Anchor location: x (fraction of width)": "锚框位置：x（占宽度的比例）",
    "Anchor location: y (fraction of height)": "锚框位置：y（占高度的比例）",
    "Pyramid level (0 finest; shapes: 1 level, MobileNet: 3, ResNet-50: 5)": "金字塔层级（0 最精细；形状检测器 1 层，MobileNet 3 层，ResNet-50 5 层）",
    "Proposals to draw (top N)": "画出的候选框数（前 N 个）",
    "The anchors at that location (scales × aspect ratios; grey: beyond the image)": "该位置上的锚框（尺度 × 长宽比；灰色：图像之外）",
    "Top-N RPN boxes before NMS": "NMS 之前 RPN 的前 N 个框",
    "Top-N proposals after NMS (IoU 0.7)": "NMS 之后的前 N 个候选框（IoU 0.7）",
    "How well it works: measured over seeds, with the paper's figures": "效果如何：多个随机种子的实测结果，附论文数据",
    "proposals per image": "每张图的候选框数",
    "recall at IoU 0.7 (%)": "IoU 0.7 下的召回率（%）",
    "method": "方法",
    "Recall of held-out objects against the number of proposals (mean over seeds)": "未参与训练的物体的召回率与候选框数量的关系（多个种子的平均值）",
}
