"""Geirhos et al. 2019: texture vs shape bias, reproduced small by training two CNNs on the fly.

The tab opens on the results of a training run at the CPU defaults made once ahead of time
(demos/assets/texture_bias_default.json: curves, scores and the gallery's answers, no weights;
remade by `python -m demos.texture_bias`): training takes tens of seconds, too long to run
whenever the tab is opened. *Compose and classify* needs the models, so it waits for **Train both**.

The accordion "The paper's measurement" runs papers.cue_conflict: the ImageNet AlexNet and VGG-16 on
the authors' cue-conflict images, read from $GALLERY_CUE_CONFLICT_DIR (not shipped)."""
from __future__ import annotations

import numpy as np
import gradio as gr
import json

import pandas as pd

from demos.common import (ASSETS, bounded_seconds, comparison_table_zh, device_note_zh, example_paths,
                          friendly_errors, header, heavy_id, on_tab_open, read_image, scrub_paths, weights_note,
                          weights_note_zh)
from demos.common import cjk_markdown
from demos.i18n import localized, say, t, zh_figure
from papers import style_transfer as st
from papers.results import comparison_table, figure, paper_figure, value
from papers import texture_bias as tb
from papers import cue_conflict as cc
from papers.checkpoints import WeightsUnavailable, budget, gpu
from demos.common import device_note

SLUG = "texture-bias"
TITLE = "Texture vs shape bias"
PAPER_URL = "https://arxiv.org/abs/1811.12231"
INTRO = f"""Show an ImageNet CNN a **cue-conflict** image — a cat's *shape* with an elephant's
*skin* — and it mostly answers "elephant": it decides by **texture**, people by **shape**.
Training on *Stylized-ImageNet*, where every image's texture is randomised, raises a ResNet-50's
**shape bias** from {paper_figure(SLUG, "natural_shape_bias", " %", digits=0)} to
{paper_figure(SLUG, "shape_bias", " %", digits=0)} (the paper's Fig. 5). Shape bias = shape
decisions ÷ (shape + texture decisions) on cue-conflict images.

Here, at small scale: **Train both** trains two identical small CNNs for seconds on generated
silhouettes (6 shapes) filled with textures — **natural** data, where each shape mostly comes
with *its own* texture (circle–brick, square–grass, …), and **stylized** data, where the texture
is random — then asks both about cue-conflict silhouettes (shape of one class, texture of
another). Measured at the defaults (`python -m papers.reproduce texture-bias`):

{comparison_table(SLUG, ["shape_bias", "own_data_accuracy"])}

The paper's direction, at toy scale. In the stylized data texture carries no information about
the class, so that model's shape bias is there by construction. The finding is the **control**
below: retrain the natural model with the class's own texture in 1/6 of the images (texture
says nothing about the class) … 100 %, and its shape bias goes from
**{figure(SLUG, "shape_bias_vs_texture_match", "match_17", " %")}** to
**{figure(SLUG, "shape_bias_vs_texture_match", "match_100", " %")}**: the texture bias comes from
the texture–label correlation in the data."""

INTRO_ZH = f"""给 ImageNet 上训练的 CNN 看一张**线索冲突**图像——猫的*形状*、大象的*皮肤*——它多半会回答“大象”：
它靠**纹理**做判断，而人靠**形状**。在 *Stylized-ImageNet*（每张图像的纹理都被随机替换）上训练，
能把 ResNet-50 的**形状偏好**从 {zh_figure(paper_figure(SLUG, "natural_shape_bias", " %", digits=0))} 提高到
{zh_figure(paper_figure(SLUG, "shape_bias", " %", digits=0))}（论文图 5）。形状偏好 = 线索冲突图像上
按形状判断的次数 ÷（按形状 + 按纹理判断的次数）。

这里是小规模的版本：**同时训练两个**会用几秒钟，在生成的剪影（6 种形状）填上纹理后的图像上训练两个完全相同的小 CNN——
**自然**数据中每种形状大多带着*自己的*纹理（圆形–砖墙、正方形–草地……），**风格化**数据中纹理是随机的——
然后用线索冲突的剪影（一类的形状、另一类的纹理）来考它们。默认设置下的测量结果
（`python -m papers.reproduce texture-bias`）：

{comparison_table_zh(SLUG, ["shape_bias", "own_data_accuracy"], {
    "shape_bias": "用风格化数据（随机纹理）训练，会让线索冲突图像上的形状偏好高于用自然数据训练的 CNN（每个模型 120 步，每步 32 张）"
                  "（% 按形状判断 ÷（按形状 + 按纹理判断），240 张线索冲突剪影）",
    "own_data_accuracy": "每个 CNN 在与自己训练数据同类的测试数据上的准确率（每个模型 120 步，每步 32 张）"
                         "（% 正确，每种数据 300 张测试图像）"},
    {"natural": "自然数据训练的 CNN", "ours": "风格化数据训练的 CNN"})}

方向与论文一致，只是规模很小。在风格化数据中纹理不携带任何类别信息，所以那个模型的形状偏好是由构造决定的。
真正的发现是下面的**对照实验**：重新训练自然数据模型，让类别自己的纹理出现在 1/6 的图像中（纹理不携带类别信息）……直到 100 %，
它的形状偏好从 **{zh_figure(figure(SLUG, "shape_bias_vs_texture_match", "match_17", " %"))}** 变为
**{zh_figure(figure(SLUG, "shape_bias_vs_texture_match", "match_100", " %"))}**：纹理偏好来自数据中纹理与类别的相关性。"""

NATURAL, STYLIZED = "natural-trained CNN", "stylized-trained CNN"
MODEL_NAMES = {"natural": NATURAL, "stylized": STYLIZED}
MODEL_NAMES_ZH = {"natural": "自然数据训练的 CNN", "stylized": "风格化数据训练的 CNN"}
SHAPES_ZH = dict(zip(tb.SHAPES, ("圆形", "正方形", "三角形", "星形", "十字", "心形")))
TEXTURES_ZH = dict(zip(tb.TEXTURES, ("砖墙", "草地", "砾石", "条纹", "棋盘格", "圆点")))
PAPER_NAMES_ZH = {"ResNet-50, ImageNet (paper)": "ResNet-50，ImageNet（论文）",
                  "ResNet-50, Stylized-ImageNet (paper)": "ResNet-50，Stylized-ImageNet（论文）",
                  "humans (paper)": "人类（论文）"}
OPENING = ASSETS / "texture_bias_default.json"  # the run the tab opens on (python -m demos.texture_bias)
STEPS = (20, 2000, tb.TrainConfig.steps)
GPU_STEPS = 1000  # default steps per model with a GPU: same time budget, ~8x the training
BUDGET_S = (5, 120, tb.TrainConfig.time_budget_s)  # capped for a shared 2-core CPU
GALLERY_SIZE = 8
DISPLAY_SCALE = 4  # 32 px images are shown at 128 px
STIMULUS_SIDE = 128  # style-transferred stimuli are made at this size, then reduced to 32 px


def default_steps() -> int:
    """Training steps per model the tab starts with: more on a GPU."""
    return budget(cpu=STEPS[2], gpu=GPU_STEPS)


# --------------------------------------------------------------------------- frames
def _model_name(regime: str, request=None) -> str:
    return say(request, MODEL_NAMES[regime], MODEL_NAMES_ZH[regime])


def _shape(name: str, request=None) -> str:
    return say(request, name, SHAPES_ZH.get(name, name))


def _texture(name: str, request=None) -> str:
    return say(request, name, TEXTURES_ZH.get(name, name))


def _curves(history: list[tb.TrainProgress], request=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(loss, held-out accuracy, shape bias) against step, one line per model."""
    def frame(column: str, value) -> pd.DataFrame:
        rows = [{"step": p.step, column: value(p, r), "model": _model_name(r, request)}
                for p in history for r in tb.REGIMES]
        return pd.DataFrame(rows, columns=["step", column, "model"])

    return (frame("loss", lambda p, r: p.loss[r]), frame("accuracy", lambda p, r: p.accuracy[r]),
            frame("shape bias", lambda p, r: p.decisions[r].shape_bias))


def _per_class_frame(per_class: dict[str, dict[str, float]], request=None) -> pd.DataFrame:
    """The paper's Fig. 4/5 style: shape bias per class for our models; the paper reports means
    over its 16 classes only, so those stand in one column of their own, beside our means."""
    mean = say(request, "mean of all classes", "所有类别的平均")
    rows = [{"class": _shape(c, request), "shape bias": v, "model": _model_name(r, request)}
            for r, values in per_class.items() for c, v in values.items() if not np.isnan(v)]
    rows += [{"class": mean, "shape bias": float(np.nanmean(list(values.values()))), "model": _model_name(r, request)}
             for r, values in per_class.items()]
    rows += [{"class": mean, "shape bias": v, "model": say(request, name, PAPER_NAMES_ZH[name])}
             for name, v in tb.PAPER_SHAPE_BIAS.items()]
    return pd.DataFrame(rows, columns=["class", "shape bias", "model"])


def correlation_frame(request=None) -> pd.DataFrame:
    """The control from results/: the natural model's shape bias (mean over seeds) against how
    often a class wears its own texture."""
    rows = []
    for match in tb.TEXTURE_MATCHES:
        key = "ours" if match == tb.TrainConfig.texture_match else tb.match_key(match)
        bias = value(SLUG, "shape_bias_vs_texture_match", key)
        if bias is not None:
            rows.append({"class texture (% of images)": 100 * match, "shape bias (%)": bias,
                         "model": _model_name("natural", request)})
    return pd.DataFrame(rows, columns=["class texture (% of images)", "shape bias (%)", "model"])


def _display(image: np.ndarray) -> np.ndarray:
    """(S, S) float in [0, 1] -> enlarged uint8 for the page."""
    big = np.kron(image, np.ones((DISPLAY_SCALE, DISPLAY_SCALE), dtype=np.float32))
    return (np.clip(big, 0, 1) * 255 + 0.5).astype(np.uint8)


def _cue(prediction: int, shape: int, texture: int, request=None) -> str:
    """Which cue a decision followed, for a caption."""
    name = _shape(tb.SHAPES[prediction], request)
    if prediction == shape:
        return say(request, "shape ✓", "形状 ✓")
    return say(request, f"{name} (texture)", f"{name}（纹理）") if prediction == texture else name


def _gallery_answers(models: dict, seed: int) -> dict[str, list[int]]:
    """Each model's answer (class index) for the gallery's cue-conflict images."""
    images, shapes, _ = tb.cue_conflict_set(1, seed=seed)
    pick = np.random.default_rng(seed).choice(len(shapes), GALLERY_SIZE, replace=False)
    return {r: [int(a) for a in tb.predict(m, images[pick])] for r, m in models.items()}


def _gallery(models: dict, seed: int, request=None) -> list[tuple[np.ndarray, str]]:
    return _gallery_items(_gallery_answers(models, seed), seed, request)


def _gallery_items(answers: dict[str, list[int]], seed: int, request=None) -> list[tuple[np.ndarray, str]]:
    images, shapes, textures = tb.cue_conflict_set(1, seed=seed)
    pick = np.random.default_rng(seed).choice(len(shapes), GALLERY_SIZE, replace=False)
    items = []
    for i, index in enumerate(pick):
        s, t = int(shapes[index]), int(textures[index])
        natural, stylized = (_cue(int(answers[r][i]), s, t, request) for r in tb.REGIMES)
        caption = say(request, f"{tb.SHAPES[s]} + {tb.TEXTURES[t]}: natural → {natural}, stylized → {stylized}",
                      f"{SHAPES_ZH[tb.SHAPES[s]]} + {TEXTURES_ZH[tb.TEXTURES[t]]}：自然 → {natural}，风格化 → {stylized}")
        items.append((_display(images[index, 0].numpy()), caption))
    return items


def _summary(p: tb.TrainProgress, request=None) -> str:
    heads = [say(request, "accuracy on its own held-out data", "在自己那类测试数据上的准确率"),
             say(request, "**shape bias** on cue-conflict images", "线索冲突图像上的**形状偏好**"),
             say(request, "decisions: shape / texture / neither", "判断：按形状 / 按纹理 / 都不是")]
    lines = [f"| | {_model_name('natural', request)} | {_model_name('stylized', request)} |", "| --- | --- | --- |",
             f"| {heads[0]} | " + " | ".join(f"{p.accuracy[r]:.0%}" for r in tb.REGIMES) + " |",
             f"| {heads[1]} | " + " | ".join(f"**{p.decisions[r].shape_bias:.0%}**" for r in tb.REGIMES) + " |",
             f"| {heads[2]} | " + " | ".join(
                 f"{d.shape} / {d.texture} / {d.neither}" for d in p.decisions.values()) + " |"]
    return "\n".join(lines)


def _paper_line(request=None) -> str:
    natural, stylized = (paper_figure(SLUG, cid, " %", digits=0) for cid in ("natural_shape_bias", "shape_bias"))
    return say(request, f"The paper: ResNet-50 on ImageNet {natural}, on Stylized-ImageNet {stylized}.",
               f"论文：ResNet-50 在 ImageNet 上 {natural}，在 Stylized-ImageNet 上 {stylized}。")


# --------------------------------------------------------------------------- handlers
def _state(progress: tb.TrainProgress) -> dict:
    return {r: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for r, m in progress.models.items()}


def _models(state: dict | None, request=None) -> dict:
    if not state:
        raise gr.Error(say(request, "Train both models first (press **Train both**; about 30 s).",
                           "请先训练两个模型（按**同时训练两个**；约 30 秒）。"))
    models = {}
    for regime, weights in state.items():
        models[regime] = tb.SmallCNN()
        models[regime].load_state_dict(weights)
    return models


@gpu(budget=("budget_s", BUDGET_S[1]))
@friendly_errors
def train(steps, texture_match, budget_s, seed, request: gr.Request = None):
    """Stream (status, loss, accuracy, shape-bias curves, per-class plot, gallery, state)."""
    config = tb.TrainConfig(steps=int(steps), texture_match=float(texture_match), time_budget_s=bounded_seconds(budget_s, *BUDGET_S[:2]),
                            seed=int(seed) % 2**31, eval_every=max(1, min(25, int(steps) // 4)))
    history = []
    for progress in tb.train_both(config):
        history.append(progress)
        bias = progress.shape_bias()
        status = say(request,
                     f"Step {progress.step}/{config.steps}, {progress.elapsed_s:.0f} s of {config.time_budget_s:.0f} s. "
                     f"Shape bias so far: natural **{bias['natural']:.0%}**, stylized **{bias['stylized']:.0%}**.",
                     f"第 {progress.step}/{config.steps} 步，{progress.elapsed_s:.0f} 秒 / {config.time_budget_s:.0f} 秒。"
                     f"目前的形状偏好：自然 **{bias['natural']:.0%}**，风格化 **{bias['stylized']:.0%}**。")
        if not progress.done:
            yield (status, *_curves(history, request)) + (gr.skip(),) * 3
    last = history[-1]
    per_class = _per_class(last.models, config)
    status = say(request, f"Done: {last.step} steps each in {last.elapsed_s:.0f} s ({last.reason}).\n\n",
                 f"完成：每个模型 {last.step} 步，用时 {last.elapsed_s:.0f} 秒（{_reason_zh(last.reason)}）。\n\n")
    status += _summary(last, request) + "\n\n" + _paper_line(request)
    yield (status, *_curves(history, request), _per_class_frame(per_class, request),
           _gallery(last.models, config.seed, request), _state(last))


def _per_class(models: dict, config: tb.TrainConfig) -> dict[str, dict[str, float]]:
    images, shapes, textures = tb.cue_conflict_set(config.conflicts_per_pair, seed=config.seed + 12345)
    return {r: tb.shape_bias_per_class(tb.predict(m, images), shapes, textures) for r, m in models.items()}


def _reason_zh(reason: str) -> str:
    """papers.texture_bias's stop reasons in Chinese."""
    return {"steps done": "步数已完成"}.get(reason, "已到时间预算" if "budget" in reason else reason)


def precompute() -> None:
    """Train both models at the CPU defaults once and save what the tab opens on (OPENING)."""
    config = tb.TrainConfig(steps=STEPS[2], time_budget_s=10 * BUDGET_S[2], seed=0,
                            eval_every=max(1, min(25, STEPS[2] // 4)))  # as `train` at the defaults, no time cut
    history = list(tb.train_both(config))
    last = history[-1]
    OPENING.write_text(json.dumps({
        "config": {"steps": config.steps, "texture_match": config.texture_match, "seed": config.seed,
                   "eval_every": config.eval_every},
        "history": [{"step": p.step, "elapsed_s": p.elapsed_s, "loss": p.loss, "accuracy": p.accuracy,
                     "decisions": {r: [d.shape, d.texture, d.neither] for r, d in p.decisions.items()},
                     "reason": p.reason} for p in history],
        "per_class": _per_class(last.models, config), "gallery": _gallery_answers(last.models, config.seed)},
        indent=1) + "\n")


def _saved_history(saved: dict) -> list[tb.TrainProgress]:
    return [tb.TrainProgress(h["step"], h["elapsed_s"], h["loss"], h["accuracy"],
                             {r: tb.CueDecisions(*d) for r, d in h["decisions"].items()}, {}, reason=h["reason"])
            for h in saved["history"]]


@friendly_errors
def opening(request: gr.Request = None):
    """What the tab opens on: the precomputed run's status, curves, per-class plot and gallery."""
    if not OPENING.is_file():
        return (say(request, "Press **Train both** (about 30 s on a CPU).", "按**同时训练两个**（CPU 上约 30 秒）。"),
                *(gr.skip(),) * 5)
    saved = json.loads(OPENING.read_text())
    history, config = _saved_history(saved), saved["config"]
    status = say(request,
                 f"Shown on opening: a run trained ahead of time at the defaults ({history[-1].step} steps per model, "
                 f"{config['texture_match']:.0%} texture match, seed {config['seed']}). Press **Train both** to "
                 "train live (then *Compose and classify* below can ask the two models).\n\n",
                 f"打开时显示的是按默认设置预先训练的结果（每个模型 {history[-1].step} 步，纹理匹配 "
                 f"{config['texture_match']:.0%}，随机种子 {config['seed']}）。按**同时训练两个**可现场训练"
                 f"（之后下面的*合成并分类*就能询问这两个模型）。\n\n")
    status += _summary(history[-1], request) + "\n\n" + _paper_line(request)
    return (status, *_curves(history, request), _per_class_frame(saved["per_class"], request),
            _gallery_items(saved["gallery"], config["seed"], request))


def _texture_sheet(texture_name: str, upload, request=None) -> tuple[np.ndarray, str]:
    if upload is not None:
        grey = read_image(upload).rgb.mean(axis=2)
        return tb.texture_sheet_from_image(grey), say(request, "your texture", "你上传的纹理")
    return (tb.texture_sheets()[tb.TEXTURES.index(texture_name)],
            say(request, f"{texture_name} texture", f"{_texture(texture_name, request)}纹理"))


def _answers(models: dict, image: np.ndarray) -> tuple[dict, dict]:
    return tuple(tb.probabilities(models[r], image) for r in tb.REGIMES)


@gpu(duration=20)
@friendly_errors
def compose(shape_name, texture_name, upload, seed, state, request: gr.Request = None):
    """A cue-conflict image of the chosen shape and texture, and both models' answers."""
    models = _models(state, request)
    rng = np.random.default_rng(int(seed) % 2**32)  # any number the API sends is a valid seed
    sheet, what = _texture_sheet(texture_name, upload, request)
    image = tb.compose(tb.silhouette(shape_name, rng), tb.texture_patch(sheet, rng))
    natural, stylized = _answers(models, image)
    shape = tb.SHAPES.index(shape_name)
    texture = tb.TEXTURES.index(texture_name) if upload is None else -1
    followed = say(request, "; ", "；").join(
        f"{_model_name(r, request)} → **{_cue(tb.SHAPES.index(max(a, key=a.get)), shape, texture, request)}**"
        for r, a in zip(tb.REGIMES, (natural, stylized)))
    natural, stylized = ({_shape(k, request): v for k, v in a.items()} for a in (natural, stylized))
    if say(request, "en", "zh") == "zh":
        belongs = f"（{_texture(texture_name, request)}属于{_shape(tb.SHAPES[texture], request)}）" if upload is None else ""
        return (_display(image), natural, stylized,
                f"一个填上**{what}**的**{_shape(shape_name, request)}**{belongs}。{followed}。")
    belongs = f" ({texture_name} belongs to {tb.SHAPES[texture]})" if upload is None else ""
    return _display(image), natural, stylized, f"A **{shape_name}** filled with **{what}**{belongs}. {followed}."


@gpu(duration=180)
@friendly_errors
def stylize(shape_name, texture, steps, state, request: gr.Request = None):
    """Gatys transfer of a texture onto a silhouette (VGG-19); the paper transfers onto photos."""
    models = _models(state, request)
    texture_rgb = read_image(texture).rgb
    mask = tb.silhouette(shape_name, np.random.default_rng(0), size=STIMULUS_SIDE)
    content = (np.where(mask, 0.15, 0.85)[..., None].repeat(3, 2) * 255).astype(np.uint8)  # dark shape, light ground
    config = st.StyleConfig(size=STIMULUS_SIDE, ratio=1e-3, steps=int(steps), init="content")
    network = st.vgg19("avg")
    for progress in st.synthesise(content, texture_rgb, config, network, stream_every=5):
        yield progress.image, gr.skip(), gr.skip(), say(request, f"Style transfer step {progress.step}/{config.steps}…",
                                                        f"风格迁移第 {progress.step}/{config.steps} 步…")
    small = tb.to_model_image(progress.image)
    natural, stylized = ({_shape(k, request): v for k, v in a.items()} for a in _answers(models, small))
    yield progress.image, natural, stylized, say(
        request, f"Stylized {shape_name} after {progress.step} steps; the models see it reduced to 32 px grey.",
        f"风格化的{_shape(shape_name, request)}（{progress.step} 步）；模型看到的是缩小到 32 像素的灰度图。")


# --------------------------------------------------------------------------- the paper's own measurement
CC_SLUG = "cue-conflict"  # results/cue-conflict.json, written by `python -m papers.reproduce cue-conflict`
CC_IMAGES = (16, 1280, 64)  # images to classify: min, max, CPU default (VGG-16: ~1.6 s an image on one core)
CC_BUDGET_S = (10, 600, 120)
CATEGORIES_ZH = {"airplane": "飞机", "bear": "熊", "bicycle": "自行车", "bird": "鸟", "boat": "船", "bottle": "瓶子",
                 "car": "汽车", "cat": "猫", "chair": "椅子", "clock": "钟", "dog": "狗", "elephant": "大象",
                 "keyboard": "键盘", "knife": "刀", "oven": "烤箱", "truck": "卡车"}
CC_ADDS = {"alexnet": "AlexNet's shape bias on the authors' cue-conflict images",
           "vgg16": "VGG-16's shape bias on the authors' cue-conflict images"}
CC_ADDS_ZH = {"alexnet": "AlexNet 在作者的线索冲突图像上的形状偏好", "vgg16": "VGG-16 在作者的线索冲突图像上的形状偏好"}
CC_INTRO = f"""**The paper's own measurement.** The authors' cue-conflict images (a photo of one of 16
categories style-transferred with the texture of another; {cc.REPOSITORY_URL}) classified by the
ImageNet **AlexNet** and **VGG-16** this gallery loads in other tabs. Each network's 1,000 ImageNet
probabilities become one of the 16 categories as the authors recommend: the *mean* probability of
each category's fine-grained ImageNet classes, then the largest. Images whose shape and texture are
the same category are left out; shape bias = shape decisions ÷ (shape + texture decisions). Beside
it: the authors' figures for the same torchvision weights (their repository's README; the paper's
Fig. 4 shows caffe models), and per category as in Fig. 4.

The gallery does not ship the images (no licence is stated for them). A checkout of the authors'
repository provides both the images and the category → ImageNet class lists:
`git clone {cc.REPOSITORY_URL}`, then start the app with `{cc.ENV_VAR}=path/to/texture-vs-shape`."""
CC_INTRO_ZH = f"""**论文本身的测量。** 用本画廊在其他页面加载的 ImageNet **AlexNet** 和 **VGG-16** 对作者的线索冲突图像
（16 个类别之一的照片，用另一个类别的纹理做了风格迁移；{cc.REPOSITORY_URL}）进行分类。
每个网络的 1000 个 ImageNet 概率按作者推荐的方式变成 16 个类别之一：对每个类别所含的细分 ImageNet 类别取概率的*平均值*，
再取最大者。形状和纹理属于同一类别的图像不计入；形状偏好 = 按形状判断 ÷（按形状 + 按纹理判断）。
旁边是作者对同样的 torchvision 权重给出的数值（其仓库的 README；论文图 4 用的是 caffe 模型），以及像图 4 那样按类别的结果。

画廊不附带这些图像（它们没有注明许可证）。作者仓库的副本同时提供图像和类别 → ImageNet 类别列表：
`git clone {cc.REPOSITORY_URL}`，然后用 `{cc.ENV_VAR}=path/to/texture-vs-shape` 启动应用。"""


def cc_default_images() -> int:
    """Images the measurement starts with: a balanced subset on a CPU, all of them on a GPU."""
    return budget(cpu=CC_IMAGES[2], gpu=CC_IMAGES[1])


def _category(name: str, request=None) -> str:
    return say(request, name, CATEGORIES_ZH.get(name, name))


def _published_label(key: str, request=None) -> str:
    label = cc.MODELS[key].label
    return say(request, f"{label} (authors, torchvision)", f"{label}（作者，torchvision）")


def _ours_label(key: str, request=None) -> str:
    label = cc.MODELS[key].label
    return say(request, f"{label} (measured here)", f"{label}（本页测量）")


def cc_frame(state: cc.Measurement | None = None, request=None) -> pd.DataFrame:
    """Fig. 4 style: shape bias (%) per shape category for each model measured, and over all
    categories beside the authors' figures (and the stored measurement from results/, if any)."""
    overall = say(request, "all categories", "所有类别")
    rows = [{"category": overall, "shape bias (%)": v, "model": _published_label(k, request)}
            for k, v in cc.PUBLISHED_SHAPE_BIAS.items()]
    if state is None:
        rows += [{"category": overall, "shape bias (%)": v, "model": _ours_label(k, request)}
                 for k in cc.MODELS if (v := value(CC_SLUG, f"{k}_shape_bias")) is not None]
    else:
        for key in state.decisions:
            label = _ours_label(key, request)
            rows += [{"category": _category(c, request), "shape bias (%)": v, "model": label}
                     for c, v in state.per_category(key).items() if not np.isnan(v)]
            if not np.isnan(bias := state.shape_bias(key)):
                rows.append({"category": overall, "shape bias (%)": bias, "model": label})
    return pd.DataFrame(rows, columns=["category", "shape bias (%)", "model"])


def cc_table(state: cc.Measurement | None = None, request=None) -> pd.DataFrame:
    """One row per model: decisions counted and shape bias, beside the authors' figure."""
    heads = [say(request, en, zh) for en, zh in (
        ("model", "模型"), ("images classified", "已分类图像"), ("shape", "按形状"), ("texture", "按纹理"),
        ("neither", "都不是"), ("shape bias (%)", "形状偏好 (%)"), ("authors, torchvision (%)", "作者，torchvision (%)"))]
    rows = []
    for key, model in cc.MODELS.items():
        if state is not None and key in state.decisions:
            d = state.cue_decisions(key)
            rows.append([model.label, state.evaluated(key), d.shape, d.texture, d.neither,
                         round(state.shape_bias(key), 1), cc.PUBLISHED_SHAPE_BIAS[key]])
        elif state is None:
            stored = value(CC_SLUG, f"{key}_shape_bias")
            rows.append([model.label, None, None, None, None, None if stored is None else round(stored, 1),
                         cc.PUBLISHED_SHAPE_BIAS[key]])
    return pd.DataFrame(rows, columns=heads)


def _cc_unavailable(exc: Exception, request=None) -> str:
    problem = scrub_paths(str(exc))
    return say(request, problem,
               f"画廊不附带作者的线索冲突图像（它们没有注明许可证）：`git clone {cc.REPOSITORY_URL}`，并把 "
               f"{cc.ENV_VAR} 设为该文件夹（或其中的 {cc.STIMULI_PATH.as_posix()} 文件夹）；这个仓库同时提供 16 个类别对应的 "
               f"ImageNet 类别列表（{cc.CATEGORIES_PATH.as_posix()}）。\n\n（原因：{problem}）")


def _cc_status(state: cc.Measurement, budget_s: float, request=None) -> str:
    n, total = max(map(state.evaluated, state.decisions)), len(state.stimuli)
    biases = say(request, ", ", "，").join(
        f"{cc.MODELS[k].label} **{_percent(state.shape_bias(k))}**" for k in state.decisions)
    if state.done:
        return say(request,
                   f"Done ({state.reason}): {n} of {total} cue-conflict images classified in {state.elapsed_s:.0f} s "
                   f"({state.excluded} conflict-free images left out). Shape bias: {biases}.",
                   f"完成（{_cc_reason_zh(state.reason)}）：{total} 张线索冲突图像中分类了 {n} 张，用时 "
                   f"{state.elapsed_s:.0f} 秒（{state.excluded} 张无冲突图像不计入）。形状偏好：{biases}。")
    return say(request,
               f"{n} of {total} cue-conflict images classified, {state.elapsed_s:.0f} s of {budget_s:.0f} s. "
               f"Shape bias so far: {biases}.",
               f"{total} 张线索冲突图像中已分类 {n} 张，{state.elapsed_s:.0f} 秒 / {budget_s:.0f} 秒。目前的形状偏好：{biases}。")


def _percent(bias: float) -> str:
    """A measured shape bias for a status line ('—' before any shape or texture decision)."""
    return "—" if np.isnan(bias) else f"{bias:.1f} %"


def _cc_reason_zh(reason: str) -> str:
    return "已到时间预算" if "budget" in reason else "所有图像都已分类"


def _bounded_images(images) -> int:
    try:
        count = int(float(images))
    except (TypeError, ValueError, OverflowError):
        return CC_IMAGES[2]
    return min(max(count, CC_IMAGES[0]), CC_IMAGES[1])


@gpu(budget=("budget_s", CC_BUDGET_S[1]))
@friendly_errors
def measure_cue_conflict(models, images, budget_s, request: gr.Request = None):
    """Stream (status, Fig. 4 plot, table): the ImageNet AlexNet / VGG-16 on the authors'
    cue-conflict images, from $GALLERY_CUE_CONFLICT_DIR; a message (never an error) without them."""
    keys = [k for k in cc.MODELS if k in (models or [])]
    if not keys:
        yield say(request, "Choose at least one model.", "请至少选择一个模型。"), gr.skip(), gr.skip()
        return
    try:
        chosen = cc.plan(cc.locate(), limit=_bounded_images(images))
    except (ValueError, OSError, SyntaxError) as exc:  # CueConflictUnavailable is a ValueError
        yield _cc_unavailable(exc, request), gr.skip(), gr.skip()
        return
    loaded, notes = {}, []
    for key in keys:
        model = cc.MODELS[key]
        try:
            loaded[key] = model.load()
        except WeightsUnavailable:
            notes.append(say(request, weights_note(model.checkpoint, adds=CC_ADDS[key]),
                             weights_note_zh(model.checkpoint, adds=CC_ADDS_ZH[key])))
    if not loaded:
        yield "\n\n".join(notes), gr.skip(), gr.skip()
        return
    seconds = bounded_seconds(budget_s, *CC_BUDGET_S[:2])
    for state in cc.run(loaded, chosen, budget_s=seconds, cache=cc.PROCESS_CACHE):
        status = "\n\n".join([_cc_status(state, seconds, request), *notes])
        yield status, cc_frame(state, request), cc_table(state, request)


def bench_default() -> str:
    *_, last = train(default_steps(), tb.TrainConfig.texture_match, BUDGET_S[2], 0)
    return last[0]


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, cjk_markdown(INTRO_ZH)))
    state = gr.State(None)
    with gr.Row():
        steps = gr.Slider(*STEPS[:2], value=default_steps(), step=10,
                          label=t("Training steps per model"),
                          info=localized(device_note(f"{GPU_STEPS} steps per model by default in the same time budget"),
                                         device_note_zh(f"在同样的时间预算内默认每个模型训练 {GPU_STEPS} 步")))
        match = gr.Slider(0.15, 1.0, value=tb.TrainConfig.texture_match, step=0.05,
                          label=t("Natural data: how often a class wears its own texture"),
                          info=t("1/6 ≈ 0.17: texture says nothing about the class, as in stylized data"))
        budget = gr.Slider(*BUDGET_S[:2], value=BUDGET_S[2], step=5, label=t("Time budget (seconds)"))
        seed = gr.Number(0, precision=0, label=t("Seed"))
    gr.LinePlot(correlation_frame(), x="class texture (% of images)", y="shape bias (%)", color="model",
                y_lim=[0, 100], height=260, label=t("The control"),
                title=t("Shape bias against the texture–label correlation (mean over seeds, from results/)"))
    with gr.Row():
        train_btn = gr.Button(t("Train both"), variant="primary")
        stop_btn = gr.Button(t("Stop"))
    status = gr.Markdown(t("Press **Train both** (about 30 s on a CPU)."))
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="loss", color="model", title=t("Training loss"), height=240)
        acc_plot = gr.LinePlot(x="step", y="accuracy", color="model", title=t("Held-out accuracy (own data)"),
                               height=240, y_lim=[0, 1])
        bias_plot = gr.LinePlot(x="step", y="shape bias", color="model", title=t("Shape bias on cue-conflict images"),
                                height=240, y_lim=[0, 1])
    per_class = gr.ScatterPlot(x="class", y="shape bias", color="model", y_lim=[0, 1], height=300,
                               title=t("Shape bias per class (by the image's shape); means beside the paper's"))
    gallery = gr.Gallery(label=t("Cue-conflict examples (shape + texture of another class) and which cue each "
                                 "model followed"), columns=4, height="auto")

    gr.Markdown(t("### Make your own cue-conflict image\nPick a shape and a texture (or upload a texture)."))
    with gr.Row():
        with gr.Column():
            shape = gr.Dropdown([(t(name), name) for name in tb.SHAPES], value="star", label=t("Shape"))
            texture = gr.Dropdown([(t(name), name) for name in tb.TEXTURES], value="brick",
                                  label=t("Texture (brick belongs to circle, …)"))
            upload = gr.Image(label=t("…or upload a texture"), type="numpy", height=160)
            compose_seed = gr.Number(1, precision=0, label=t("Placement seed"))
            compose_btn = gr.Button(t("Compose and classify"), variant="primary")
        composed = gr.Image(label=t("Cue-conflict image (32 px, enlarged)"), type="numpy", interactive=False,
                            height=200)
        natural_label = gr.Label(label=t(NATURAL), num_top_classes=3)
        stylized_label = gr.Label(label=t(STYLIZED), num_top_classes=3)
    compose_text = gr.Markdown()
    gr.Examples(example_paths("brick.png", "grass.png", "gravel.png"), inputs=upload, label=t("Texture examples"))

    with gr.Accordion(t("Style-transfer a texture onto a silhouette (needs VGG-19)"), open=False):
        gr.Markdown(t("The paper made its cue-conflict images by style-transferring a texture onto a *photo* of an "
                      "object. Here the content is a silhouette, and the result carries the style onto the grey "
                      "background too, which our models never saw in training: read their answers with that in mind."))
        with gr.Row():
            st_texture = gr.Image(label=t("Texture / style image"), type="numpy", height=160)
            st_steps = gr.Slider(10, 300, value=50, step=10, label=t("Style-transfer steps"))
            st_btn = gr.Button(t("Stylize the shape and classify"))
        st_image = gr.Image(label=t("Stylized silhouette"), type="numpy", interactive=False, height=200)
        adds = "Gatys style transfer of any texture onto a silhouette"
        gr.Markdown(localized(weights_note(st.VGG19_IMAGENET, adds=adds),
                              weights_note_zh(st.VGG19_IMAGENET, adds="把任意纹理用 Gatys 风格迁移画到剪影上")))

    with gr.Accordion(t("The paper's measurement: ImageNet AlexNet and VGG-16 on the authors' cue-conflict images"),
                      open=False):
        gr.Markdown(localized(CC_INTRO, cjk_markdown(CC_INTRO_ZH)))
        with gr.Row():
            cc_models = gr.CheckboxGroup([(t(m.label), k) for k, m in cc.MODELS.items()], value=list(cc.MODELS),
                                         label=t("ImageNet models"))
            cc_images = gr.Slider(*CC_IMAGES[:2], value=cc_default_images(), step=16,
                                  label=t("Cue-conflict images to classify"),
                                  info=t("A subset balanced over the shape categories; the maximum takes all of them"))
            cc_budget = gr.Slider(*CC_BUDGET_S[:2], value=CC_BUDGET_S[2], step=10,
                                  label=t("Time budget for the measurement (seconds)"))
        with gr.Row():
            cc_btn = gr.Button(t("Measure the shape bias"), variant="primary")
            cc_stop = gr.Button(t("Stop the measurement"))
        stored = any(value(CC_SLUG, f"{k}_shape_bias") is not None for k in cc.MODELS)
        cc_status = gr.Markdown(t(
            "Shown: the measurement stored in results/ (`python -m papers.reproduce cue-conflict`) beside the "
            "authors' figures." if stored else
            "Not measured here yet: it needs the authors' images and the ImageNet weights (see above); the plot "
            "shows the authors' figures until then."))
        cc_plot = gr.ScatterPlot(cc_frame(), x="category", y="shape bias (%)", color="model", y_lim=[0, 100],
                                 height=320, title=t("Shape bias per shape category (as Fig. 4) and over all of them"))
        cc_results = gr.Dataframe(cc_table(), label=t("Decisions on cue-conflict images"), interactive=False)
        gr.Markdown(localized("\n\n".join(weights_note(m.checkpoint, adds=CC_ADDS[k]) for k, m in cc.MODELS.items()),
                              "\n\n".join(weights_note_zh(m.checkpoint, adds=CC_ADDS_ZH[k])
                                           for k, m in cc.MODELS.items())))

    outputs = [status, loss_plot, acc_plot, bias_plot, per_class, gallery, state]
    event = train_btn.click(train, [steps, match, budget, seed], outputs,
                            api_name=f"{SLUG}_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    on_tab_open(opening, outputs[:-1])
    stop_btn.click(None, None, None, cancels=[event], api_visibility="private")
    compose_btn.click(compose, [shape, texture, upload, compose_seed, state],
                      [composed, natural_label, stylized_label, compose_text], api_name=f"{SLUG}_compose")
    st_event = st_btn.click(stylize, [shape, st_texture, st_steps, state],
                            [st_image, natural_label, stylized_label, compose_text], api_name=f"{SLUG}_stylize",
                            concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[st_event], api_visibility="private")
    cc_event = cc_btn.click(measure_cue_conflict, [cc_models, cc_images, cc_budget], [cc_status, cc_plot, cc_results],
                            api_name=f"{SLUG}_cue_conflict", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    cc_stop.click(None, None, None, cancels=[cc_event], api_visibility="private")


ZH = {
    "Training steps per model": "每个模型的训练步数",
    "Natural data: how often a class wears its own texture": "自然数据：一个类别带着自己纹理的频率",
    "Time budget (seconds)": "时间预算（秒）",
    "Seed": "随机种子",
    "Train both": "同时训练两个",
    "Stop": "停止",
    "Press **Train both** (about 30 s on a CPU).": "按**同时训练两个**（CPU 上约 30 秒）。",
    "Training loss": "训练损失",
    "Held-out accuracy (own data)": "测试准确率（各自的数据）",
    "Shape bias on cue-conflict images": "线索冲突图像上的形状偏好",
    "Shape bias per class (by the image's shape); means beside the paper's": "各类别的形状偏好（按图像的形状分类）；右边是平均值和论文的平均值",
    "Cue-conflict examples (shape + texture of another class) and which cue each model followed":
        "线索冲突示例（一类的形状 + 另一类的纹理），以及每个模型依据的线索",
    "### Make your own cue-conflict image\nPick a shape and a texture (or upload a texture).":
        "### 自己做一张线索冲突图像\n选一种形状和一种纹理（或上传一张纹理）。",
    **SHAPES_ZH,
    **TEXTURES_ZH,
    "Shape": "形状",
    "Texture (brick belongs to circle, …)": "纹理（砖墙属于圆形，……）",
    "…or upload a texture": "……或上传一张纹理",
    "Placement seed": "摆放位置的随机种子",
    "Compose and classify": "合成并分类",
    "Cue-conflict image (32 px, enlarged)": "线索冲突图像（32 像素，放大显示）",
    NATURAL: MODEL_NAMES_ZH["natural"],
    STYLIZED: MODEL_NAMES_ZH["stylized"],
    "Texture examples": "纹理示例",
    "Style-transfer a texture onto a silhouette (needs VGG-19)": "用风格迁移把纹理画到剪影上（需要 VGG-19）",
    "The paper made its cue-conflict images by style-transferring a texture onto a *photo* of an "
    "object. Here the content is a silhouette, and the result carries the style onto the grey "
    "background too, which our models never saw in training: read their answers with that in mind.":
        "论文是把纹理用风格迁移画到物体的*照片*上来制作线索冲突图像的。这里的内容图是剪影，结果会把风格也画到灰色背景上，"
        "而我们的模型训练时从没见过这样的背景：看它们的回答时请记住这一点。",
    "The control": "对照实验",
    "Shape bias against the texture–label correlation (mean over seeds, from results/)":
        "形状偏好随纹理与类别相关性的变化（多个随机种子的平均，来自 results/）",
    "1/6 ≈ 0.17: texture says nothing about the class, as in stylized data": "1/6 ≈ 0.17：纹理不携带类别信息，和风格化数据一样",
    "Texture / style image": "纹理 / 风格图像",
    "Style-transfer steps": "风格迁移步数",
    "Stylize the shape and classify": "把形状风格化并分类",
    "Stylized silhouette": "风格化的剪影",
    "The paper's measurement: ImageNet AlexNet and VGG-16 on the authors' cue-conflict images":
        "论文本身的测量：ImageNet AlexNet 和 VGG-16 在作者的线索冲突图像上",
    "ImageNet models": "ImageNet 模型",
    **{m.label: m.label for m in cc.MODELS.values()},  # model names stay as they are
    "Cue-conflict images to classify": "要分类的线索冲突图像数",
    "A subset balanced over the shape categories; the maximum takes all of them":
        "在各形状类别间均衡选取的子集；取最大值即全部图像",
    "Time budget for the measurement (seconds)": "测量的时间预算（秒）",
    "Measure the shape bias": "测量形状偏好",
    "Stop the measurement": "停止测量",
    "Not measured here yet: it needs the authors' images and the ImageNet weights (see above); the plot shows the "
    "authors' figures until then.":
        "本页尚未测量：需要作者的图像和 ImageNet 权重（见上文）；在那之前，图中显示的是作者给出的数值。",
    "Shown: the measurement stored in results/ (`python -m papers.reproduce cue-conflict`) beside the authors' figures.":
        "显示的是 results/ 中保存的测量结果（`python -m papers.reproduce cue-conflict`），旁边是作者给出的数值。",
    "Shape bias per shape category (as Fig. 4) and over all of them": "各形状类别的形状偏好（如图 4）以及全部类别的结果",
    "Decisions on cue-conflict images": "线索冲突图像上的判断",
}


if __name__ == "__main__":
    precompute()
