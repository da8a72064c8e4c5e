"""Spatial Transformer Networks tab: distort a digit, watch the transformer find and straighten it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw

import gradio as gr

from demos.common import (cjk_markdown, friendly_errors, header, heavy_id, on_tab_open, read_image, weights_note,
                          weights_note_zh)
from demos.i18n import localized, say, t, zh_figure
from papers import results, stn
from papers.checkpoints import gpu
from papers.data import digits, split_size

SLUG = "stn"
TITLE = "Spatial Transformer Networks"
PAPER_URL = "https://arxiv.org/abs/1506.02025"
INTRO = """A **spatial transformer** is a small network that looks at the image, predicts an affine
transformation θ, and *resamples* the image through it before a CNN classifies it — learned
with no supervision of θ. As in the paper (§4.1), each distortion has its own models: an
ST-CNN and a plain CNN with the same number of parameters, trained only on rotated digits (R),
on rotated, scaled and moved ones (RTS), or on elastically warped ones (E), where a
thin-plate-spline (TPS) transformer — θ is 16 control points on a 4×4 grid — joins the affine
one. Turn, shrink, move, warp and clutter a digit on the 60×60 canvas: the green grid shows where
the ST-CNN samples, the orange grid where a perfect transformer would sample (the exact inverse of
your distortion), and the middle image is what its classifier sees."""
INTRO_ZH = cjk_markdown("""**空间变换器**（spatial transformer）是一个小网络：它先看一眼图像，预测一个仿射变换 θ，
再按 θ 对图像*重新采样*，然后才交给 CNN 分类——学习 θ 不需要任何关于 θ 的监督。
与论文一样（§4.1），每种形变各有自己的模型：一个 ST-CNN 和一个参数量相同的普通 CNN，
只用旋转的数字（R）、只用旋转、缩放并平移的数字（RTS）或只用弹性扭曲的数字（E）训练；
E 还多一个薄板样条（TPS）变换器，它的 θ 是 4×4 网格上的 16 个控制点。在 60×60 的画布上旋转、缩放、
平移、扭曲一个数字并加入杂物：绿色网格是 ST-CNN 采样的位置，橙色网格是完美的变换器应当采样的位置
（你所设形变的精确逆变换），中间的图像是它的分类器看到的内容。""")

SOURCES = ("Test-set digit", "My drawing")
DISPLAY_ZOOM = 6  # canvas pixels -> screen pixels
GRID_STEP = 3  # draw every 3rd sampling point
MODEL_CHOICES = {"R": "R model (trained on rotations of up to ±90°, the range widened during training)",
                 "RTS": "RTS model (trained on rotation ±45°, scale 0.7–1.2, moved within 42×42, starting from the R model)",
                 "E": "E model (trained on elastic warps: 16 spline control points moved at random; ST-CNN TPS)"}
DEFAULTS = dict(source=SOURCES[0], index=7, angle=35.0, scale=1.0, shift_x=0.0, shift_y=0.0, clutter=0,
                model="R", elastic=0.0)  # the R model de-rotates (its digits sit at the canvas centre)
ELASTIC_MAX = 0.12  # the elastic slider's top (E trains at stn.ELASTIC_SIGMA); its inverse (orange) still converges
LEARNED, EXACT = (0, 220, 0), (255, 150, 0)  # grid colours: the ST-CNN's, the exact rectifying one
MEASURE_DIGITS = (50, 449, 200)  # the measure button's N: min, max, default


def _test_digit(index: int, request=None) -> torch.Tensor:
    images, _ = digits("test")
    if not 0 <= int(index) < len(images):
        raise gr.Error(say(request, f"Pick a test digit between 0 and {len(images) - 1}.",
                           f"请选择 0 到 {len(images) - 1} 之间的测试数字编号。"))
    return images[int(index)]


def _drawn_digit(sketch, request=None) -> torch.Tensor:
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None or np.ptp(np.asarray(composite)) == 0:
        raise gr.Error(say(request, "The drawing is empty: draw a digit on the pad (or choose 'Test-set digit').",
                           "画板是空的：请在画板上画一个数字（或选择「测试集数字」）。"))
    rgb = read_image(sketch).rgb
    grey = torch.from_numpy(rgb.astype(np.float32).mean(2) / 255.0)
    if grey.median() > 0.5:  # dark ink on a light page -> bright ink, like the data set
        grey = 1 - grey
    return stn.to_digit(grey)


def pick_digit(source, index, sketch, request=None) -> torch.Tensor:
    """The chosen digit (1, 28, 28): a test-set digit or the visitor's drawing."""
    return _drawn_digit(sketch, request) if source == SOURCES[1] else _test_digit(index, request)


def source_after_drawing(sketch, source):
    """Switch the digit source to the drawing once the visitor has drawn something."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else None
    if composite is not None and np.ptp(np.asarray(composite)) > 0:
        return SOURCES[1]
    return source


def _zoom(grey: torch.Tensor, side: int) -> Image.Image:
    pixels = (grey.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB").resize((side, side), Image.NEAREST)


def _draw_grid(draw: ImageDraw.ImageDraw, grid_px: torch.Tensor, colour) -> None:
    """One sampling grid (H', W', 2) in canvas pixels: outline, every 3rd point, top-left ring."""
    screen = ((grid_px + 0.5) * DISPLAY_ZOOM).numpy()  # (H', W', 2)
    outline = np.concatenate([screen[0], screen[:, -1], screen[-1, ::-1], screen[::-1, 0]])
    draw.line([tuple(p) for p in outline] + [tuple(outline[0])], fill=colour, width=2)
    for x, y in screen[::GRID_STEP, ::GRID_STEP].reshape(-1, 2):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    draw.ellipse([*(screen[0, 0] - 4), *(screen[0, 0] + 4)], outline=colour, width=2)


def _overlay(canvas: torch.Tensor, grid_px: torch.Tensor, exact_px: torch.Tensor | None = None) -> np.ndarray:
    """The canvas with the exact rectifying grid (orange) and the ST-CNN's grid (green) over it."""
    image = _zoom(canvas, canvas.shape[-1] * DISPLAY_ZOOM)
    draw = ImageDraw.Draw(image)
    if exact_px is not None:
        _draw_grid(draw, exact_px, EXACT)
    _draw_grid(draw, grid_px, LEARNED)
    return np.asarray(image)


def _probs(p: torch.Tensor) -> dict[str, float]:
    return {str(k): float(v) for k, v in enumerate(p)}


POSE_ROWS = [("rotation (°)", "旋转（°）", "angle"), ("scale", "缩放", "scale"),
             ("shift x (px)", "水平平移（像素）", "shift_x"), ("shift y (px)", "垂直平移（像素）", "shift_y")]


def _pose_table(theta: torch.Tensor, angle, scale, shift_x, shift_y, zh: bool = False) -> str:
    learned = stn.theta_pose(theta)
    exact = {"angle": angle, "scale": scale, "shift_x": shift_x, "shift_y": shift_y}
    rows = "\n".join(f"| {zh_name if zh else name} | {exact[key]:.1f} | {learned[key]:.1f} |"
                     for name, zh_name, key in POSE_ROWS)
    matrix = " \\\\ ".join(" & ".join(f"{v:.2f}" for v in row) for row in theta.tolist())
    theta_tex = f"$= \\begin{{bmatrix}} {matrix} \\end{{bmatrix}}$"
    if zh:
        return (f"**预测的 θ** {theta_tex}（把 28×28 的输出网格映射到画布上；圆圈标出输出左上角的像素：绿色为 ST-CNN，"
                "橙色为精确的逆变换）\n\n"
                "| 从 θ 读出的姿态 | 你设置的形变（精确逆变换） | ST-CNN 的 θ |\n|---|---|---|\n" + rows + "\n\n" + _pose_note(zh=True))
    return (f"**Predicted θ** {theta_tex} "
            "(maps the 28×28 output grid into the canvas; the rings mark the output's top-left pixel: green the "
            "ST-CNN's, orange the exact inverse)\n\n"
            "| pose read from θ | your distortion (exact inverse) | ST-CNN's θ |\n|---|---|---|\n" + rows +
            "\n\n" + _pose_note())


def _tps_table(theta: torch.Tensor, placement, elastic: float, seed: int, zh: bool = False) -> str:
    """The TPS θ: how far its 16 source control points sit from the regular 4×4 grid (canvas
    pixels), and from where the exact inverse of the visitor's distortion puts the same output points."""
    control = stn.tps_control_points(stn.TPS_GRID)  # (16, 2), on the output grid
    learned, rest = stn.grid_to_pixels(theta), stn.grid_to_pixels(control)  # (16, 2) canvas pixels
    exact = stn.grid_to_pixels(stn.rectify_points(control, *placement, elastic=elastic, seed=seed))
    moved = (learned - rest).norm(dim=1).mean().item()
    gap = (learned - exact).norm(dim=1).mean().item()
    if zh:
        return (f"**TPS 的 θ**：4×4 网格上 16 个源控制点（绿色网格的节点）。它们离规则网格平均 {moved:.1f} 像素，"
                f"离精确逆变换给同一输出点的位置平均 {gap:.1f} 像素（没有任何东西把 θ 拉向精确逆变换：训练它的只有分类损失，"
                "所以它只需把数字放大并扭成分类器容易识别的样子）。\n\n" + _e_note(zh=True))
    return (f"**TPS θ**: 16 source control points on a 4×4 grid (the green grid's knots). They sit {moved:.1f} px "
            f"from the regular grid on average, and {gap:.1f} px from where the exact inverse of your distortion "
            "puts the same output points (nothing pulls θ towards the exact inverse: only the classification loss trains "
            "it, so it need only zoom onto the digit and bend it into something its classifier reads well).\n\n" + _e_note())


def _e_note(zh: bool = False) -> str:
    """E's measured errors (results/stn.json): the TPS ST-CNN, the affine one and the CNN."""
    cid = stn.CLAIM_IDS["E"]
    tps, aff, cnn = (results.figure(SLUG, cid, method, unit=" %") for method in ("ours", "st_cnn", "cnn"))
    paper = {name: stn.PAPER_TABLE1[name]["E"] for name in stn.PAPER_TABLE1}
    if zh:
        return zh_figure(f"在 E 测试数字上的错误率（每个随机种子从头训练）：ST-CNN TPS {tps}，ST-CNN Aff {aff}，CNN {cnn}"
                         f"（论文，MNIST：{paper['ST-CNN TPS']} / {paper['ST-CNN Aff']} / {paper['CNN']} %）。")
    return (f"Error on E test digits (each seed trains from scratch): ST-CNN TPS {tps}, ST-CNN Aff {aff}, CNN {cnn} "
            f"(paper, MNIST: {paper['ST-CNN TPS']} / {paper['ST-CNN Aff']} / {paper['CNN']} %).")


def _pose_note(zh: bool = False) -> str:
    """How θ follows each part of the pose, in words chosen by the measured slopes (results/stn.json)."""
    ids = {"shift_x": "theta_shift_x_slope", "scale": "theta_scale_slope", "angle": "theta_angle_slope",
           "angle_rts": "theta_angle_slope_rts", "angle_seeded": "theta_angle_slope_seeded",
           "angle_rts_seeded": "theta_angle_slope_rts_seeded"}
    slopes = {q: results.figure(SLUG, cid) for q, cid in ids.items()}
    follows = {q: (results.value(SLUG, cid) or 0) > 0.5 for q, cid in ids.items()}
    if zh:
        found = ("能找到数字并放大到它上面" if follows["shift_x"] and follows["scale"]
                 else "只部分地跟上了数字的位置和大小")
        r_model = ("R 模型还会随数字一起转动采样网格，把数字大致转正，与论文一致（§4.1，图 3）；这要靠训练时把旋转范围从 0 逐步放宽到 ±90°"
                   "（课程式训练，与论文不同，见 papers/stn.py 的文档字符串），全程用 ±90° 训练时它完全不转"
                   if follows["angle"] else
                   "R 模型**没有**学会论文中的去旋转（§4.1，图 3）：分类器直接学会了识别旋转的数字，分类损失几乎不促使变换器去转动")
        rts_model = ("RTS 模型同样会转动网格（它从随附的 R 模型开始训练，与论文不同）" if follows["angle_rts"] else
                     "RTS 模型只转动很少，主要靠分类器识别旋转的数字")
        return zh_figure(f"在测试数字上，从 θ 读出的姿态对真实姿态的斜率（1 = 完全跟随）：RTS 模型的平移 {slopes['shift_x']}，"
                         f"缩放 {slopes['scale']}，旋转 {slopes['angle_rts']}（每个随机种子重新训练：{slopes['angle_rts_seeded']}）；R 模型的旋转 {slopes['angle']}"
                         f"（每个随机种子从头重新训练的 R 模型：{slopes['angle_seeded']}）。"
                         f"我们的 ST-CNN {found}。{r_model}；{rts_model}。橙色网格是精确的去形变网格。扫描见下方。")
    found = ("find and zoom onto the digit" if follows["shift_x"] and follows["scale"]
             else "follow the digit's position and size only partly")
    r_model = ("The R model also turns its grid with the digit, so its glimpse comes out roughly upright, as in the paper "
               "(§4.1, Fig. 3); it learned that because its training widened the rotation range from upright to "
               "±90° step by step (a curriculum, unlike the paper; see papers/stn.py's docstring): trained on ±90° "
               "from the start it did not turn at all" if follows["angle"] else
               "The R model does **not** learn the paper's de-rotation (§4.1, Fig. 3): its classifier learns the "
               "rotated digits directly, so the classification loss gives the transformer almost no reason to turn")
    rts_model = ("the RTS model turns its grid too (it starts its training from the shipped R model, unlike the paper)"
                 if follows["angle_rts"] else
                 "the RTS model turns only a little and leaves rotation to its classifier")
    return (f"Slope of the pose read from θ against the true one over test digits (1 = follows exactly): RTS model "
            f"shift {slopes['shift_x']}, scale {slopes['scale']}, rotation {slopes['angle_rts']} (retrained per seed: "
            f"{slopes['angle_rts_seeded']}); R model rotation "
            f"{slopes['angle']} (R models retrained from scratch per seed: {slopes['angle_seeded']}). Our ST-CNNs "
            f"{found}. {r_model}; {rts_model}. The orange grid is the exact "
            "rectifying one. Sweep below.")


def _model(choice) -> str:
    return choice if choice in MODEL_CHOICES else DEFAULTS["model"]


def _elastic(value) -> float:
    try:
        return min(max(float(value or 0), 0.0), ELASTIC_MAX)
    except (TypeError, ValueError):
        return 0.0


@gpu(duration=20)
@friendly_errors
def analyse(source, index, sketch, angle, scale, shift_x, shift_y, clutter, model=DEFAULTS["model"],
            elastic=DEFAULTS["elastic"], request: gr.Request = None):
    """Compose the canvas (`elastic` > 0: warped as E warps, drawn with the digit's index), run the
    chosen distortion's networks; the overlay (learned and exact grids), glimpse, predictions and
    pose table (for the E model's TPS θ, its control points)."""
    digit = pick_digit(source, index, sketch, request)
    elastic = _elastic(elastic)
    canvas = stn.compose(digit, angle, scale, shift_x, shift_y, int(clutter), seed=int(index), elastic=elastic)
    out = stn.analyse(canvas, _model(model))
    exact = stn.exact_grid_px(angle, scale, shift_x, shift_y, elastic=elastic, seed=int(index))
    if out["transformer"] == "tps":
        placement = (angle, scale, shift_x, shift_y)
        table = say(request, _tps_table(out["theta"], placement, elastic, int(index)),
                    _tps_table(out["theta"], placement, elastic, int(index), zh=True))
    else:
        table = say(request, _pose_table(out["theta"], angle, scale, shift_x, shift_y),
                    _pose_table(out["theta"], angle, scale, shift_x, shift_y, zh=True))
    return (_overlay(canvas[0, 0], out["grid_px"], exact), np.asarray(_zoom(out["rectified"], 168)),
            _probs(out["st_cnn_probs"]), _probs(out["cnn_probs"]), table)


def preset(model):
    """Choosing the E model sets the canvas to what it was trained on (centred, upright, warped at
    E's strength); the R and RTS models take the warp off."""
    if _model(model) == "E":
        return 0, 1.0, 0, 0, stn.ELASTIC_SIGMA
    return gr.update(), gr.update(), gr.update(), gr.update(), 0.0


SWEEP_NAMES_ZH = {"rotation (°)": "旋转（°）", "scale": "缩放", "shift right (px)": "向右平移（像素）"}
SWEEPS = {  # what to vary -> (its values, position in an (angle, scale, shift_x, shift_y) placement)
    "rotation (°)": (list(range(-180, 181, 15)), 0),
    "scale": ([round(0.5 + 0.05 * i, 2) for i in range(21)], 1),
    "shift right (px)": (list(range(-16, 17, 2)), 2),
}


@gpu(duration=30)
@friendly_errors
def sweep(source, index, sketch, quantity, angle, scale, shift_x, shift_y, model=DEFAULTS["model"],
          request: gr.Request = None):
    """Vary one slider through its range; the same quantity read back from the chosen ST-CNN's θ."""
    if quantity not in SWEEPS:
        raise gr.Error(say(request, f"Choose one of: {', '.join(SWEEPS)}.",
                           f"请从这些中选择一个：{'、'.join(SWEEP_NAMES_ZH.values())}。"))
    values, position = SWEEPS[quantity]
    placements = []
    for value in values:
        placement = [angle, scale, shift_x, shift_y]
        placement[position] = value
        placements.append(placement)
    poses = stn.theta_sweep(pick_digit(source, index, sketch, request), placements, _model(model))
    key = ("angle", "scale", "shift_x")[position]
    yours, read = say(request, "your distortion", "你设置的形变"), say(request, "read from the ST-CNN's θ", "从 ST-CNN 的 θ 读出")
    if _model(model) == "E":  # a TPS θ has no single pose: the sweep reads E's affine ST-CNN
        read = say(request, "read from E's affine ST-CNN's θ", "从 E 的仿射 ST-CNN 的 θ 读出")
    rows = [{"input": v, "value": v, "series": yours} for v in values]
    rows += [{"input": v, "value": p[key], "series": read} for v, p in zip(values, poses)]
    return pd.DataFrame(rows)


@gpu(duration=30)
@friendly_errors
def measure(n_digits, seed, request: gr.Request = None):
    """Re-evaluate both models of each distortion on N freshly distorted test digits, with a 95 %
    interval; yields the table as each distortion finishes (Stop stops it)."""
    try:
        n = int(min(max(float(n_digits), MEASURE_DIGITS[0]), MEASURE_DIGITS[1]))
        seed = int(seed)
    except (TypeError, ValueError):
        raise gr.Error(say(request, "N and the seed must be numbers.", "N 和随机种子必须是数字。"))
    if say(request, "en", "zh") == "zh":
        head = (f"**{n} 个测试数字，每种形变重新抽样（种子 {seed}）**：% 错误率 ± 95 % 区间（二项分布的正态近似）\n\n"
                "| 形变 | ST-CNN Aff | ST-CNN TPS | CNN（参数量相同） |\n|---|---|---|---|")
    else:
        head = (f"**{n} test digits, freshly distorted per distortion (seed {seed})**: % error ± 95 % interval "
                "(normal approximation of the binomial)\n\n| distortion | ST-CNN Aff | ST-CNN TPS | CNN (same parameter count) |"
                "\n|---|---|---|---|")
    rows = []
    for kind, row in stn.measure_live(n, seed):
        cells = [f"{row[arch][0]:.1f} ± {row[arch][1]:.1f}" if arch in row else "–" for arch in ("st_cnn", "st_tps", "cnn")]
        rows.append(f"| {kind} | " + " | ".join(cells) + " |")
        yield "\n".join([head, *rows])


def _verdict(claim: dict, a: str, b: str, zh: bool) -> str:
    """a vs b of one seeded claim: the difference of the means against the sum of the two spreads."""
    stats = {"ours": claim["ours"], **claim["baselines"]}
    gap, noise = stats[b]["mean"] - stats[a]["mean"], stats[a]["sd"] + stats[b]["sd"]
    names = {m: claim["labels"].get(m, m).replace(" (same parameter budget)", "") for m in (a, b)}
    if zh:
        return (f"{names[a]} 更好" if gap > noise else f"{names[b]} 更好" if -gap > noise
                else f"{names[a]} 与 {names[b]} 的差别不超过随机种子之间的波动")
    return (f"{names[a]} better than {names[b]}" if gap > noise else f"{names[b]} better than {names[a]}" if -gap > noise
            else f"{names[a]} vs {names[b]}: no difference beyond the seed-to-seed spread")


def error_table(zh: bool = False) -> str:
    """% test error per distortion from results/stn.json: the seeded comparison (mean ± sd over
    seeds, each training every model from scratch), the shipped models, and the paper's Table 1."""
    kinds = stn.MODEL_DISTORTIONS
    head = "| | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds)

    def row(label, ids, arch):
        cells = [results.figure(SLUG, ids[k], "ours" if arch == stn.PRIMARY[k] else arch)
                 if arch in stn.KIND_ARCHITECTURES[k] else "–" for k in kinds]
        return f"| {label} | " + " | ".join(cells) + " |"

    steps = "、".join(f"{k} {n} 步" for k, n in stn.TRAIN_STEPS.items()) if zh else \
        ", ".join(f"{k} {n} steps" for k, n in stn.TRAIN_STEPS.items())
    archs = ("st_cnn", "st_tps", "cnn")
    names = {"st_cnn": "ST-CNN Aff", "st_tps": "ST-CNN TPS", "cnn": "CNN"}
    if zh:
        labels = [f"{names[a]}，每个随机种子（{steps}）" for a in archs] + \
                 [f"随附的 {names[a]}（种子 0），3 次测试抽样" for a in archs]
    else:
        labels = [f"{names[a]}, per seed ({steps})" for a in archs] + \
                 [f"shipped {names[a]} (seed 0), 3 test draws" for a in archs]
    rows = [row(label, stn.CLAIM_IDS, arch) for label, arch in zip(labels[:3], archs)]
    rows += [row(label, stn.SHIPPED_CLAIM_IDS, arch) for label, arch in zip(labels[3:], archs)]
    rows += [f"| {label} {'（论文，MNIST）' if zh else '(paper, MNIST)'} | " + " | ".join(
        f"{row[k]:.1f}" if k in row else "–" for k in kinds) + " |"
        for label, row in stn.PAPER_TABLE1.items()]
    verdicts = []
    for kind in kinds:
        claim = results.claim(SLUG, stn.CLAIM_IDS[kind])
        if not claim:
            continue
        pairs = [("ours", "cnn")] + ([("ours", "st_cnn")] if "st_cnn" in claim["baselines"] else [])
        verdicts.append(f"{kind}{'：' if zh else ': '}" + ("，" if zh else ", ").join(
            _verdict(claim, a, b, zh) for a, b in pairs))
    table = "\n".join([head, *rows])
    if zh:
        return zh_figure(
            "**各种形变下的测试错误率（%）**（与论文一样每种形变一组模型，但只有 R、RTS 和 E；1,148 个训练数字，在 CPU 上训练几分钟，"
            "多个随机种子的均值 ± 标准差；论文：60,000 个 MNIST 数字）。重新生成：`python -m papers.reproduce stn`。\n\n" + table +
            "\n\n带随机种子的比较（每个随机种子都重新训练所有模型：从头开始，RTS 模型则从随附的 R 模型开始），用均值之差对比两者标准差之和：" + "；".join(verdicts) +
            "。随附模型的各行各只训练了一次；其 ± 只来自三次测试形变抽样，所以那里的差距说明不了训练带来的波动。")
    return ("**% test error per distortion** (one set of models per distortion as in the paper, but only R, RTS and E; "
            "1,148 training digits, minutes of CPU, mean ± sd over seeds; paper: 60,000 MNIST digits). "
            "Regenerate: `python -m papers.reproduce stn`.\n\n" + table +
            "\n\nSeeded comparison (each seed trains every model anew: from scratch, the RTS ones from the shipped R "
            "models), difference of the means "
            "against the sum of the two spreads: " + "; ".join(verdicts) + ". The shipped rows are one "
            "training run each; their ± is over three draws of the test distortions only, so a gap there "
            "says nothing about training noise.")


def digit_inputs(index: int):
    """The digit picker both geometry tabs share: test digit or drawing, a test-set index, a Sketchpad."""
    source = gr.Radio([(t(name), name) for name in SOURCES], value=SOURCES[0], label=t("Digit"))
    index = gr.Slider(0, split_size("test") - 1, step=1, value=index, label=t("Test-set digit #"))
    sketch = gr.Sketchpad(label=t("Or draw a digit"), type="numpy",
                          canvas_size=(280, 280), image_mode="RGB", height=320)
    return source, index, sketch


def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Radio([(t(label), kind) for kind, label in MODEL_CHOICES.items()], value=DEFAULTS["model"],
                             label=t("Models (one pair per distortion, as in the paper)"))
            source, index, sketch = digit_inputs(DEFAULTS["index"])
            angle = gr.Slider(-180, 180, step=1, value=DEFAULTS["angle"], label=t("Rotation (°, counter-clockwise)"))
            scale = gr.Slider(0.5, 1.5, step=0.05, value=DEFAULTS["scale"], label=t("Scale"))
            shift_x = gr.Slider(-16, 16, step=1, value=DEFAULTS["shift_x"], label=t("Shift right (px)"))
            shift_y = gr.Slider(-16, 16, step=1, value=DEFAULTS["shift_y"], label=t("Shift down (px)"))
            clutter = gr.Slider(0, 12, step=1, value=DEFAULTS["clutter"], label=t("Clutter (6×6 pieces of other digits)"))
            elastic = gr.Slider(0, ELASTIC_MAX, step=0.01, value=DEFAULTS["elastic"],
                                label=t("Elastic warp (E): s.d. of the 16 control points' random moves (digit half-widths)"))
        with gr.Column(scale=2):
            with gr.Row():
                overlay = gr.Image(label=t("60×60 input: ST-CNN's sampling grid (green), exact rectifying grid (orange)"),
                                   height=380)
                rectified = gr.Image(label=t("What the classifier sees (28×28)"), height=200)
            with gr.Row():
                st_label = gr.Label(num_top_classes=3, label=t("ST-CNN prediction"))
                cnn_label = gr.Label(num_top_classes=3, label=t("Plain CNN prediction (same parameter count)"))
            pose = gr.Markdown(latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    with gr.Row():
        quantity = gr.Radio([(t(name), name) for name in SWEEPS], value="rotation (°)",
                            label=t("Sweep one distortion"), scale=2)
        sweep_button = gr.Button(t("Sweep: does θ follow it?"), scale=1)
    sweep_plot = gr.LinePlot(x="input", y="value", color="series", height=300,
                             x_title=t("the distortion you set"), y_title=t("value"), color_title=t("series"),
                             title=t("The distortion you set vs. the same quantity read from θ"))
    gr.Markdown(localized(error_table(), error_table(zh=True)))
    with gr.Row():
        n_digits = gr.Slider(*MEASURE_DIGITS[:2], step=1, value=MEASURE_DIGITS[2], label=t("N test digits per distortion"))
        measure_seed = gr.Number(value=0, precision=0, label=t("Seed of the draw"))
        measure_button = gr.Button(t("Measure the models on R, RTS and E"))
    measured = gr.Markdown()
    gr.Markdown(localized(" ".join(weights_note(stn.CHECKPOINTS[name], adds=ADDS) for name in stn.CHECKPOINTS),
                          " ".join(weights_note_zh(stn.CHECKPOINTS[name], adds=ADDS_ZH) for name in stn.CHECKPOINTS)))

    inputs = [source, index, sketch, angle, scale, shift_x, shift_y, clutter, model, elastic]
    outputs = [overlay, rectified, st_label, cnn_label, pose]
    sweep_inputs = [source, index, sketch, quantity, angle, scale, shift_x, shift_y, model]
    sketch.change(source_after_drawing, [sketch, source], source, api_visibility="private", queue=False)
    model.input(preset, model, [angle, scale, shift_x, shift_y, elastic], api_visibility="private", queue=False)
    gr.on([c.change for c in inputs], analyse, inputs, outputs, api_name=f"{SLUG}_analyse", trigger_mode="always_last")
    on_tab_open(analyse, outputs, inputs)  # the default digit, analysed when the tab opens
    on_tab_open(sweep, [sweep_plot], sweep_inputs)  # and its default sweep (~0.05 s)
    sweep_button.click(sweep, sweep_inputs, sweep_plot, api_name=f"{SLUG}_sweep")
    measure_button.click(measure, [n_digits, measure_seed], measured, api_name=f"{SLUG}_measure",
                         concurrency_id=heavy_id(SLUG), concurrency_limit=1)


ADDS = "the trained ST-CNNs and their CNN baselines, one pair per distortion"
ADDS_ZH = "训练好的 ST-CNN 及其 CNN 基线（每种形变一对）"


def bench_default():
    d = DEFAULTS
    return analyse(d["source"], d["index"], None, d["angle"], d["scale"], d["shift_x"], d["shift_y"], d["clutter"],
                   d["model"])


ZH = {
    INTRO: INTRO_ZH,
    "Test-set digit": "测试集数字",
    "My drawing": "我画的",
    "Digit": "数字",
    "Test-set digit #": "测试集数字编号",
    "Or draw a digit": "或者自己画一个数字",
    "Rotation (°, counter-clockwise)": "旋转（°，逆时针）",
    "Scale": "缩放",
    "Shift right (px)": "向右平移（像素）",
    "Shift down (px)": "向下平移（像素）",
    "Clutter (6×6 pieces of other digits)": "杂物（其他数字的 6×6 碎片）",
    "60×60 input: ST-CNN's sampling grid (green), exact rectifying grid (orange)":
        "60×60 输入：ST-CNN 的采样网格（绿色），精确的校正网格（橙色）",
    "What the classifier sees (28×28)": "分类器看到的内容（28×28）",
    "ST-CNN prediction": "ST-CNN 的预测",
    "Plain CNN prediction (same parameter count)": "普通 CNN 的预测（参数量相同）",
    **SWEEP_NAMES_ZH,
    "Sweep one distortion": "扫描一种形变",
    "Sweep: does θ follow it?": "扫描：θ 跟得上吗？",
    "the distortion you set": "你设置的形变",
    "value": "数值",
    "series": "曲线",
    "The distortion you set vs. the same quantity read from θ": "你设置的形变 vs. 从 θ 读出的同一个量",
    "Models (one pair per distortion, as in the paper)": "模型（与论文一样，每种形变一对）",
    MODEL_CHOICES["R"]: "R 模型（用最多 ±90° 的旋转训练，训练中逐步放宽范围）",
    MODEL_CHOICES["RTS"]: "RTS 模型（从 R 模型出发，用 ±45° 旋转、0.7–1.2 缩放、在 42×42 内平移训练）",
    "N test digits per distortion": "每种形变的测试数字个数 N",
    "Seed of the draw": "抽样的随机种子",
    "Measure the models on R, RTS and E": "在 R、RTS 和 E 上测量这些模型",
    MODEL_CHOICES["E"]: "E 模型（用弹性扭曲训练：16 个样条控制点随机移动；ST-CNN TPS）",
    "Elastic warp (E): s.d. of the 16 control points' random moves (digit half-widths)":
        "弹性扭曲（E）：16 个控制点随机移动的标准差（以数字半宽为单位）",
}
