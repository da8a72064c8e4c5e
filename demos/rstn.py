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
classifier reads it. Nobody told it where the digits are: it learned to move its attention from
the digit labels alone. Type three digits (or roll a random sequence) and add clutter."""
INTRO_ZH = cjk_markdown(f"""一个循环网络看着整块画布，在 {rstn.SEQUENCE_LENGTH} 步中的每一步输出一个仿射变换 θ_t；
空间变换器按 θ_t 所指的位置切出一块“瞥视”（glimpse），再由分类器读出其中的数字。
没有人告诉它数字在哪里：它只凭数字标签就学会了移动注意力。输入 {rstn.SEQUENCE_LENGTH} 个数字（或随机生成一串），
再加些杂物试试。""")
LABELS_ZH = {"RNN-SPN": "RNN-SPN", "CNN": "CNN", "single STN": "单个 STN"}

ZOOM = 5
STEP_COLOURS = [(255, 80, 80), (80, 220, 80), (90, 150, 255)]
DEFAULTS = dict(sequence="4 7 2", clutter=rstn.CLUTTER_PIECES, seed=0)


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


@gpu(duration=20)
@friendly_errors
def read(sequence, clutter, seed, request: gr.Request = None):
    """Compose the canvas, run the RNN-SPN: overlay, the glimpses, and what each model read."""
    clutter, seed = int(clutter), int(seed)
    if not 0 <= clutter <= 40:
        raise gr.Error(say(request, "Clutter must be between 0 and 40 pieces.", "杂物必须在 0 到 40 块之间。"))
    canvas = rstn.sequence_from_labels(_parse(sequence, request), clutter, seed)
    out = rstn.read_sequence(canvas)
    steps = "\n".join(
        f"| {step + 1} | **{int(p.argmax())}** | {float(p.max()):.0%} |" for step, p in enumerate(out["probs"]))
    rnn_spn, cnn, single = (" ".join(str(int(p.argmax())) for p in out["probs"]), " ".join(map(str, out["cnn"])),
                            " ".join(map(str, out["single_stn"])))
    text = say(request,
               "| step | read | confidence |\n|---|---|---|\n" + steps +
               f"\n\n**RNN-SPN:** {rnn_spn} · **CNN:** {cnn} · **single STN:** {single}",
               "| 步 | 读出 | 置信度 |\n|---|---|---|\n" + steps +
               f"\n\n**RNN-SPN：** {rnn_spn} · **CNN：** {cnn} · **单个 STN：** {single}")
    return (_overlay(canvas[0, 0].numpy(), out["boxes_px"]), *[_glimpse(g) for g in out["glimpses"]], text)


def roll(seed):
    """A random sequence of digits and a new seed."""
    rng = random.Random(int(seed) + 1)
    return " ".join(str(rng.randrange(10)) for _ in range(rstn.SEQUENCE_LENGTH)), int(seed) + 1


def results_table(zh: bool = False) -> str:
    """% test error from results/rstn.json: the seeded comparison (each seed trains all three from
    scratch), the shipped models, and where the RNN-SPN's attention goes."""
    rows = []
    for name in rstn.MODELS:
        method = "ours" if name == "rnn_spn" else name
        ckpt = rstn.CHECKPOINTS[name]
        label = LABELS_ZH[rstn.LABELS[name]] if zh else rstn.LABELS[name]
        rows.append(f"| {label} | {ckpt.num_params:,} | "
                    + " | ".join(results.figure(SLUG, claim, method) for claim in
                                 ("digit_error", "sequence_error", "shipped_digit_error", "shipped_sequence_error"))
                    + f" | {rstn.PAPER_ERRORS[rstn.LABELS[name]]} |")
    steps, shipped = rstn.EXPERIMENT_STEPS, rstn.TRAIN_STEPS
    attention, start = (results.figure(SLUG, "attention_error_px", unit=" px"),
                        results.figure(SLUG, "attention_error_px", "slots", unit=" px"))
    if zh:
        return zh_figure(
            "**测试错误率（%）**，600 个测试序列（本实现：40×100 的画布，1,347 个训练数字，在 CPU 上训练几分钟，"
            "多个随机种子的均值 ± 标准差；论文：100×100 的 MNIST 序列）。重新生成：`python -m papers.reproduce rstn`。\n\n"
            f"| 模型 | 参数量 | 每个数字，每个随机种子 {steps} 步 | 整个序列，每个随机种子 {steps} 步 "
            f"| 每个数字，随附模型（{shipped} 步；3 次测试抽样） | 整个序列，随附模型 | 论文，每个数字 |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\n训练 {steps} 步（在 CPU 上跑得完多个随机种子的预算）时，两个基线才刚开始学，所以这两列夸大了差距；"
            f"随附的模型训练了 {shipped} 步，显示的是更充分训练下的排名（只有一个训练随机种子）。\n\n"
            f"随附的 RNN-SPN 的瞥视离数字中心 **{attention}**，而它的起点（三等分区域的中心，即不学习时会看的位置）"
            f"离中心 {start}。")
    return ("**% test error** on 600 test sequences (ours: 40×100 canvas, 1,347 training digits, minutes of "
            "CPU, mean ± sd over seeds; paper: 100×100 MNIST sequences). Regenerate: "
            "`python -m papers.reproduce rstn`.\n\n"
            f"| model | parameters | per digit, {steps} steps per seed | per sequence, "
            f"{steps} steps per seed | per digit, shipped ({shipped} steps; 3 test draws) "
            "| per sequence, shipped | paper, per digit |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\nAt {steps} steps (the budget that fits the seeded runs on a CPU) the two "
            "baselines have barely started to learn, so that column overstates the gap; the shipped models, "
            f"trained {shipped} steps, show the ranking at a fuller budget (one training seed).\n\n"
            f"The shipped RNN-SPN's glimpses sit **{attention}** from the digits' centres, against {start} "
            "for its starting point (the centres of the thirds, where it would look without learning).")


def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    with gr.Row():
        with gr.Column(scale=1):
            sequence = gr.Textbox(value=DEFAULTS["sequence"], label=t(SEQUENCE_LABEL))
            clutter = gr.Slider(0, 40, step=1, value=DEFAULTS["clutter"], label=t("Clutter (6×6 pieces of other digits)"))
            seed = gr.Number(value=DEFAULTS["seed"], precision=0, label=t("Handwriting / clutter seed"))
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
    inputs = [sequence, clutter, seed]
    gr.on([c.change for c in inputs], read, inputs, outputs, api_name=f"{SLUG}_read", trigger_mode="always_last")
    on_tab_open(read, outputs, inputs)  # the default sequence, read when the tab opens
    roll_button.click(roll, seed, [sequence, seed], api_name=f"{SLUG}_roll")


SEQUENCE_LABEL = f"{rstn.SEQUENCE_LENGTH} digits to write"
ADDS = "the trained RNN-SPN and its baselines"
ADDS_ZH = "训练好的 RNN-SPN 及其基线模型"


def bench_default():
    return read(DEFAULTS["sequence"], DEFAULTS["clutter"], DEFAULTS["seed"])


ZH = {
    INTRO: INTRO_ZH,
    SEQUENCE_LABEL: f"要写的 {rstn.SEQUENCE_LENGTH} 个数字",
    "Clutter (6×6 pieces of other digits)": "杂物（其他数字的 6×6 碎片）",
    "Handwriting / clutter seed": "笔迹 / 杂物的随机种子",
    "Random sequence": "随机序列",
    "Canvas with each step's attention (red → green → blue)": "画布与每一步的注意力（红 → 绿 → 蓝）",
    **{f"Glimpse {step + 1}": f"第 {step + 1} 次瞥视" for step in range(rstn.SEQUENCE_LENGTH)},
}
