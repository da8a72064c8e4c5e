"""Image Transformer tab: watch digits being written pixel by pixel, complete half-digits, see
what each pixel may attend to under 1D and 2D local self-attention, and ask a class-conditional
model for a chosen digit."""
from __future__ import annotations

import functools
import time

import gradio as gr
import numpy as np
import torch

import papers.image_transformer as it
from papers.checkpoints import GPU_MARGIN_S, budget, gpu
from demos.common import device_note
from demos.common import (device_note_zh, friendly_errors, header, heavy_id, on_tab_open, read_image, weights_note,
                          weights_note_zh)
from demos.common import cjk_markdown
from demos.i18n import localized, say, t, zh_figure
from papers.data import split_size
from papers.results import claim, comparison_table, figure
from demos.common import comparison_table_zh

SLUG = "image-transformer"
TITLE = "Image Transformer"
PAPER_URL = "https://arxiv.org/abs/1802.05751"
INTRO = f"""A Transformer that **writes an image one pixel at a time**, each intensity a choice among
17 grey levels, predicted from the pixels already written. To stay affordable, each pixel attends
only to a *local* memory: the previous rows (**1D local**, raster order), or a rectangle around
its block (**2D local**, written block by block). The models here were trained on this machine
on the 8×8 handwritten digits of scikit-learn (their own size and levels), so images are tiny
and drawn large. How well each model predicts held-out digits, in the paper's metric
(`python -m papers.reproduce image-transformer`; lower is better):

{comparison_table(SLUG, ["test_bits_per_dim_1d", "test_bits_per_dim_2d"])}

The spread is over resamples of the held-out digits (the models are the shipped ones); the
paper's figure is for CIFAR-10 (32×32 colour, 256 levels), so it only gives the scale.
The *Likelihood* tab shows, for one held-out digit, which pixels cost the most bits; the
*Class-conditional* tab asks a third model, told which digit to write, for a row of that digit."""

COMPARISON = "comparison_small"
_METHODS = {"ours": ("1D local", "1D 局部"), "local_2d": ("2D local", "2D 局部"),
            "full_attention": ("full attention", "全局注意力"), "pixelcnn": ("PixelCNN", "PixelCNN")}


def _ranking(zh: bool = False, claim_id: str = COMPARISON) -> str:
    """The four methods of the comparison, best (lowest bits/dim) first, from results/."""
    found = claim(SLUG, claim_id)
    if not found:
        return "not measured yet" if not zh else "尚未测量"
    stats = {"ours": found["ours"], **found["baselines"]}
    ranked = sorted(_METHODS, key=lambda key: stats[key]["mean"])
    text = _METHODS[ranked[0]][zh]
    for better, worse in zip(ranked, ranked[1:]):  # "≈" when the gap is within one sd over seeds
        gap = stats[worse]["mean"] - stats[better]["mean"]
        text += (" ≈ " if gap < max(stats[worse]["sd"], stats[better]["sd"]) else " < ") + _METHODS[worse][zh]
    return text


def _paper_note() -> str:
    found = claim(SLUG, COMPARISON)
    return ((found or {}).get("paper") or {}).get("note", "")


COMPARISON_TEXT = f"""**The paper's comparison, small.** Table 4 of the paper puts the Image Transformer beside
convolutional autoregressive models (PixelCNN and its successors) on CIFAR-10. Here the same four
kinds of model are trained from scratch on the same digits with the same budget and size (2 layers,
about 26 k parameters, {it.COMPARISON_EPOCHS} epochs, the epoch picked on digits held out of the training split),
once per seed: **1D local** attention (a row attends to itself and the row above), **2D local**
(a 2×4 block attends to one row above and two columns either side), **full** causal attention
(every earlier pixel) and a **PixelCNN** (masked 5×5 then 3×3 convolutions). With only two layers,
the local models cannot see the top rows when they write the bottom ones (full attention can), so
locality is a real restriction here, not a free lunch as with the shipped 4-layer models:

{comparison_table(SLUG, [COMPARISON, COMPARISON + "_long"])}

Measured order (lowest bits/dim first; ≈ where the gap is within one standard deviation over seeds): **{_ranking()}**; at twice the epochs:
**{_ranking(claim_id=COMPARISON + "_long")}**. The paper's figures beside ours
({_paper_note()}) rank the 1D local Image Transformer ahead of PixelCNN; at this tiny scale
that ranking is a question the table above answers, not an assumption."""

COMPARISON_TEXT_ZH = f"""**论文中的对比（小规模版）。** 论文表 4 把 Image Transformer 与卷积自回归模型（PixelCNN 及其后继）
在 CIFAR-10 上对比。这里用同样的数字、同样的预算和规模（2 层，约 26k 参数，{it.COMPARISON_EPOCHS} 个 epoch，
用训练集中留出的数字挑选 epoch），每个随机种子从头训练四种模型：**1D 局部**注意力（一行关注自己和上一行）、
**2D 局部**（2×4 的块关注上方一行、左右各两列）、**全局**因果注意力（所有更早的像素）和一个 **PixelCNN**
（先 5×5 再 3×3 的掩码卷积）。只有两层时，局部模型写下面几行时看不到最上面几行（全局注意力可以），
所以这里的局部性是真正的限制：

{comparison_table_zh(SLUG, [COMPARISON, COMPARISON + "_long"],
                     {COMPARISON: f"同样的数字、同样的预算（{it.COMPARISON_EPOCHS} 个 epoch）：1D 局部 vs 2D 局部 vs "
                                  f"全局注意力 vs PixelCNN，{split_size('test')} 个测试数字上的每像素比特数"
                                  "（越低越好；每个种子四个模型都从头训练）",
                      COMPARISON + "_long": f"同上，预算加倍（{2 * it.COMPARISON_EPOCHS} 个 epoch）"},
                     {"local_2d": "2D 局部注意力", "full_attention": "全局（因果）注意力",
                      "pixelcnn": "PixelCNN（掩码卷积）"})}

实测顺序（每像素比特数从低到高；差距在种子间一个标准差以内记为 ≈）：**{_ranking(zh=True)}**；预算加倍时：
**{_ranking(zh=True, claim_id=COMPARISON + "_long")}**。论文的数字（{_paper_note()}）中 1D 局部的
Image Transformer 排在 PixelCNN 之前；在这么小的规模上，这个顺序由上表回答，而不是预设。"""

CONDITIONAL_CLAIMS = ["test_bits_per_dim_conditional", "class_fidelity_conditional", "class_fidelity_each_digit",
                      "conditioning_bits_from_scratch", "class_fidelity_from_scratch"]
CONDITIONAL_TEXT = f"""**Class-conditional generation** (Sec. 5 of the paper, where a CIFAR-10 model is told the class
of the image to write). As in the authors' code, a learned vector for each class is added to the input of *every*
position, so each pixel is predicted knowing both the pixels before it and the digit asked for. The model here is
its own small checkpoint (1D local attention, 2 layers, d = 64, {it.CONDITIONAL_EPOCHS} epochs on the
training digits). To check that a sample *is* the digit asked for, a logistic regression trained on the real
training digits reads it, and the share read as the requested class is the *class fidelity*:

{comparison_table(SLUG, CONDITIONAL_CLAIMS)}

The first three rows are the shipped model (re-checkable: `python -m papers.reproduce --check image-transformer`);
the last two train a conditional model and an unconditional twin of the same size from scratch on each seed."""

CONDITIONAL_TEXT_ZH = f"""**按类别条件生成**（论文第 5 节：CIFAR-10 模型被告知要画的图像类别）。与作者代码一致，每个类别有一个可学习的向量，
加到*每一个*位置的输入上，所以每个像素的预测既知道它之前的像素，也知道要写哪个数字。这里用的是单独训练的小模型
（1D 局部注意力，2 层，d = 64，在训练集数字上训练 {it.CONDITIONAL_EPOCHS} 个 epoch）。为了检验样本*是否*真是要求的数字，
用一个在真实训练数字上训练的逻辑回归来读它，读成所要求类别的比例就是*类别保真度*：

{comparison_table_zh(SLUG, CONDITIONAL_CLAIMS,
                     {"test_bits_per_dim_conditional": f"发布的按类别条件模型（2 层，1D 局部），{split_size('test')} 个测试数字"
                                                       "（每个随机种子做一次自助重采样）：告诉它真实类别 vs 错误类别"
                                                       "（每像素比特数，越低越好）",
                      "class_fidelity_conditional": "发布的按类别条件模型的样本经分类器判读：读成所要求类别的比例"
                                                    f"（%，每类 {it.FIDELITY_PER_CLASS} 个样本，温度 1）",
                      "class_fidelity_each_digit": "同样这些样本，逐个数字统计；“本实现”一栏是最差的那个数字（%）",
                      "conditioning_bits_from_scratch": f"同样的规模、数据和预算（{it.CONDITIONAL_EPOCHS} 个 epoch，2 层，"
                                                        "d = 64，1D 局部），每个种子都从头训练两个模型：按类别条件"
                                                        f"（告诉真实类别）vs 无条件，{split_size('test')} 个测试数字上的"
                                                        "每像素比特数（越低越好）",
                      "class_fidelity_from_scratch": "同样这两个模型：样本的类别保真度（无条件模型的样本用同样的要求对照）"
                                                     f"（%，每类 {it.FIDELITY_PER_CLASS} 个样本）"},
                     {"wrong_class": "同一模型，告诉它错误类别", "per_pixel_marginals": "逐像素边缘分布（训练集）",
                      "unconditional_1d": "发布的无条件 1D 模型（4 层），忽略同样的要求",
                      "chance": "随机猜（十分之一）", "real_test_digits": "分类器在真实测试数字上（上限；自助重采样）",
                      "unconditional": "无条件的同规模模型（没有类别向量）",
                      **{f"digit_{d}": f"要求写 {d}" for d in range(it.N_CLASSES)}})}

前三行是发布的模型（可复核：`python -m papers.reproduce --check image-transformer`）；后两行在每个随机种子上
从头训练一个按类别条件的模型和一个同规模的无条件模型。"""

_BPD = "每像素比特数（每个像素的负 log2 似然，越低越好）"
_HELD_OUT = "449 个未参与训练的手写数字（每个随机种子做一次自助重采样）"
INTRO_ZH = f"""一个**逐像素书写图像**的 Transformer：每个像素的灰度是 17 个灰度级中的一个，由已经写好的像素预测。
为了控制计算量，每个像素只关注一块*局部*记忆：前面若干行（**1D 局部**，按光栅顺序），或者它所在块周围的一个矩形
（**2D 局部**，逐块书写）。这里的模型是在本机上用 scikit-learn 的 8×8 手写数字（保持其原有尺寸和灰度级）训练的，
所以图像很小，放大显示。各模型对未参与训练的数字预测得如何，用论文的指标衡量
（`python -m papers.reproduce image-transformer`；越低越好）：

{comparison_table_zh(SLUG, ["test_bits_per_dim_1d", "test_bits_per_dim_2d"],
                     {"test_bits_per_dim_1d": f"发布的 1D 局部注意力模型 vs 平凡基线，{_HELD_OUT}（{_BPD}）",
                      "test_bits_per_dim_2d": f"发布的 2D 局部注意力模型 vs 平凡基线，{_HELD_OUT}（{_BPD}）"},
                     {"uniform": "17 个灰度级上的均匀分布", "per_pixel_marginals": "逐像素边缘分布（训练集）"})}

波动来自对测试数字的重采样（模型都是发布的那一个）；论文的数字是 CIFAR-10（32×32 彩色，256 个灰度级）上的，
只能用来感受量级。*似然*页显示一个测试数字中哪些像素最费比特；*按类别条件生成*页让第三个模型按指定的数字类别写一行样本。"""

ATTENTION_CHOICES = [("1D local (raster order)", "1d"), ("2D local (2×4 blocks)", "2d")]
SCALE = 32  # screen pixels per image pixel
MAX_IMAGES = 8
GPU_IMAGES = (16, 8)  # with a GPU: at most, by default (one batch: the same pixel steps, more images)
PER_ROW = 8  # images per row of the picture
MAX_SECONDS = 60  # time budget of one streamed run
FRAME_SECONDS = 0.03  # pause between streamed frames, so a visitor can watch the writing
LEGEND = "Red box: the pixel being written; blue: not written yet."
COMPLETIONS_LEGEND = "**Completions** — " + LEGEND
SHAPE = it.CONFIGS["1d"]  # both models share image size, levels, layers and heads


def _cfg(attention: str) -> it.ImageTransformerConfig:
    if attention not in it.CONFIGS:
        raise gr.Error(f"Pick an attention type: one of {', '.join(it.CONFIGS)}.")
    return it.CONFIGS[attention]


def _model(attention: str) -> it.ImageTransformer:
    _cfg(attention)
    return it.load_model(attention)


def _tile(cfg, sequences: torch.Tensor, current: int | None = None) -> np.ndarray:
    """(B, N) sequences (-1 = unwritten) -> one picture: the images side by side, 8 px apart."""
    images = it.to_images(cfg, sequences.cpu())[..., 0].numpy()  # (B, H, W)
    outline = None
    if current is not None:
        order = it.generation_order(cfg)
        grid = int(order[current])
        outline = (grid // cfg.grid_width, grid % cfg.grid_width)
    tiles = [it.render(image, cfg.levels - 1, SCALE, outline=outline) for image in images]
    gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    if len(tiles) > PER_ROW:  # rows of PER_ROW, the last one padded with blank tiles
        tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % PER_ROW)
    rows = [np.concatenate([x for tile in tiles[k:k + PER_ROW] for x in (tile, gap)][:-1], axis=1)
            for k in range(0, len(tiles), PER_ROW)]
    between = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([x for row in rows for x in (row, between)][:-1], axis=0)


def _done(sequence, cfg, model_seconds: float, request=None, watched: bool = True) -> str:
    pixels = len(sequence) * cfg.n_positions
    rate = pixels / max(model_seconds, 1e-9)
    return say(request,
               f"Done: {len(sequence)} image(s). The model computed {pixels} pixel steps in "
               f"{model_seconds:.2f} s ({rate:.0f} pixels/s, keys and values cached)"
               + ("; the display is slowed down so you can watch." if watched else
                  ". Press the button to watch them being written pixel by pixel."),
               f"完成：{len(sequence)} 张图像。模型在 {model_seconds:.2f} 秒内算完 {pixels} 个像素步"
               f"（每秒 {rate:.0f} 个像素，键和值已缓存）"
               + ("；显示特意放慢了，方便观看。" if watched else "。按按钮可以看它逐个像素地书写。"))


def _stream(cfg, run, n_known: int = 0, pause: float = FRAME_SECONDS, request=None):
    """Drive `generate`; yield (picture, status) with the pixel being written outlined, and at
    the end the model's own speed (time inside the model, not the pauses for watching)."""
    start = time.perf_counter()
    model_seconds = 0.0
    while True:
        tick = time.perf_counter()
        step = next(run, None)
        model_seconds += time.perf_counter() - tick
        if step is None:
            break
        t, sequence, _ = step
        if time.perf_counter() - start > MAX_SECONDS:
            yield _tile(cfg, sequence), say(request, f"Stopped after {MAX_SECONDS} s (time budget).",
                                            f"{MAX_SECONDS} 秒后停止（时间预算）。")
            return
        if t >= n_known:
            yield _tile(cfg, sequence, current=t), say(request, f"Writing pixel {t + 1} of {cfg.n_positions}…",
                                                       f"正在书写第 {t + 1} / {cfg.n_positions} 个像素…")
            time.sleep(pause)
    yield _tile(cfg, sequence), _done(sequence, cfg, model_seconds, request)


def _finish(cfg, run, request=None):
    """Drive `generate` to its end without drawing the frames: (picture, status)."""
    start = time.perf_counter()
    for _, sequence, _ in run:
        pass
    return _tile(cfg, sequence), _done(sequence, cfg, time.perf_counter() - start, request, watched=False)


@gpu(duration=MAX_SECONDS + GPU_MARGIN_S)
@friendly_errors
def sample(attention: str, temperature: float, n_images: int, seed: float, pause: float = FRAME_SECONDS,
           request: gr.Request = None):
    """Sample new digits, streamed as the pixels are written (`pause` s between frames)."""
    n_images = int(np.clip(n_images or 1, 1, budget(cpu=MAX_IMAGES, gpu=GPU_IMAGES[0])))
    model = _model(attention)
    run = it.generate(model, n_images, float(temperature), int(seed or 0))
    yield from _stream(model.cfg, run, pause=pause, request=request)


@gpu(duration=MAX_SECONDS + GPU_MARGIN_S)
@friendly_errors
def sample_at_once(attention: str, temperature: float, n_images: int, seed: float, request: gr.Request = None):
    """What the tab opens on: the same samples as `sample`, shown finished (no frame by frame)."""
    n_images = int(np.clip(n_images or 1, 1, budget(cpu=MAX_IMAGES, gpu=GPU_IMAGES[0])))
    model = _model(attention)
    return _finish(model.cfg, it.generate(model, n_images, float(temperature), int(seed or 0)), request)


@functools.cache
def _test_digits() -> torch.Tensor:
    return it.digit_levels("test")  # (N, 8, 8, 1)


def _held_out(example: float) -> torch.Tensor:
    test = _test_digits()
    return test[int(np.clip(example or 0, 0, len(test) - 1))]  # (8, 8, 1)


def _partial_image(source: str, example: float, drawing) -> np.ndarray:
    """The digit to complete, (8, 8) levels: a held-out test digit, or the visitor's drawing."""
    if source == "drawing":
        return it.picture_to_levels(read_image(drawing).rgb)
    return _held_out(example)[..., 0].numpy()


@gpu(duration=MAX_SECONDS + GPU_MARGIN_S)
@friendly_errors
def complete(attention: str, source: str, example: float, drawing, n_known: float, temperature: float,
             seed: float = 0, request: gr.Request = None, watch: bool = True):
    """Keep the first pixels (in the model's writing order) of a digit; complete it 4 times
    (streamed frame by frame, or with watch=False only the finished completions)."""
    model = _model(attention)
    cfg = model.cfg
    digit = torch.from_numpy(_partial_image(source, example, drawing))  # (8, 8)
    n_known = int(np.clip(n_known or 0, 0, cfg.n_positions - 1))
    known = it.to_sequence(cfg, digit[None, ..., None]).repeat(4, 1)  # (4, N)
    shown = known[:1].clone()
    shown[:, n_known:] = -1
    given = _tile(cfg, shown)
    run = it.generate(model, 4, float(temperature), int(seed or 0), known=known, n_known=n_known)
    if not watch:
        yield given, *_finish(cfg, run, request)
        return
    for picture, status in _stream(cfg, run, n_known, request=request):
        yield given, picture, status


@gpu(duration=MAX_SECONDS + GPU_MARGIN_S)
@friendly_errors
def complete_at_once(attention: str, source: str, example: float, drawing, n_known: float, temperature: float,
                     seed: float = 0, request: gr.Request = None):
    """What the Complete tab opens on: the finished completions of `complete`."""
    return list(complete(attention, source, example, drawing, n_known, temperature, seed, request, watch=False))[-1]


CLASS_IMAGES = PER_ROW  # one row of samples of the class asked for


def _digit(digit, request=None) -> int:
    """The class a visitor asked for, 0-9 (a radio value, or a number or string through the API)."""
    try:
        value = float(digit)
    except (TypeError, ValueError):
        value = float("nan")
    if not (0 <= value <= it.N_CLASSES - 1 and value == int(value)):
        raise gr.Error(say(request, "Pick a digit class from 0 to 9.", "请选择 0 到 9 之间的一个数字类别。"))
    return int(value)


@gpu(duration=20)
@friendly_errors
def sample_class(digit, n_images: float, temperature: float, seed: float, request: gr.Request = None):
    """A row of samples of the digit class asked for, from the class-conditional model; the
    classifier's reading of them, and the measured class fidelity and bits/dim beside."""
    digit = _digit(digit, request)
    n_images = int(np.clip(n_images or 1, 1, CLASS_IMAGES))
    temperature = float(np.clip(temperature or 1.0, 0.1, 2.0))
    model = it.load_model(it.CONDITIONAL)
    labels = torch.full((n_images,), digit, dtype=torch.long)
    images = it.sample_images(model, labels, temperature, int(seed or 0))  # (B, 8, 8, 1), seeded per request
    read = it.classify(images)
    hits = int((read == digit).sum())
    picture = _tile(model.cfg, it.to_sequence(model.cfg, images))
    fidelity = figure(SLUG, "class_fidelity_conditional", unit=" %")
    this_digit = figure(SLUG, "class_fidelity_each_digit", f"digit_{digit}", unit=" %")
    unconditional = figure(SLUG, "class_fidelity_conditional", "unconditional_1d", unit=" %")
    ceiling = figure(SLUG, "class_fidelity_conditional", "real_test_digits", unit=" %")
    chance = figure(SLUG, "class_fidelity_conditional", "chance", unit=" %", spread=False)
    bits = figure(SLUG, "test_bits_per_dim_conditional", unit=" bits/dim")
    wrong = figure(SLUG, "test_bits_per_dim_conditional", "wrong_class", unit=" bits/dim")
    readings = ", ".join(str(int(r)) for r in read)
    status = say(request,
                 f"The classifier reads **{hits} of {n_images}** of these samples as a {digit} (it reads: {readings}). "
                 f"Measured: asked for a {digit}, {this_digit} of this model's samples are read as a {digit}; "
                 f"over all digits, {fidelity} are read as the class asked for; the unconditional "
                 f"1D model's samples match the same requests in {unconditional}; chance is {chance}; on real "
                 f"held-out digits the classifier is right in {ceiling}. Told the true class, the model needs "
                 f"{bits} on held-out digits; told a wrong class, {wrong}.",
                 f"分类器把这些样本中的 **{hits} / {n_images}** 个读成 {digit}（它读出的是：{readings}）。"
                 f"实测：要求写 {digit} 时，这个模型的样本有 {zh_figure(this_digit)} 被读成 {digit}；"
                 f"所有数字合计有 {zh_figure(fidelity)} 被读成所要求的类别；无条件 1D 模型的样本与同样的要求"
                 f"相符的比例是 {zh_figure(unconditional)}；随机猜是 {chance}；分类器在真实测试数字上的正确率是 "
                 f"{zh_figure(ceiling)}。告诉模型真实类别时，它在测试数字上需要 {zh_figure(bits)}；告诉它错误类别时需要 "
                 f"{zh_figure(wrong)}。")
    return picture, status


def _field_picture(cfg, row: int, col: int) -> np.ndarray:
    allowed, step = it.receptive_field(cfg, row, col)
    blank = np.full((cfg.height, cfg.grid_width), 0)
    return it.render(blank, cfg.levels - 1, SCALE, outline=(row, col), tint=allowed * 0.85, labels=step)


@gpu(duration=20)
@friendly_errors
def receptive_fields(row: float, col: float, attention: str, example: float, layer: float, head: float,
                     request: gr.Request = None):
    """What the pixel at (row, col) may attend to under 1D and 2D local attention, and the
    weights one head of the chosen model gives them while reading a held-out digit."""
    model = _model(attention)
    cfg = model.cfg
    row = int(np.clip(row or 0, 0, cfg.height - 1))
    col = int(np.clip(col or 0, 0, cfg.grid_width - 1))
    layer = int(np.clip(layer or 1, 1, cfg.n_layers)) - 1
    head = int(np.clip(head or 1, 1, cfg.n_heads)) - 1
    digit = _held_out(example)
    weights = it.attention_map(model, digit, row, col, layer, head)
    heat = it.render(digit[..., 0].numpy(), cfg.levels - 1, SCALE, outline=(row, col),
                     tint=weights / max(weights.max(), 1e-9))
    allowed, _ = it.receptive_field(cfg, row, col)
    kind = dict((v, k) for k, v in ATTENTION_CHOICES)[attention]
    note = say(request,
               f"Pixel (row {row}, column {col}) may look at {int(allowed.sum())} positions in each "
               f"layer under {kind}; the strongest weight of "
               f"head {head + 1} in layer {layer + 1} is {weights.max():.2f}. Stacking layers widens "
               "what it sees indirectly.",
               f"在{ZH[kind]}下，像素（第 {row} 行，第 {col} 列）每一层可以看 {int(allowed.sum())} 个位置；"
               f"第 {layer + 1} 层第 {head + 1} 个头的最大权重是 {weights.max():.2f}。层层堆叠后，"
               "它间接看到的范围会更大。")
    return (_field_picture(it.CONFIGS["1d"], row, col), _field_picture(it.CONFIGS["2d"], row, col),
            heat, note)


@gpu(duration=20)
@friendly_errors
def likelihood(attention: str, example: float, request: gr.Request = None):
    """The chosen model's -log2 p of every pixel of a held-out digit, given the pixels before it
    (the paper's metric, pixel by pixel): the digit, the heat map, and a note."""
    model = _model(attention)
    cfg = model.cfg
    digit = _held_out(example)
    bits = it.pixel_bits(model, digit)  # (8, 8), sums to the digit's NLL in bits
    levels = digit[..., 0].numpy()
    labels = np.array([[f"{b:.1f}" for b in row] for row in bits], dtype=object)
    heat = it.render(np.zeros_like(levels), cfg.levels - 1, SCALE, tint=bits / max(bits.max(), 1e-9),
                     labels=labels)  # black to orange: the heat alone, the digit is beside it
    r, c = np.unravel_index(int(bits.argmax()), bits.shape)
    overall = figure(SLUG, f"test_bits_per_dim_{attention}", unit=" bits/dim")
    note = say(request,
               f"This digit costs the model {bits.sum():.1f} bits in all, {bits.mean():.3f} per pixel; "
               f"the most expensive pixel is row {r}, column {c} ({bits[r, c]:.1f} bits). "
               f"Over all held-out digits this model's average is {overall}.",
               f"这个数字一共花费模型 {bits.sum():.1f} 比特，平均每像素 {bits.mean():.3f} 比特；"
               f"最贵的像素在第 {r} 行第 {c} 列（{bits[r, c]:.1f} 比特）。"
               f"在全部测试数字上，这个模型的平均值是 {zh_figure(overall)}。")
    return it.render(levels, cfg.levels - 1, SCALE), heat, note


LIKELIHOOD_HELP = ("Each number is −log₂ p(pixel | the pixels written before it) under the chosen model, in "
                   "bits (brighter orange: more expensive); their mean is the digit's bits per dimension, the "
                   "paper's metric, and their sum its negative log-likelihood in bits.")


FIELD_HELP = ("Pick a pixel (sliders, or click on a picture). Orange: the positions one layer "
              "may attend to; red box: the pixel; numbers: the order in which pixels are "
              "written. Right: one head's attention weights (full orange = its largest "
              "weight) while the chosen model reads the held-out digit picked in *Complete*.")


def _next_seed(seed: float) -> int:
    return int(seed or 0) + 1


def _clicked_pixel(evt: gr.SelectData):
    x, y = evt.index[:2]
    return y // SCALE, x // SCALE


def _titled_picture(title: str) -> gr.Image:
    with gr.Column():
        gr.Markdown(t(title))
        return gr.Image(label=t(title.replace("*", "")), show_label=False, type="numpy", interactive=False)


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, cjk_markdown(INTRO_ZH)))
    with gr.Row():
        attention = gr.Radio([(t(label), value) for label, value in ATTENTION_CHOICES], value="1d", scale=3,
                             label=t("Attention (each is its own trained model)"))
        seed = gr.Number(0, precision=0, label=t("Seed (advances after each run)"), scale=1)
    with gr.Tab(t("Sample")):
        with gr.Row():
            temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label=t("Temperature"),
                                    info=t("below 1: safer, bolder strokes; above 1: wilder"))
            n_images = gr.Slider(1, budget(cpu=MAX_IMAGES, gpu=GPU_IMAGES[0]), value=budget(cpu=4, gpu=GPU_IMAGES[1]),
                                 step=1, label=t("Images"),
                                 info=localized(device_note(f"up to {GPU_IMAGES[0]} images per batch"),
                                                device_note_zh(f"每批最多 {GPU_IMAGES[0]} 张图像")))
        with gr.Row():
            sample_button = gr.Button(t("Sample"), variant="primary")
            sample_stop = gr.Button(t("Stop"))
        gr.Markdown(t(LEGEND))
        samples = gr.Image(label=t("Samples"), show_label=False, type="numpy", interactive=False)
        sample_status = gr.Markdown()
    with gr.Tab(t("Complete")) as complete_tab:
        with gr.Row():
            with gr.Column():
                source = gr.Radio([(t("A held-out digit"), "example"), (t("My drawing"), "drawing")],
                                  value="example", label=t("Digit to complete"))
                example = gr.Slider(0, split_size("test") - 1, value=0, step=1,
                                    label=t("Held-out digit number (never seen in training)"))
                drawing = gr.Sketchpad(label=t("Or draw a digit: pick the brush on the left"), canvas_size=(280, 280),
                                       height=300)
            with gr.Column():
                n_known = gr.Slider(0, SHAPE.n_positions - 1, value=SHAPE.n_positions // 2, step=1,
                                    label=t("Pixels kept"),
                                    info=t("the first pixels in the model's writing order; 32 = top half"))
                complete_temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label=t("Temperature"))
                with gr.Row():
                    complete_button = gr.Button(t("Complete 4 times"), variant="primary")
                    complete_stop = gr.Button(t("Stop"))
                given = gr.Image(label=t("What the model is given"), type="numpy", interactive=False,
                                 height=200)
        gr.Markdown(t(COMPLETIONS_LEGEND))
        completions = gr.Image(label=t("Completions"), show_label=False, type="numpy", interactive=False)
        complete_status = gr.Markdown()
    with gr.Tab(t("Receptive field")) as field_tab:
        gr.Markdown(t(FIELD_HELP))
        with gr.Row():
            row = gr.Slider(0, SHAPE.height - 1, value=5, step=1, label=t("Row"))
            col = gr.Slider(0, SHAPE.width - 1, value=3, step=1, label=t("Column"))
            layer = gr.Slider(1, SHAPE.n_layers, value=1, step=1, label=t("Layer"))
            head = gr.Slider(1, SHAPE.n_heads, value=1, step=1, label=t("Head"))
        with gr.Row():
            field_1d, field_2d, heat = (
                _titled_picture(title) for title in ("**1D local**: may attend to",
                                                     "**2D local**: may attend to",
                                                     "**Attention weights** of one head"))
        field_note = gr.Markdown()
    with gr.Tab(t("Likelihood (bits/dim)")) as likelihood_tab:
        gr.Markdown(t(LIKELIHOOD_HELP))
        nll_example = gr.Slider(0, split_size("test") - 1, value=0, step=1,
                                label=t("Held-out digit number (never seen in training)"))
        with gr.Row():
            nll_digit, nll_heat = (_titled_picture(title) for title in ("**Held-out digit**",
                                                                         "**Bits per pixel**"))
        nll_note = gr.Markdown()
        gr.Markdown(localized(COMPARISON_TEXT, cjk_markdown(COMPARISON_TEXT_ZH)))
    with gr.Tab(t("Class-conditional")) as class_tab:
        gr.Markdown(localized(CONDITIONAL_TEXT, cjk_markdown(CONDITIONAL_TEXT_ZH)))
        with gr.Row():
            digit = gr.Radio([(str(d), d) for d in range(it.N_CLASSES)], value=3, scale=3,
                             label=t("Digit class to write"))
            class_images = gr.Slider(1, CLASS_IMAGES, value=CLASS_IMAGES, step=1, label=t("Samples in the row"))
            class_temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label=t("Temperature"))
        class_button = gr.Button(t("Write a row of this digit"), variant="primary")
        class_samples = gr.Image(label=t("Samples"), show_label=False, type="numpy", interactive=False)
        class_status = gr.Markdown()
    gr.Markdown(localized(
        weights_note(it.CHECKPOINTS["1d"], adds="the 1D local model") + "\n\n"
        + weights_note(it.CHECKPOINTS["2d"], adds="the 2D local model") + "\n\n"
        + weights_note(it.CHECKPOINTS[it.CONDITIONAL], adds="the class-conditional model"),
        weights_note_zh(it.CHECKPOINTS["1d"], adds="1D 局部注意力模型") + "\n\n"
        + weights_note_zh(it.CHECKPOINTS["2d"], adds="2D 局部注意力模型") + "\n\n"
        + weights_note_zh(it.CHECKPOINTS[it.CONDITIONAL], adds="按类别条件的模型")))
    # Opening the tab shows finished samples at the defaults; opening Complete, finished completions.
    on_tab_open(sample_at_once, [samples, sample_status], [attention, temperature, n_images, seed])
    complete_tab.select(complete_at_once, [attention, source, example, drawing, n_known, complete_temperature, seed],
                        [given, completions, complete_status], api_visibility="private", show_progress="hidden")

    sample_event = sample_button.click(
        sample, [attention, temperature, n_images, seed], [samples, sample_status],
        api_name=f"{SLUG}_sample", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    sample_event.then(_next_seed, seed, seed, api_visibility="private")
    sample_stop.click(None, None, None, cancels=[sample_event], api_visibility="private")
    complete_event = complete_button.click(
        complete, [attention, source, example, drawing, n_known, complete_temperature, seed],
        [given, completions, complete_status], api_name=f"{SLUG}_complete",
        concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    complete_event.then(_next_seed, seed, seed, api_visibility="private")
    complete_stop.click(None, None, None, cancels=[complete_event], api_visibility="private")
    drawing.change(lambda: "drawing", None, source, api_visibility="private", queue=False)

    class_inputs = [digit, class_images, class_temperature, seed]
    class_tab.select(sample_class, class_inputs, [class_samples, class_status], api_visibility="private",
                     show_progress="hidden")
    class_event = gr.on([class_button.click, digit.change], sample_class, class_inputs, [class_samples, class_status],
                        api_name=f"{SLUG}_sample_class", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    class_event.then(_next_seed, seed, seed, api_visibility="private")

    gr.on([likelihood_tab.select, nll_example.release, attention.change], likelihood, [attention, nll_example],
          [nll_digit, nll_heat, nll_note], api_name=f"{SLUG}_likelihood")

    field_inputs = [row, col, attention, example, layer, head]
    field_outputs = [field_1d, field_2d, heat, field_note]
    gr.on([field_tab.select, row.release, col.release, layer.release, head.release, attention.change],
          receptive_fields, field_inputs, field_outputs, api_name=f"{SLUG}_receptive_field")
    for picture in (field_1d, field_2d, heat):
        picture.select(_clicked_pixel, None, [row, col], api_visibility="private").then(
            receptive_fields, field_inputs, field_outputs, api_visibility="private")


def bench_default():
    """The main action at its defaults: sample 4 digits (1D local), every frame rendered, no pauses."""
    for _ in sample("1d", 1.0, 4, 0, pause=0.0):
        pass


ZH = {
    "1D local (raster order)": "1D 局部（光栅顺序）",
    "2D local (2×4 blocks)": "2D 局部（2×4 块）",
    "Attention (each is its own trained model)": "注意力方式（各自是单独训练的模型）",
    "Seed (advances after each run)": "随机种子（每次运行后加一）",
    "Sample": "采样",
    "Temperature": "温度",
    "below 1: safer, bolder strokes; above 1: wilder": "低于 1：更稳妥、笔画更粗；高于 1：更狂野",
    "Images": "图像数",
    "Stop": "停止",
    LEGEND: "红框：正在书写的像素；蓝色：尚未书写。",
    "Samples": "采样结果",
    "Complete": "补全",
    "A held-out digit": "一个测试集数字",
    "My drawing": "我画的",
    "Digit to complete": "要补全的数字",
    "Held-out digit number (never seen in training)": "测试集数字编号（训练时从未见过）",
    "Or draw a digit: pick the brush on the left": "或者画一个数字：在左侧选画笔",
    "Pixels kept": "保留的像素数",
    "the first pixels in the model's writing order; 32 = top half": "按模型书写顺序的前若干个像素；32 = 上半部分",
    "Complete 4 times": "补全 4 次",
    "What the model is given": "模型拿到的部分",
    COMPLETIONS_LEGEND: "**补全结果**——红框：正在书写的像素；蓝色：尚未书写。",
    "Completions": "补全结果",
    "Receptive field": "感受野",
    FIELD_HELP: "选一个像素（用滑块，或直接点图）。橙色：一层注意力可以关注的位置；红框：该像素；数字：像素的书写顺序。"
                "右图：所选模型读取在*补全*页选中的测试数字时，某一个头的注意力权重（最深的橙色 = 它的最大权重）。",
    "Row": "行",
    "Column": "列",
    "Layer": "层",
    "Head": "头",
    "**1D local**: may attend to": "**1D 局部**：可关注的位置",
    "**2D local**: may attend to": "**2D 局部**：可关注的位置",
    "**Attention weights** of one head": "一个头的**注意力权重**",
    "1D local: may attend to": "1D 局部：可关注的位置",
    "2D local: may attend to": "2D 局部：可关注的位置",
    "Attention weights of one head": "一个头的注意力权重",
    "Likelihood (bits/dim)": "似然（每像素比特数）",
    LIKELIHOOD_HELP: "每个数字是所选模型下的 −log₂ p(该像素 | 它之前写好的像素)，单位是比特（橙色越亮越贵）；"
                     "它们的平均值就是这个数字的每像素比特数（论文的指标），总和是它的负对数似然（比特）。",
    "**Held-out digit**": "**测试集数字**",
    "**Bits per pixel**": "**每个像素的比特数**",
    "Held-out digit": "测试集数字",
    "Bits per pixel": "每个像素的比特数",
    "Class-conditional": "按类别条件生成",
    "Digit class to write": "要写的数字类别",
    "Write a row of this digit": "写一行这个数字",
    "Samples in the row": "这一行的样本数",
}
