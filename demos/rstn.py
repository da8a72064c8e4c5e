"""Recurrent STN tab: a recurrent spatial transformer reads a cluttered digit sequence, glimpse by glimpse."""
from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

import gradio as gr

from demos.common import cjk_markdown, friendly_errors, header, on_tab_open, weights_note, weights_note_zh
from demos.i18n import localized, say, t, zh_figure
from papers import results, rstn
from papers.checkpoints import gpu

SLUG = "rstn"
TITLE = "Recurrent STN"
PAPER_URL = "https://arxiv.org/abs/1509.05329"
INTRO = f"""A recurrent network looks at the whole canvas and, at each of {rstn.SEQUENCE_LENGTH} steps, emits
an affine transformation θ_t; a spatial transformer cuts out the glimpse θ_t points at and a
classifier reads it. Every step's θ starts at the same place (one digit-sized window at the canvas
centre), and the training canvases put the digits at random positions and spacings, so no step is
told where its digit is: the attention was learned from the digit labels alone. Type three digits (or roll a
random sequence), add clutter, and move the digits: untick "Random layout" to set the gap and the
position yourself (gaps under {rstn.GAP_RANGE[0]} px or over {rstn.GAP_RANGE[1]} px never occur in training)."""
INTRO_ZH = cjk_markdown(f"""一个循环网络看着整块画布，在 {rstn.SEQUENCE_LENGTH} 步中的每一步输出一个仿射变换 θ_t；
空间变换器按 θ_t 所指的位置切出一块“瞥视”（glimpse），再由分类器读出其中的数字。
每一步的 θ 都从同一个位置出发（画布中心一个数字大小的窗口），训练画布上数字的位置和间距都是随机的，
所以没有哪一步被告知它的数字在哪里：注意力只凭数字标签学会。输入 {rstn.SEQUENCE_LENGTH} 个数字（或随机生成一串），
加些杂物，再移动这些数字：取消勾选“随机布局”即可自己设置间距和位置（小于 {rstn.GAP_RANGE[0]} 像素或大于 {rstn.GAP_RANGE[1]} 像素的间距在训练中从未出现）。""")
LABELS_ZH = {"RNN-SPN": "RNN-SPN", "CNN": "CNN", "single STN": "单个 STN"}

ZOOM = 5
STEP_COLOURS = [(255, 80, 80), (80, 220, 80), (90, 150, 255)]
DEFAULTS = dict(sequence="4 7 2", clutter=rstn.CLUTTER_PIECES, seed=0, random_layout=True, gap=0, offset=0.0,
                attention="trained")
MAX_GAP = 20
ATTENTIONS = {"trained": "trained θ_t", "start": "at initialisation (the same centred window, every step)"}
RANDOM_LABEL = "Random layout (as in training); untick to set the gap and position below"
GAP_LABEL = f"Gap between digits (px; training used {rstn.GAP_RANGE[0]}–{rstn.GAP_RANGE[1]})"
OFFSET_LABEL = "Position of the group (0 = left edge, 1 = right edge)"


def _parse(sequence: str, request=None) -> list[int]:
    symbols = [c for c in str(sequence or "") if not c.isspace() and c not in ",;-"]
    if len(symbols) != rstn.SEQUENCE_LENGTH or not all(c.isdigit() for c in symbols):
        raise gr.Error(say(request, f"Type exactly {rstn.SEQUENCE_LENGTH} digits, e.g. '4 7 2'.",
                           f"请正好输入 {rstn.SEQUENCE_LENGTH} 个数字，例如「4 7 2」。"))
    return [int(c) for c in symbols]


def _overlay(canvas: np.ndarray, boxes) -> np.ndarray:
    """The canvas enlarged, with each step's attention box in its colour."""
    image = Image.fromarray((canvas * 255).astype(np.uint8)).convert("RGB")
    image = image.resize((image.width * ZOOM, image.height * ZOOM), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    for box, colour in zip(boxes, STEP_COLOURS):
        points = [tuple(p) for p in (box * ZOOM).tolist()]
        draw.line(points + [points[0]], fill=colour, width=3)
    return np.asarray(image)


def _glimpse(g) -> np.ndarray:
    pixels = (g.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(pixels).resize((112, 112), Image.NEAREST))


def _layout(random_layout, gap, offset, request=None) -> dict | None:
    if random_layout:
        return None
    gap, offset = int(gap), float(offset)
    if not 0 <= gap <= MAX_GAP or not 0 <= offset <= 1:
        raise gr.Error(say(request, f"The gap must be 0–{MAX_GAP} px and the position 0–1.",
                           f"间距必须在 0–{MAX_GAP} 像素之间，位置在 0–1 之间。"))
    return {"gap": gap, "offset": offset}


@gpu(duration=20)
@friendly_errors
def read(sequence, clutter, seed, random_layout=True, gap=0, offset=0.0, attention="trained",
         request: gr.Request = None):
    """Compose the canvas (random layout, or `gap` px between digits with the group at `offset`),
    run the RNN-SPN: overlay (trained attention or its start), the glimpses, what each model read."""
    clutter, seed = int(clutter), int(seed)
    if not 0 <= clutter <= 40:
        raise gr.Error(say(request, "Clutter must be between 0 and 40 pieces.", "杂物必须在 0 到 40 块之间。"))
    if attention not in ATTENTIONS:
        raise gr.Error(say(request, "Choose the trained attention or its start.", "请选择训练后的注意力或其起点。"))
    canvas = rstn.sequence_from_labels(_parse(sequence, request), clutter, seed,
                                       _layout(random_layout, gap, offset, request))
    out = rstn.read_sequence(canvas, attention)
    steps = "\n".join(
        f"| {step + 1} | **{int(p.argmax())}** | {float(p.max()):.0%} |" for step, p in enumerate(out["probs"]))
    rnn_spn, cnn, single = (" ".join(str(int(p.argmax())) for p in out["probs"]), " ".join(map(str, out["cnn"])),
                            " ".join(map(str, out["single_stn"])))
    shown = say(request, "Boxes: where every step starts (the same centred window, before training)." if attention == "start"
                else "Boxes: each step's trained θ_t.",
                "方框：每一步的起点（同一个居中的窗口，训练之前）。" if attention == "start" else "方框：每一步训练后的 θ_t。")
    text = say(request,
               "| step | read | confidence |\n|---|---|---|\n" + steps +
               f"\n\n**RNN-SPN:** {rnn_spn} · **CNN:** {cnn} · **single STN:** {single}",
               "| 步 | 读出 | 置信度 |\n|---|---|---|\n" + steps +
               f"\n\n**RNN-SPN：** {rnn_spn} · **CNN：** {cnn} · **单个 STN：** {single}")
    return (_overlay(canvas[0, 0].numpy(), out["boxes_px"]), *[_glimpse(g) for g in out["glimpses"]],
            shown + "\n\n" + text)


def roll(seed):
    """A random sequence of digits and a new seed."""
    rng = random.Random(int(seed) + 1)
    return " ".join(str(rng.randrange(10)) for _ in range(rstn.SEQUENCE_LENGTH)), int(seed) + 1


def results_table(zh: bool = False) -> str:
    """% per-digit test error of the shipped models from results/rstn.json, on random layouts (the
    training distribution) and on layouts never trained on, and where the attention goes."""
    rows = []
    for name in rstn.MODELS:
        method = "ours" if name == "rnn_spn" else name
        ckpt = rstn.CHECKPOINTS[name]
        label = LABELS_ZH[rstn.LABELS[name]] if zh else rstn.LABELS[name]
        claims = ("shipped_digit_error", *(f"ood_{k}_digit_error" for k in rstn.OOD_LAYOUTS), "shipped_sequence_error")
        rows.append(f"| {label} | {ckpt.num_params:,} | "
                    + " | ".join(results.figure(SLUG, claim, method) for claim in claims)
                    + f" | {rstn.PAPER_ERRORS[rstn.LABELS[name]]} |")
    attention, start = (results.figure(SLUG, "attention_error_px", unit=" px"),
                        results.figure(SLUG, "attention_error_px", "start", unit=" px"))
    attention_ood, start_ood = (results.figure(SLUG, "attention_error_px_ood", unit=" px"),
                                results.figure(SLUG, "attention_error_px_ood", "start", unit=" px"))
    steps, (g0, g1) = rstn.TRAIN_STEPS, rstn.GAP_RANGE
    track = {k: results.figure(SLUG, f"attention_tracking_{k}") for k in rstn.TEST_LAYOUTS}
    error = {k: results.figure(SLUG, c, unit=" %") for k, c in (("random", "shipped_digit_error"),
                                                     *((k, f"ood_{k}_digit_error") for k in rstn.OOD_LAYOUTS))}
    cnn_error = results.figure(SLUG, "shipped_digit_error", "cnn", unit=" %")
    width = results.figure(SLUG, "glimpse_width_px", unit=" px")
    stn_error = results.figure(SLUG, "shipped_digit_error", "single_stn", unit=" %")
    glimpse_en, glimpse_zh = glimpse_table(), glimpse_table(zh=True)
    shift_left, shift_right = (results.figure(SLUG, "attention_offset_packed_px", unit=" px"),
                               results.figure(SLUG, "attention_offset_packed_px", "packed_right", unit=" px"))
    if zh:
        return zh_figure(
            f"**测试错误率（%）**，随附模型（训练 {steps} 步，一个训练随机种子；3 次测试抽样，每次 600 个序列，均值 ± 标准差）。"
            f"训练布局：相邻数字间距 {g0}–{g1} 像素的随机值，整组数字在画布上的位置随机。"
            "其余三列是训练中从未出现的布局。论文：100×100 的 MNIST 序列。重新生成：`python -m papers.reproduce rstn`。\n\n"
            "| 模型 | 参数量 | 每个数字，随机布局 | 靠左紧排 | 靠右紧排 | 铺满两端 | 整个序列，随机布局 | 论文，每个数字 |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\n随附的 RNN-SPN 的瞥视中心离数字中心 **{attention}**（随机布局；从未见过的布局：{attention_ood}），"
            f"而它的起点（画布中心同一个窗口，每一步相同）离中心 {start}（从未见过的布局：{start_ood}）；"
            f"瞥视窗口平均宽 {width}（数字宽 21–27 像素）。\n\n"
            f"**如实地说：** 在随机布局（训练分布）上，注意力找到了数字：每一步的瞥视跟着它的数字移动"
            f"（瞥视中心与数字横坐标的相关系数 {track['random']}），RNN-SPN 每个数字的错误率 {error['random']}，"
            f"低于 CNN 基线（{cnn_error}）和单个 STN（{stn_error}）。但它没有学会在没见过的布局上搜索："
            f"在紧排布局上，瞥视被拉向训练中数字常在的位置（画布中部），落在数字之间（靠左紧排时平均偏右 {shift_left}，"
            f"靠右紧排时 {shift_right}；正值为向右）"
            f"（相关系数：靠左紧排 {track['packed_left']}、靠右紧排 {track['packed_right']}、铺满两端 {track['spread']}），"
            f"每个数字的错误率升到 {error['packed_left']}（靠左）和 {error['packed_right']}（靠右）。"
            "“分布外错误率接近分布内”的目标没有达到。每个随机种子重新训练三个模型的比较没有运行（CPU 预算不够）。\n\n"
            + glimpse_zh)
    return (f"**% test error**, shipped models ({steps} training steps, one training seed; 3 test draws of 600 "
            f"sequences, mean ± sd). Training layouts: gaps between neighbouring digits uniform in {g0}–{g1} px, "
            "the group anywhere on the canvas. The next three columns are layouts never trained on. Paper: "
            "100×100 MNIST sequences. Regenerate: `python -m papers.reproduce rstn`.\n\n"
            "| model | parameters | per digit, random layouts | packed left | packed right | spread | "
            "per sequence, random layouts | paper, per digit |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\nThe shipped RNN-SPN's glimpses sit **{attention}** from the digits' centres on random layouts "
            f"({attention_ood} on the unseen layouts), against {start} for its start, the same centred window for "
            f"every step ({start_ood} on the unseen layouts); its windows are {width} wide on average (a digit is "
            "21–27 px).\n\n"
            f"**Honestly:** on random layouts (the training distribution) the attention finds the digits: each "
            f"step's glimpse moves with its digit (correlation of glimpse centre and digit x: {track['random']}) and "
            f"the RNN-SPN's per-digit error, {error['random']}, is below the CNN baseline's ({cnn_error}) and the "
            f"single STN's ({stn_error}). But it has not learned to search layouts it never saw: on the packed "
            "layouts its glimpses are pulled towards where digits sit in training (the middle of the canvas) and "
            f"land between digits (mean horizontal offset from their digits {shift_left} packed left, {shift_right} "
            f"packed right; > 0 is to the right; correlation packed left {track['packed_left']}, packed right "
            f"{track['packed_right']}, spread {track['spread']}), and its per-digit error rises to "
            f"{error['packed_left']} (packed left) and {error['packed_right']} (packed right). The target — "
            "out-of-distribution error close to in-distribution — is not reached. A comparison retraining all three "
            "models per seed is not run (CPU budget).\n\n" + glimpse_en)


def glimpse_verdict(zh: bool = False) -> str:
    """One sentence on the paper's down-sampling claim, from the measured glimpse-size errors: the
    coarsest glimpse keeps the 28x28 accuracy if its mean is within the larger of the two seed
    spreads (sd) of the 28x28 mean."""
    found = results.claim(SLUG, "glimpse_size_digit_error")
    if not found:
        return ""
    size = min(rstn.GLIMPSE_SIZES)
    full, coarse = found["ours"], found["baselines"][f"glimpse_{size}"]
    kept = coarse["mean"] <= full["mean"] + max(full["sd"], coarse["sd"])
    # runs still near chance: the 28x28 runs' error is over 3x the shipped (longer-trained) model's
    unsettled = full["mean"] > 3 * results.value(SLUG, "shipped_digit_error")
    figures = (results.figure(SLUG, "glimpse_size_digit_error", f"glimpse_{size}", unit=" %"),
               results.figure(SLUG, "glimpse_size_digit_error", unit=" %"))
    factor = results.setting(f"{rstn.downsampling(size):.1f}")
    if zh:
        verdict = ("在这个训练步数下，许多运行还没有完全离开训练开始时接近随机猜测的平台期（哪些运行如此取决于随机种子；"
                   "28×28 的错误率远高于随附模型），随机种子之间的波动盖过了瞥视大小的任何影响：这里没有检验到这一结论。"
                   if unsettled else
                   "在随机种子的波动范围内没有损失准确率，与论文一致。" if kept else "这里损失了准确率，与论文不同。")
        return zh_figure(f"\n\n{size}×{size} 的瞥视（下采样 {factor}）每个数字错误率 {figures[0]}，28×28 为 {figures[1]}："
                         + verdict)
    verdict = ("at this number of steps many runs had not finished leaving the near-chance plateau the training "
               "starts on (which ones depends on the seed; the 28×28 runs' error is far above the shipped model's), "
               "so the spread across seeds swamps any effect of the glimpse size: the claim is not tested here."
               if unsettled else
               "no accuracy lost within the seeds' spread, as the paper found." if kept else
               "accuracy is lost here, unlike in the paper.")
    return (f"\n\nWith a {size}×{size} glimpse (down-sampling {factor}) the per-digit error is {figures[0]} against "
            f"{figures[1]} at 28×28: " + verdict)


def glimpse_table(zh: bool = False) -> str:
    """The paper's down-sampling claim (§3) as measured: per-digit error of RNN-SPNs retrained per
    seed with a 28x28, 20x20 and 14x14 glimpse (results/rstn.json: glimpse_size_*)."""
    rows = []
    for size in rstn.GLIMPSE_SIZES:
        method = "ours" if size == rstn.DIGIT_SIZE else f"glimpse_{size}"
        cells = [results.figure(SLUG, claim, method, unit=" %")
                 for claim in ("glimpse_size_digit_error", "glimpse_size_packed_digit_error")]
        factor = results.setting(f"{rstn.downsampling(size):.1f}")
        rows.append(f"| {size}×{size} | {factor} | " + " | ".join(cells) + " |")
    steps = rstn.GLIMPSE_STEPS
    if zh:
        return zh_figure(
            "**瞥视大小（论文 §3：更大的下采样而不损失准确率）。** 每种瞥视大小、每个训练随机种子各训练一个 RNN-SPN"
            f"（{steps} 步，其余与随附模型相同），固定的 600 个测试序列上每个数字的错误率（%）。"
            "下采样 = 画布像素数 / 瞥视像素数。\n\n"
            "| 瞥视 | 下采样 | 随机布局 | 紧排布局（靠左、靠右平均） |\n|---|---|---|---|\n" + "\n".join(rows)
            + glimpse_verdict(zh=True))
    return ("**Glimpse size (the paper's §3: larger down-sampling without losing accuracy).** One RNN-SPN per glimpse "
            f"size and training seed ({steps} steps, otherwise the shipped recipe); % per-digit error on the fixed "
            "600 test sequences. Down-sampling = canvas pixels / glimpse pixels.\n\n"
            "| glimpse | down-sampling | random layouts | packed layouts (mean of left and right) |\n|---|---|---|---|\n"
            + "\n".join(rows) + glimpse_verdict())


def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    with gr.Row():
        with gr.Column(scale=1):
            sequence = gr.Textbox(value=DEFAULTS["sequence"], label=t(SEQUENCE_LABEL))
            clutter = gr.Slider(0, 40, step=1, value=DEFAULTS["clutter"], label=t("Clutter (6×6 pieces of other digits)"))
            seed = gr.Number(value=DEFAULTS["seed"], precision=0, label=t("Handwriting / clutter seed"))
            random_layout = gr.Checkbox(value=DEFAULTS["random_layout"], label=t(RANDOM_LABEL))
            gap = gr.Slider(0, MAX_GAP, step=1, value=DEFAULTS["gap"], label=t(GAP_LABEL))
            offset = gr.Slider(0, 1, step=0.05, value=DEFAULTS["offset"], label=t(OFFSET_LABEL))
            attention = gr.Radio([(t(ATTENTIONS[k]), k) for k in ATTENTIONS], value=DEFAULTS["attention"],
                                 label=t("Attention shown"))
            roll_button = gr.Button(t("Random sequence"))
        with gr.Column(scale=2):
            overlay = gr.Image(label=t("Canvas with each step's attention (red → green → blue)"))
            with gr.Row():
                glimpses = [gr.Image(label=t(f"Glimpse {step + 1}"), height=140) for step in range(rstn.SEQUENCE_LENGTH)]
            reading = gr.Markdown()
    gr.Markdown(localized(results_table(), results_table(zh=True)))
    gr.Markdown(localized(weights_note(rstn.CHECKPOINTS["rnn_spn"], adds=ADDS),
                          weights_note_zh(rstn.CHECKPOINTS["rnn_spn"], adds=ADDS_ZH)))  # below the content
    outputs = [overlay, *glimpses, reading]
    inputs = [sequence, clutter, seed, random_layout, gap, offset, attention]
    gr.on([c.change for c in inputs], read, inputs, outputs, api_name=f"{SLUG}_read", trigger_mode="always_last")
    on_tab_open(read, outputs, inputs)  # the default sequence, read when the tab opens
    roll_button.click(roll, seed, [sequence, seed], api_name=f"{SLUG}_roll")


SEQUENCE_LABEL = f"{rstn.SEQUENCE_LENGTH} digits to write"
ADDS = "the trained RNN-SPN and its baselines"
ADDS_ZH = "训练好的 RNN-SPN 及其基线模型"


def bench_default():
    return read(*(DEFAULTS[k] for k in ("sequence", "clutter", "seed", "random_layout", "gap", "offset", "attention")))


ZH = {
    INTRO: INTRO_ZH,
    SEQUENCE_LABEL: f"要写的 {rstn.SEQUENCE_LENGTH} 个数字",
    "Clutter (6×6 pieces of other digits)": "杂物（其他数字的 6×6 碎片）",
    "Handwriting / clutter seed": "笔迹 / 杂物的随机种子",
    "Random sequence": "随机序列",
    RANDOM_LABEL: "随机布局（与训练相同）；取消勾选后可设置下面的间距和位置",
    GAP_LABEL: f"数字之间的间距（像素；训练时为 {rstn.GAP_RANGE[0]}–{rstn.GAP_RANGE[1]}）",
    OFFSET_LABEL: "整组数字的位置（0 = 左边缘，1 = 右边缘）",
    "Attention shown": "显示的注意力",
    ATTENTIONS["trained"]: "训练后的 θ_t",
    ATTENTIONS["start"]: "初始化时（同一个居中的窗口，每一步相同）",
    "Canvas with each step's attention (red → green → blue)": "画布与每一步的注意力（红 → 绿 → 蓝）",
    **{f"Glimpse {step + 1}": f"第 {step + 1} 次瞥视" for step in range(rstn.SEQUENCE_LENGTH)},
}
