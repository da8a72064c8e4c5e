"""Siamese similarity network (Chopra, Hadsell & LeCun 2005): train a metric live, verify pairs."""
from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import pandas as pd
import torch

from demos.common import (cjk_markdown, device_note, device_note_zh, friendly_errors, header, heavy_id, on_tab_open,
                          read_image, weights_note, weights_note_zh)
from demos.i18n import localized, say, t, zh_figure
from papers.checkpoints import WeightsUnavailable, budget, get_device, gpu, seeded_init
from papers import results, siamese

SLUG = "siamese"
TITLE = "Siamese similarity network"
PAPER_URL = "https://ieeexplore.ieee.org/document/1467314"
INTRO = """Two copies of one convnet G_W map two images to vectors; their **distance E_W is
the energy** (L1 in the paper): low for *genuine* pairs (same person), high for *impostor* pairs.
The paper trains on some people and verifies **people it never saw**. Here, as in the paper, G_W
trains on 30 of the 40 ORL faces and verifies the other 10 (when the faces are installed); without
them, it trains on some digit classes and verifies the held-out ones. For the faces, G_W uses ReLU,
max pooling, batch normalisation and unit-length outputs, and trains with the contrastive loss
(Euclidean E_W) of Hadsell, Chopra & LeCun 2006, plus a margin for genuine pairs (pulled together
only while E_W > 0.4): the paper's tanh network and loss, tried first, did not beat raw pixels on
unseen people. Label convention, as in the paper:
**Y = 0 genuine, Y = 1 impostor**."""
INTRO_ZH = cjk_markdown("""同一个卷积网络 G_W 的两份拷贝把两张图像映射成两个向量；它们之间的**距离 E_W 就是能量**（论文里用 L1 距离）：
*真配对*（同一个人）能量低，*冒充配对*（不同的人）能量高。论文在一部分人身上训练，去验证**从没见过的人**。
这里和论文一样，G_W 在 40 个 ORL 人脸中的 30 人上训练，验证另外 10 人（装有人脸数据时）；没有人脸数据时，
它在一部分数字类别上训练，验证留出的类别。对人脸，G_W 使用 ReLU、最大池化、批归一化和单位长度的输出，
并用 Hadsell、Chopra 与 LeCun 2006 的对比损失（欧氏距离 E_W）训练，另加一个真配对的间隔
（只在 E_W > 0.4 时才把真配对拉近）：先试过的论文原版 tanh 网络和损失
在没见过的人上没有胜过原始像素。标签约定与论文相同：**Y = 0 为真配对，Y = 1 为冒充配对**。""")


def _verdict(claim_id: str, method: str, zh: bool = False) -> str:
    """How the learned metric compares with `method` on a claim (lower EER is better): worse or
    better only when the difference of the means exceeds the sum of the two seed spreads and every
    seed falls on the same side."""
    found = results.claim(SLUG, claim_id)
    if not found or method not in found["baselines"]:
        return "相比" if zh else "compared with"
    ours, other = found["ours"], found["baselines"][method]
    gap, noise = ours["mean"] - other["mean"], ours["sd"] + other["sd"]
    seeds = list(zip(ours["per_seed"], other["per_seed"]))
    same_side = all(o > b for o, b in seeds) if gap > 0 else all(o < b for o, b in seeds)
    if abs(gap) <= noise or not same_side:  # within the seed-to-seed spread: say which way the means lean
        if zh:
            return "并不优于" if gap >= 0 else "并不可靠地优于"
        return "no better" if gap >= 0 else "not reliably better"
    if zh:
        return "**劣于**" if gap > 0 else "**优于**"
    return "**worse**" if gap > 0 else "**better**"


def _versus(claim_id: str, method: str, zh: bool = False) -> str:
    """_verdict as a phrase before the baseline's name ("**better** than")."""
    verdict = _verdict(claim_id, method, zh)
    return verdict if zh or verdict == "compared with" else verdict + " than"


TARGET_EER = 0.08  # issue 18's target on people never trained on
# (claim, people verified, G_W; English then Chinese): the faces table's rows, people 31-40 first
FACE_ROWS = (
    ("orl_unseen_eer", "31–40", "one G_W, trained on 1–30", "31–40", "单个 G_W，在第 1–30 人上训练"),
    ("orl_ensemble_unseen_eer", "31–40", f"{siamese.FACE_ENSEMBLE} G_W as one (the shipped checkpoint's recipe)",
     "31–40", f"{siamese.FACE_ENSEMBLE} 个 G_W 当作一个（随附检查点的做法）"),
    *((f"orl_fold_{first}_{last}_eer", f"{first}–{last}", "one G_W, trained on the other 30",
       f"{first}–{last}", "单个 G_W，在其余 30 人上训练") for first, last in siamese.ORL_FOLDS),
    ("orl_folds_eer", "mean of the three rows 1–10, 11–20, 31–40", "one G_W",
     "1–10、11–20、31–40 三行的平均", "单个 G_W"),
    ("orl_validation_eer", "21–30 (they chose the recipe)", "one G_W, trained on 1–20",
     "21–30（用来挑选训练方案）", "单个 G_W，在第 1–20 人上训练"),
    ("orl_ensemble_validation_eer", "21–30 (they chose the recipe)", f"{siamese.FACE_ENSEMBLE} G_W as one, trained on 1–20",
     "21–30（用来挑选训练方案）", f"{siamese.FACE_ENSEMBLE} 个 G_W 当作一个，在第 1–20 人上训练"),
    ("orl_cv_eer", "1–10, 11–20, 21–30 in turn, averaged (they chose G_W's width)", "one G_W, trained on the other 20 of 1–30",
     "依次验证 1–10、11–20、21–30 后取平均（用来挑选 G_W 的宽度）", "单个 G_W，在第 1–30 人中其余 20 人上训练"),
)


def _faces_table(zh: bool = False) -> str:
    """The ORL faces' EERs as a table: learned vs raw pixels vs untrained, and whether the target is met."""
    target = results.setting(f"{TARGET_EER:g}")
    fig = (lambda *a, **k: zh_figure(results.figure(SLUG, *a, **k))) if zh else functools.partial(results.figure, SLUG)
    head = (["验证的人（从没训练过）", "G_W", "学到的度量", "原始像素", "未经训练的 G_W", "对比原始像素", f"EER ≤ {target}"] if zh else
            ["people verified (never trained on)", "G_W", "learned metric", "raw pixels", "untrained G_W",
             "learned vs pixels", f"EER ≤ {target}"])
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for claim_id, people, net, people_zh, net_zh in FACE_ROWS:
        if not results.claim(SLUG, claim_id):
            continue
        met = results.value(SLUG, claim_id) <= TARGET_EER
        cells = [people_zh if zh else people, net_zh if zh else net, fig(claim_id),
                 fig(claim_id, "pixels", spread=False), fig(claim_id, "untrained"), _verdict(claim_id, "pixels", zh),
                 ("达到" if met else "**没有达到**") if zh else ("met" if met else "**not met**")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _faces_note() -> str:
    """The ORL faces part of the honest note ('' where the faces were never measured)."""
    if not results.claim(SLUG, "orl_unseen_eer"):
        return ""
    fig = functools.partial(results.figure, SLUG)
    text = (f"**ORL faces, the paper's setting**: G_W trains on 30 people ({siamese.FACE_STEPS} steps with random "
            "rotations, scalings and shifts) and verifies ten people that neither training nor the choice of the "
            "recipe saw; people 21–30 chose the recipe, so they are no test. Folds of ten other people check that "
            "the finding is not one group's; G_W's width was chosen by cross-validation over people 1–30 (each "
            "ten verified by a G_W trained on the other twenty), so 1–10 and 11–20 helped choose it and only "
            "31–40 never took part in any choice.\n\n" + _faces_table() + "\n\n")
    if results.claim(SLUG, "shipped_faces_unseen_eer"):
        text += f"The shipped faces checkpoint (seeds 0–{siamese.FACE_ENSEMBLE - 1} as one): {fig('shipped_faces_unseen_eer')} on people 31–40. "
    if results.claim(SLUG, "orl_live_eer"):
        text += (f"Training live for {siamese.LIVE_FACE_STEPS} steps (about what the default {BUDGET_S[2]} s budget reaches on a CPU): "
                 f"{fig('orl_live_eer')} on people 31–40, {_versus('orl_live_eer', 'pixels')} raw pixels.")
    return text + "\n\n"


def _faces_note_zh() -> str:
    if not results.claim(SLUG, "orl_unseen_eer"):
        return ""

    def fig(claim_id, method="ours", **kwargs):
        return zh_figure(results.figure(SLUG, claim_id, method, **kwargs))

    text = (f"**ORL 人脸——论文的设定**：G_W 在 30 个人上训练（{siamese.FACE_STEPS} 步，带随机旋转、缩放和平移），"
            "验证训练和挑选训练方案时都没见过的 10 个人；第 21–30 人用来挑选了方案，所以不算测试。"
            "另外几折各换十个人，检验结论是否只对某一组人成立；G_W 的宽度是在第 1–30 人上交叉验证选出的"
            "（每次用其余二十人训练的 G_W 验证其中十人），所以第 1–10、11–20 人也参与了这个选择，"
            "只有第 31–40 人没有参与任何选择。\n\n" + _faces_table(zh=True) + "\n\n")
    if results.claim(SLUG, "shipped_faces_unseen_eer"):
        text += f"随附的人脸检查点（种子 0–{siamese.FACE_ENSEMBLE - 1} 当作一个）：在第 31–40 人上为 {fig('shipped_faces_unseen_eer')}。"
    if results.claim(SLUG, "orl_live_eer"):
        text += (f"在页面里现场训练 {siamese.LIVE_FACE_STEPS} 步（大约是 CPU 上默认 {BUDGET_S[2]} 秒预算能跑到的步数）："
                 f"在第 31–40 人上为 {fig('orl_live_eer')}，{_versus('orl_live_eer', 'pixels', zh=True)}原始像素。")
    return text + "\n\n"


def honest_note() -> str:
    """What the measurements say (results/siamese.json; mean ± sd over seeds), a loss included."""
    fig = functools.partial(results.figure, SLUG)
    text = ("*Honest note* (equal error rate, EER, lower is better; each seed trains G_W from scratch). "
            + _faces_note() +
            f"**Digits** ({siamese.TRAIN_STEPS} steps on digits 0–6, no distortions): on the **unseen** digits 7–9 the learned metric "
            f"reaches {fig('unseen_digits_eer')}, {_versus('unseen_digits_eer', 'pixels')} raw pixels "
            f"({fig('unseen_digits_eer', 'pixels', spread=False)}, no randomness) and {_versus('unseen_digits_eer', 'untrained')} the same "
            f"network untrained ({fig('unseen_digits_eer', 'untrained')}). On the **trained** classes 0–6 (their "
            f"test images) it reaches {fig('seen_digits_eer')}, {_versus('seen_digits_eer', 'pixels')} raw "
            f"pixels ({fig('seen_digits_eer', 'pixels', spread=False)}): seven training classes teach it those classes, "
            "not a metric that transfers.")
    return text + " Regenerate: `python -m papers.reproduce siamese`."


def honest_note_zh() -> str:
    """honest_note in Chinese: the same figures from results/siamese.json."""
    def fig(claim_id, method="ours", **kwargs):
        return zh_figure(results.figure(SLUG, claim_id, method, **kwargs))

    text = ("*如实说明*（等错误率 EER，越低越好；每个随机种子都从头训练 G_W）。" + _faces_note_zh() +
            f"**数字**（在数字 0–6 上训练 {siamese.TRAIN_STEPS} 步，不加变形）："
            f"在**没见过**的数字 7–9 上，学到的度量达到 {fig('unseen_digits_eer')}，"
            f"{_versus('unseen_digits_eer', 'pixels', zh=True)}原始像素（{fig('unseen_digits_eer', 'pixels', spread=False)}，"
            f"没有随机性），也{_versus('unseen_digits_eer', 'untrained', zh=True)}未经训练的同一个网络"
            f"（{fig('unseen_digits_eer', 'untrained')}）。在**训练过**的类别 0–6 上（它们的测试图像），它达到 "
            f"{fig('seen_digits_eer')}，{_versus('seen_digits_eer', 'pixels', zh=True)}原始像素"
            f"（{fig('seen_digits_eer', 'pixels', spread=False)}）：七个训练类别教会它的是这些类别本身，"
            "而不是一个能迁移的度量。")
    return text + "重新生成：`python -m papers.reproduce siamese`。"


DIGITS, FACES = "digits", "ORL faces"
SHIPPED_KEYS = {DIGITS: (DIGITS, tuple(range(7)), "chopra2005"),  # what each shipped checkpoint was trained on
                FACES: (FACES, (), siamese.FACES_RECIPE.loss)}
LOSS_CHOICES = [(text, key) for key, text in siamese.LOSSES.items()]
PREVIEW_SIDE = 112  # held-out images are shown enlarged
MAX_CURVE_POINTS = 300
HIST_BINS = 40
BUDGET_S = (5, 60, 20)  # min, max, default seconds of training
GPU_BUDGET_S = (5, 180, 60)  # the same on a GPU: thousands more steps per second


# --------------------------------------------------------------------------- data and models
@functools.lru_cache(maxsize=4)  # keyed by the visitor's digit subset: bounded (~6 MB each)
def _data(dataset: str, train_digits: tuple) -> siamese.VerificationData:
    return siamese.face_data() if dataset == FACES else siamese.digit_data(train_digits)


@functools.lru_cache(maxsize=4)
def _baseline(dataset: str, train_digits: tuple) -> siamese.Roc:
    return siamese.pixel_baseline(_data(dataset, train_digits))


def default_dataset() -> str:
    """Faces (the paper's setting) when the ORL faces are here; the digits otherwise."""
    return FACES if siamese.faces_available() else DIGITS


def _shipped_model(dataset: str) -> siamese.SiameseNet | siamese.EnsembleNet:
    return siamese.pretrained(dataset="faces" if dataset == FACES else "digits")


@functools.cache
def _shipped_evaluation(dataset: str | None = None) -> siamese.Evaluation:
    key = SHIPPED_KEYS[dataset or default_dataset()]
    return siamese.evaluate(_shipped_model(key[0]), _data(*key[:2]), key[2])


def _current(state: dict | None):
    """(model, data, loss, evaluation, key): the visitor's trained model, else the shipped one
    of the default data set."""
    if not state:
        key = SHIPPED_KEYS[default_dataset()]
        return _shipped_model(key[0]), _data(*key[:2]), key[2], _shipped_evaluation(key[0]), key
    dataset, train_digits, loss = state["key"]
    data = _data(dataset, train_digits)
    model = siamese.model_from_state(data.config, state["weights"])
    return model.eval(), data, loss, state["evaluation"], state["key"]


# --------------------------------------------------------------------------- plot frames
def _loss_frame(history: list[siamese.Progress]) -> pd.DataFrame:
    return pd.DataFrame({"step": [p.step for p in history], "loss": [p.loss for p in history]})


def _eer_frame(eers: list[tuple[int, float]], untrained: float, pixels: float, request=None) -> pd.DataFrame:
    """Held-out equal error rate against the step, with the untrained G_W and raw pixels as lines."""
    steps = [step for step, _ in eers]
    span = [0, max(steps + [1])]
    return pd.concat([
        pd.DataFrame({"step": steps, "EER": [e for _, e in eers], "metric": say(request, "learned G_W", "学到的 G_W")}),
        pd.DataFrame({"step": span, "EER": [untrained] * 2, "metric": say(request, "untrained G_W", "未经训练的 G_W")}),
        pd.DataFrame({"step": span, "EER": [pixels] * 2, "metric": say(request, "raw-pixel L1", "原始像素 L1")}),
    ], ignore_index=True)


def _embedding_frame(embeddings: torch.Tensor, data: siamese.VerificationData, request=None) -> pd.DataFrame:
    xy = siamese.project_2d(embeddings)
    if data.config.input_hw == siamese.FACE_HW:  # ORL people are numbered from 1
        names = [say(request, f"person {c + 1}", f"第 {c + 1} 人") for c in data.heldout_labels.tolist()]
    else:
        names = [f"{say(request, 'class', '类别')} {c}" for c in data.heldout_labels.tolist()]
    return pd.DataFrame({"PC 1": xy[:, 0], "PC 2": xy[:, 1], "class": names})


def _histogram_frame(ev: siamese.Evaluation, request=None) -> pd.DataFrame:
    edges = np.linspace(0, max(ev.genuine.max(), ev.impostor.max()), HIST_BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    frames = []
    for kind, values in ((say(request, "genuine (Y=0)", "真配对（Y=0）"), ev.genuine),
                         (say(request, "impostor (Y=1)", "冒充配对（Y=1）"), ev.impostor)):
        counts, _ = np.histogram(values, edges)
        frames.append(pd.DataFrame({"energy E_W": centres, "fraction of pairs": counts / len(values),
                                    "pairs": kind}))
    return pd.concat(frames, ignore_index=True)


def _roc_frame(learned: siamese.Roc, pixels: siamese.Roc, request=None) -> pd.DataFrame:
    frames = []
    for name, curve in ((say(request, "learned E_W", "学到的 E_W"), learned),
                        (say(request, "raw-pixel L1", "原始像素 L1"), pixels)):
        keep = np.unique(np.linspace(0, len(curve.far) - 1, MAX_CURVE_POINTS).round().astype(int))
        frames.append(pd.DataFrame({"false accept rate": curve.far[keep],
                                    "genuine accept rate": 1 - curve.frr[keep], "metric": name}))
    return pd.concat(frames, ignore_index=True)


def _rates_text(ev: siamese.Evaluation, threshold: float, request=None) -> str:
    far, frr = ev.roc.at(threshold)
    return say(request,
               f"**Threshold {threshold:.2f}** (accept a pair when E_W ≤ threshold): false accept rate "
               f"**{far:.1%}** of impostor pairs, false reject rate **{frr:.1%}** of genuine pairs. "
               f"Equal error rate **{ev.roc.eer:.3f}** at threshold {ev.roc.eer_threshold:.2f}.",
               f"**阈值 {threshold:.2f}**（E_W ≤ 阈值时接受这一对）：错误接受率 **{far:.1%}**（冒充配对中），"
               f"错误拒绝率 **{frr:.1%}**（真配对中）。等错误率 **{ev.roc.eer:.3f}**，对应阈值 {ev.roc.eer_threshold:.2f}。")


def _describe(data: siamese.VerificationData, request=None) -> str:
    """data.describe() in the visitor's language."""
    seen = sorted(set(data.train_labels.tolist()))
    unseen = sorted(set(data.heldout_labels.tolist()))
    if data.config.input_hw == siamese.FACE_HW:  # labels are people 0..39
        name, unit = f"ORL 人脸：第 {seen[0] + 1}–{seen[-1] + 1} 人 → 第 {unseen[0] + 1}–{unseen[-1] + 1} 人", "个人"
    else:
        name, unit = f"数字 {seen} → {unseen}", "个类别"
    return say(request, data.describe(),
               f"{name}：在 {len(seen)} {unit}（{len(data.train_labels)} 张图像）上训练，"
               f"在 {len(unseen)} {unit.replace('个', '个没见过的')}（{len(data.heldout_labels)} 张图像）上验证")


def _result_values(state: dict | None, request=None):
    """(histograms, ROC, slider maximum, threshold, rates) of the current model on the held-out set."""
    _, data, _, ev, key = _current(state)
    threshold = round(ev.roc.eer_threshold, 2)
    top = round(float(max(ev.genuine.max(), ev.impostor.max())), 2)
    pixels = _baseline(*key[:2])
    text = say(request,
               f"Held-out set: {_describe(data)}. Equal error rate: learned E_W **{ev.roc.eer:.3f}**, "
               f"raw-pixel L1 {pixels.eer:.3f}.",
               f"留出集：{_describe(data, request)}。等错误率：学到的 E_W **{ev.roc.eer:.3f}**，原始像素 L1 {pixels.eer:.3f}。")
    text += "\n\n" + _rates_text(ev, threshold, request)
    return _histogram_frame(ev, request), _roc_frame(ev.roc, pixels, request), top, threshold, text


def _results(state: dict | None, request=None):
    hist, roc, top, threshold, text = _result_values(state, request)
    return hist, roc, gr.update(maximum=top, value=threshold), text


# --------------------------------------------------------------------------- handlers
def _shipped_embedding(request=None):
    """Initial 2-D view: the held-out classes under the shipped checkpoint."""
    try:
        _, data, _, ev, _ = _current(None)
    except WeightsUnavailable:
        return None
    return _embedding_frame(ev.embeddings, data, request)


@gpu(duration=60)
def _shipped_view(request: gr.Request = None):
    """Page-load values from the shipped checkpoint (computed on the first visit, then cached):
    embedding, energy histograms, ROC, threshold slider, rates."""
    try:
        hist, roc, top, threshold, text = _result_values(None, request)
    except WeightsUnavailable:
        return None, None, None, gr.update(), ""
    return _shipped_embedding(request), hist, roc, gr.update(maximum=top, value=threshold), text


@gpu(budget=("budget_s", GPU_BUDGET_S[1]))
@friendly_errors
def train(dataset, train_digits, loss, budget_s, seed, state, request: gr.Request = None):
    """Stream (status, loss plot, embedding plot, held-out EER vs step, histograms, ROC, slider,
    rates, state)."""
    digits_key = () if dataset == FACES else tuple(sorted({int(d) for d in train_digits or []}))
    if dataset != FACES and not 2 <= len(digits_key) <= siamese.DIGIT_CLASSES - 2:
        raise gr.Error(say(request, "Pick at least two digit classes to train on and leave at least two out "
                                    "(verification needs genuine and impostor pairs of unseen classes).",
                           "请至少选两个数字类别来训练，并至少留出两个（验证需要没见过的类别的真配对和冒充配对）。"))
    key = (dataset, digits_key, loss)
    data = _data(*key[:2])
    budget_s = min(float(budget_s), budget(cpu=BUDGET_S, gpu=GPU_BUDGET_S)[1])  # bounded, also via the API
    with seeded_init(int(seed)):  # this request's weights; the process's RNG is left as it was
        model = siamese.SiameseNet(data.config)
    model = model.to(get_device())
    history, unchanged, eers = [], (gr.skip(),) * 5, []
    untrained, pixels = siamese.evaluate(model, data, loss).roc.eer, _baseline(*key[:2]).eer  # the two bars
    for progress in siamese.fit(model, data, loss=loss, budget_s=budget_s, seed=int(seed)):
        history.append(progress)
        status = say(request, f"Training on {data.describe()}: step {progress.step}, loss {progress.loss:.3f}, "
                              f"{progress.seconds:.0f} / {budget_s:.0f} s",
                     f"正在训练（{_describe(data, request)}）：第 {progress.step} 步，损失 {progress.loss:.3f}，"
                     f"{progress.seconds:.0f} / {budget_s:.0f} 秒")
        if not progress.done:
            embeddings = siamese.embed(model, data.heldout_images)
            eer = siamese.roc(*siamese.all_pair_energies(embeddings, data.heldout_labels, siamese.norm_of(loss))).eer
            eers.append((progress.step, eer))
            yield (status, _loss_frame(history), _embedding_frame(embeddings, data, request),
                   _eer_frame(eers, untrained, pixels, request)) + unchanged
    ev = siamese.evaluate(model, data, loss)
    eers.append((history[-1].step, ev.roc.eer))
    state = {"key": key, "weights": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
             "evaluation": ev}
    steps, seconds = history[-1].step, history[-1].seconds
    done = say(request,
               f"Trained for {steps} steps ({seconds:.0f} s). Held-out equal error rate **{ev.roc.eer:.3f}** "
               f"(raw pixels: {pixels:.3f}). Verification below now uses this model.",
               f"训练了 {steps} 步（{seconds:.0f} 秒）。留出集上的等错误率 **{ev.roc.eer:.3f}**"
               f"（原始像素：{pixels:.3f}）。下面的验证现在使用这个模型。")
    yield (done, _loss_frame(history), _embedding_frame(ev.embeddings, data, request),
           _eer_frame(eers, untrained, pixels, request)) + _results(state, request) + (state,)


@gpu(duration=20)
@friendly_errors
def move_threshold(threshold, state, request: gr.Request = None):
    return _rates_text(_current(state)[3], float(threshold), request)


@gpu(duration=20)
@friendly_errors
def random_pair(state, genuine: bool):
    """Two held-out images (of one class when `genuine`), enlarged for display."""
    return _pair(_current(state)[1], genuine, np.random.default_rng())


OPENING_PAIR_SEED = 0  # the held-out pair the tab opens on


@gpu(duration=20)
@friendly_errors
def opening_pair(request: gr.Request = None):
    """What the Verify section opens on: a fixed genuine pair of held-out digits, verified by the
    shipped checkpoint at its equal-error threshold (the threshold slider's opening value)."""
    try:
        ev = _shipped_evaluation()
    except WeightsUnavailable:
        return None, None, "", None, None, None
    a, b = _pair(_current(None)[1], True, np.random.default_rng(OPENING_PAIR_SEED))
    return (a, b, *_verify(a, b, round(ev.roc.eer_threshold, 2), None, request))


def _pair_indices(data: siamese.VerificationData, genuine: bool, rng: np.random.Generator) -> tuple[int, int]:
    """Two held-out images (of one class when `genuine`), as indices into data.heldout_images."""
    labels = data.heldout_labels.numpy()
    first = int(rng.integers(len(labels)))
    pool = np.flatnonzero((labels == labels[first]) if genuine else (labels != labels[first]))
    pool = pool[pool != first]
    return first, int(rng.choice(pool))


def _pair(data: siamese.VerificationData, genuine: bool, rng: np.random.Generator):
    return tuple(_display(data.heldout_images[i]) for i in _pair_indices(data, genuine, rng))


def _display(image: torch.Tensor) -> np.ndarray:  # (1, H, W) in [0, 1] -> (h, w) uint8, enlarged
    scale = max(1, PREVIEW_SIDE // image.shape[-1])
    big = image[0].repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return (big.numpy() * 255 + 0.5).astype(np.uint8)


@gpu(duration=20)
@friendly_errors
def verify(image_a, image_b, threshold, state, request: gr.Request = None):
    """Energy of the two images under the current model, and the verdict at `threshold`."""
    return _verify(image_a, image_b, threshold, state, request)


def pair_energy(image_a, image_b, state, request=None) -> tuple[float, list[torch.Tensor]]:
    """E_W of two images as Verify computes it, and the model inputs it computed it from. A
    held-out image as the tab shows it goes back to exactly the tensor the evaluation used."""
    model, data, loss, _, _ = _current(state)
    try:
        inputs = [siamese.to_model_input(read_image(img).rgb, data.config) for img in (image_a, image_b)]
    except gr.Error:  # read_image's message (gr.Error is a ValueError too)
        raise
    except ValueError:  # an image without ink
        raise gr.Error(say(request, "The digit image is empty: draw or upload a digit.",
                           "数字图像是空的：请画一个或上传一个数字。")) from None
    return siamese.pair_energy(model, *inputs, loss=loss), inputs


def _verify(image_a, image_b, threshold, state, request=None):
    dataset = state["key"][0] if state else default_dataset()
    faces = dataset == FACES
    e_w, inputs = pair_energy(image_a, image_b, state, request)
    same, threshold = e_w <= float(threshold), float(threshold)
    shown = [_display(x[0]) for x in inputs]
    text = say(request,
               f"E_W = **{e_w:.2f}** {'≤' if same else '>'} threshold {threshold:.2f} → "
               + (('✓ **genuine**: the same person' if same else '✗ **impostor**: different people') if faces else
                  ('✓ **genuine**: the same class' if same else '✗ **impostor**: different classes'))
               + f". (Model: {'your trained one' if state else SHIPPED_NAMES[dataset]}; "
               "inputs are shown below as the network sees them.)",
               f"E_W = **{e_w:.2f}** {'≤' if same else '>'} 阈值 {threshold:.2f} → "
               + (('✓ **真配对**：同一个人' if same else '✗ **冒充配对**：不同的人') if faces else
                  ('✓ **真配对**：同一类' if same else '✗ **冒充配对**：不同类'))
               + f"。（模型：{'你训练的模型' if state else SHIPPED_NAMES_ZH[dataset]}；下面显示的是网络看到的输入。）")
    return text, shown[0], shown[1], _loss_terms_frame(
        siamese.FACES_CONFIG if faces else siamese.DIGITS_CONFIG, _current_loss(state), e_w, request)


def _current_loss(state: dict | None) -> str:
    return state["key"][2] if state else SHIPPED_KEYS[default_dataset()][2]


def _loss_terms_frame(config: siamese.SiameseConfig, loss: str, e_w: float, request=None) -> pd.DataFrame:
    """L_G and L_I against E_W, and a vertical line at this pair's E_W."""
    e, genuine, impostor = siamese.loss_terms(config, loss, upto=1.1 * e_w)
    top = float(max(genuine.max(), impostor.max()))
    frames = [pd.DataFrame({"E_W": e, "loss": values, "curve": name}) for name, values in (
        (say(request, "L_G: genuine pair (Y=0)", "L_G：真配对（Y=0）"), genuine),
        (say(request, "L_I: impostor pair (Y=1)", "L_I：冒充配对（Y=1）"), impostor))]
    frames.append(pd.DataFrame({"E_W": [e_w, e_w], "loss": [0.0, top], "curve": say(request, "this pair", "这一对")}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    gr.Markdown(localized(honest_note(), honest_note_zh()))
    state = gr.State(None)
    datasets = ([FACES] if siamese.faces_available() else []) + [DIGITS]
    opening = default_dataset()  # the data set the tab opens on
    opening_config = siamese.FACES_CONFIG if opening == FACES else siamese.DIGITS_CONFIG
    with gr.Row():
        with gr.Column(scale=1):
            dataset = gr.Radio([(t(name), name) for name in datasets], value=opening, label=t("Data"),
                               info=None if FACES in datasets else t(NO_FACES))
            train_digits = gr.CheckboxGroup([str(d) for d in range(10)], value=[str(d) for d in range(7)],
                                            label=t("Digit classes to train on (the others are held out)"))
            loss = gr.Radio([(t(text), key) for text, key in LOSS_CHOICES], value=SHIPPED_KEYS[opening][2],
                            label=t("Loss"))
            low, high, default = budget(cpu=BUDGET_S, gpu=GPU_BUDGET_S)
            gpu_allows = (f"budgets up to {GPU_BUDGET_S[1]} s (default {GPU_BUDGET_S[2]} s)",
                          f"最长 {GPU_BUDGET_S[1]} 秒的训练预算（默认 {GPU_BUDGET_S[2]} 秒）")
            budget_s = gr.Slider(low, high, value=default, step=1, label=t("Training budget (seconds)"),
                                 info=localized(device_note(gpu_allows[0]), device_note_zh(gpu_allows[1])))
            seed = gr.Number(0, precision=0, label=t("Seed"))
            with gr.Row():
                train_btn = gr.Button(t("Train"), variant="primary")
                stop_btn = gr.Button(t("Stop"))
        with gr.Column(scale=2):
            status = gr.Markdown(t(SHOWING_SHIPPED[opening]))
            with gr.Row():
                loss_plot = gr.LinePlot(x="step", y="loss", title=t("Training loss"), height=260,
                                        visible=False)  # shown on Train, by show_loss_plot
                eer_plot = gr.LinePlot(x="step", y="EER", color="metric", height=260, visible=False,
                                       title=t("Equal error rate on the held-out classes while training"))
                embed_plot = gr.ScatterPlot(x="PC 1", y="PC 2", color="class", height=260, color_title=t("class"),
                                            title=t("Held-out classes in G_W's space (2 principal components)"))
    with gr.Row():
        hist_plot = gr.LinePlot(x="energy E_W", y="fraction of pairs", color="pairs", height=280,
                                x_title=t("energy E_W"), y_title=t("fraction of pairs"), color_title=t("pairs"),
                                title=t("Energies of held-out pairs"))
        roc_plot = gr.LinePlot(x="false accept rate", y="genuine accept rate", color="metric", height=280,
                               x_title=t("false accept rate"), y_title=t("genuine accept rate"),
                               color_title=t("metric"),
                               title=t("ROC on held-out classes (accept when E_W ≤ threshold)"))
    threshold = gr.Slider(0, siamese.max_energy(opening_config, SHIPPED_KEYS[opening][2]),
                          step=0.01, label=t("Decision threshold on E_W"))
    rates = gr.Markdown()
    on_tab_open(_shipped_view, [embed_plot, hist_plot, roc_plot, threshold, rates])
    gr.Markdown(t(VERIFY_INTRO))
    with gr.Row():
        image_a = gr.ImageEditor(label=t("Image 1"), type="numpy", sources=["upload", "clipboard"], height=260)
        image_b = gr.ImageEditor(label=t("Image 2"), type="numpy", sources=["upload", "clipboard"], height=260)
        with gr.Column():
            genuine_btn = gr.Button(t("Random genuine pair"))
            impostor_btn = gr.Button(t("Random impostor pair"))
            verify_btn = gr.Button(t("Verify"), variant="primary")
    verdict = gr.Markdown()
    with gr.Row():
        seen_a = gr.Image(label=t("Image 1 as the network sees it"), height=140, interactive=False)
        seen_b = gr.Image(label=t("Image 2 as the network sees it"), height=140, interactive=False)
        terms_plot = gr.LinePlot(x="E_W", y="loss", color="curve", height=220, x_title=t("energy E_W"),
                                 y_title=t("loss"), color_title=t("curve"),
                                 title=t("The loss's two halves against E_W, this pair marked"))
    on_tab_open(opening_pair, [image_a, image_b, verdict, seen_a, seen_b, terms_plot])  # a held-out pair, verified
    checkpoint = siamese.FACES_CHECKPOINT if opening == FACES else siamese.DIGITS_CHECKPOINT
    gr.Markdown(localized(weights_note(checkpoint, adds=ADDS), weights_note_zh(checkpoint, adds=ADDS_ZH)))

    result_outputs = [hist_plot, roc_plot, threshold, rates]
    run = train_btn.click(train, [dataset, train_digits, loss, budget_s, seed, state],
                          [status, loss_plot, embed_plot, eer_plot] + result_outputs + [state],
                          api_name=f"{SLUG}_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    train_btn.click(show_loss_plot, None, [loss_plot, eer_plot], queue=False, api_visibility="private")
    stop_btn.click(None, None, None, cancels=[run], api_visibility="private")
    dataset.change(default_loss, dataset, loss, queue=False, api_visibility="private")
    threshold.release(move_threshold, [threshold, state], rates, api_name=f"{SLUG}_threshold")
    genuine_btn.click(functools.partial(random_pair, genuine=True), state, [image_a, image_b],
                      api_name=f"{SLUG}_genuine_pair")
    impostor_btn.click(functools.partial(random_pair, genuine=False), state, [image_a, image_b],
                       api_name=f"{SLUG}_impostor_pair")
    verify_btn.click(verify, [image_a, image_b, threshold, state], [verdict, seen_a, seen_b, terms_plot],
                     api_name=f"{SLUG}_verify")


def default_loss(dataset: str) -> str:
    """The loss a data set's recipe (and its shipped checkpoint) trains with: the Loss radio follows the data."""
    return SHIPPED_KEYS[dataset][2]


def show_loss_plot(request: gr.Request = None):
    """The loss and held-out EER plots, hidden until the first Train (they have nothing to show
    before), with their axes named in the visitor's language (a component hidden at load does not
    get its t() values)."""
    step = say(request, "step", "步数")
    return (gr.update(visible=True, x_title=step, y_title=say(request, "loss", "损失")),
            gr.update(visible=True, x_title=step, color_title=say(request, "metric", "度量")))


NO_FACES = "ORL faces: not installed (set GALLERY_ORL_DIR, see the paper module)."
SHOWING_SHIPPED = {
    FACES: f"Showing the shipped checkpoint ({siamese.FACE_ENSEMBLE} G_W trained on ORL people 1–30 from different "
           "seeds, used as one; contrastive loss) on the 10 people it never saw. Press **Train** to train your own "
           "(one G_W).",
    DIGITS: "Showing the shipped checkpoint (digits 0–6, the paper's loss). Press **Train** to train your own."}
SHIPPED_NAMES = {FACES: f"the shipped ORL faces checkpoint, {siamese.FACE_ENSEMBLE} G_W as one, people 1–30",
                 DIGITS: "the shipped digits 0–6 checkpoint"}
SHIPPED_NAMES_ZH = {FACES: f"随附的 ORL 人脸检查点（{siamese.FACE_ENSEMBLE} 个 G_W 当作一个，第 1–30 人）",
                    DIGITS: "随附的数字 0–6 检查点"}
VERIFY_INTRO = ("### Verify two images\nPick a held-out pair, or upload your own: a face photo (ORL faces), "
                "or a digit drawn as dark ink on white (digits).")
ADDS = "verification before any training"
ADDS_ZH = "无需训练即可验证"


def bench_default():
    """Verify one held-out pair with the shipped checkpoint (the tab's main inference)."""
    a, b = random_pair(None, genuine=True)
    return verify(a, b, _shipped_evaluation().roc.eer_threshold, None)


ZH = {
    INTRO: INTRO_ZH,
    DIGITS: "数字",
    FACES: "ORL 人脸",
    "Data": "数据",
    NO_FACES: "ORL 人脸：未安装（请设置 GALLERY_ORL_DIR，见论文模块）。",
    "Digit classes to train on (the others are held out)": "用来训练的数字类别（其余的留出）",
    siamese.LOSSES["chopra2005"]: "Chopra 等 2005（L1 能量，冒充配对用指数损失）",
    siamese.LOSSES["contrastive"]: "Hadsell 等 2006 对比损失（L2 距离，间隔）",
    "Loss": "损失函数",
    "Training budget (seconds)": "训练预算（秒）",
    "Seed": "随机种子",
    "Train": "训练",
    "Stop": "停止",
    SHOWING_SHIPPED[FACES]: f"正在显示随附的检查点（在 ORL 第 1–30 人上用不同随机种子训练的 {siamese.FACE_ENSEMBLE} 个 G_W，"
                            "当作一个使用；对比损失）在它从没见过的 10 个人上的表现。按**训练**可以训练你自己的模型（单个 G_W）。",
    SHOWING_SHIPPED[DIGITS]: "正在显示随附的检查点（数字 0–6，论文的损失函数）。按**训练**可以训练你自己的模型。",
    "Training loss": "训练损失",
    "Equal error rate on the held-out classes while training": "训练过程中留出类别上的等错误率",
    "class": "类别",
    "Held-out classes in G_W's space (2 principal components)": "留出类别在 G_W 空间中的分布（前 2 个主成分）",
    "energy E_W": "能量 E_W",
    "fraction of pairs": "配对所占比例",
    "pairs": "配对",
    "Energies of held-out pairs": "留出配对的能量",
    "false accept rate": "错误接受率",
    "genuine accept rate": "真配对接受率",
    "metric": "度量",
    "ROC on held-out classes (accept when E_W ≤ threshold)": "留出类别上的 ROC（E_W ≤ 阈值时接受）",
    "Decision threshold on E_W": "E_W 的判定阈值",
    VERIFY_INTRO: "### 验证两张图像\n挑一对留出的图像，或上传你自己的：一张人脸照片（ORL 人脸），或一个白底黑字的数字（数字）。",
    "Image 1": "图像 1",
    "Image 2": "图像 2",
    "Random genuine pair": "随机真配对",
    "Random impostor pair": "随机冒充配对",
    "Verify": "验证",
    "Image 1 as the network sees it": "网络看到的图像 1",
    "loss": "损失",
    "curve": "曲线",
    "The loss's two halves against E_W, this pair marked": "损失的两半随 E_W 的变化（标出了这一对）",
    "Image 2 as the network sees it": "网络看到的图像 2",
}
