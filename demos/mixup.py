"""mixup (Zhang et al. 2018): ERM vs mixup side by side, trained live on a CPU.

The tab opens on results trained once ahead of time at its defaults (remade by
`python -m demos.mixup`): the toy comparison (demos/assets/mixup_toy_*.png, mixup_toy.json), the
§3.4 memorisation curve (mixup_curve.json) and Fig. 2 in-between training points
(mixup_between.json); training takes seconds to a minute, too long to run whenever the tab is
opened. The α sweep is read from results/mixup.json."""
from __future__ import annotations

import contextlib
import functools
import json
import math
import time

import gradio as gr
import numpy as np
import pandas as pd

from demos.common import (ASSETS, comparison_table_zh, device_note_zh, example_paths, friendly_errors, header,
                          heavy_id, on_tab_open, read_image)
from demos.common import cjk_markdown
from demos.i18n import localized, say, t
from papers import mixup
from papers.results import comparison_table, setting
from papers.results import claim as stored_claim
from papers.checkpoints import budget, gpu
from demos.common import device_note

SLUG = "mixup"
TITLE = "mixup"
PAPER_URL = "https://arxiv.org/abs/1710.09412"
_CLAIM_IDS = ["memorised_flipped_labels_moons", "memorised_flipped_labels_circles", "noisy_test_error_moons",
              "noisy_test_error_circles", "memorised_flipped_labels_moons_tab", "clean_test_error_moons",
              "digits_test_error", "digits_ece"]
INTRO = f"""Train on **mixtures** of examples: x̃ = λ·x_i + (1 − λ)·x_j and
ỹ = λ·y_i + (1 − λ)·y_j, with λ ~ Beta(α, α) and pairs drawn within a shuffled minibatch.
Below, the same small network is trained with plain ERM and with mixup from the same
initialisation on the same batches (the paper's Fig. 1b), then compared on accuracy,
calibration (ECE, lower is better) and memorisation of corrupted labels (§3.4).
At this tiny scale the differences vary with the seed; try several. Measured over seeds
(`python -m papers.reproduce mixup`; mixup first, ERM beside it, the paper's figure last):

{comparison_table(SLUG, _CLAIM_IDS)}

With corrupted labels and long training, mixup fits fewer of them and generalises better — the
paper's §3.4 claim (watch it happen in the memorisation curve below). At the 500 steps the Fig. 1(b)
section trains, ERM has not yet fitted many flipped labels.
Without label noise ERM is as good or better here, and mixup's soft targets make a small network
*under*-confident, so its calibration is worse — unlike the paper's large networks."""

_FLIP = "30% 的训练标签被翻转、训练很久"
_MLP = "MLP 2-64-64-2，{steps} 步 Adam、批大小 64，300 个训练点"
_MEMORISED = "训练好的模型仍输出被翻转标签的比例（记忆程度，越低越好）"
_CLAIMS_ZH = {
    "memorised_flipped_labels_moons": f"moons，{_FLIP}：mixup 记住的翻转标签比 ERM 少（§3.4；{_MLP.format(steps=3000)}）（{_MEMORISED}）",
    "memorised_flipped_labels_circles": f"circles，{_FLIP}：mixup 记住的翻转标签比 ERM 少（§3.4；{_MLP.format(steps=3000)}）（{_MEMORISED}）",
    "noisy_test_error_moons": f"moons，{_FLIP}：同样两个模型的测试错误率（{_MLP.format(steps=3000)}）（% 测试错误率，1,000 个干净的测试点）",
    "noisy_test_error_circles": f"circles，{_FLIP}：同样两个模型的测试错误率（{_MLP.format(steps=3000)}）（% 测试错误率，1,000 个干净的测试点）",
    "memorised_flipped_labels_moons_tab": f"moons，30% 的训练标签被翻转，按本页的训练量（{_MLP.format(steps=500)}）："
                                          f"ERM 还没来得及记住多少翻转标签，所以差别很小（{_MEMORISED}）",
    "clean_test_error_moons": f"moons，标签干净：ERM 与 mixup 的测试错误率（{_MLP.format(steps=500)}）（% 测试错误率，1,000 个测试点）",
    "digits_test_error": "scikit-learn 手写数字（1,348 训练 / 449 测试）：ERM 与 mixup 的测试错误率（MLP 784-256-10，600 步 Adam）（% 测试错误率）",
    "digits_ece": "scikit-learn 手写数字：同样两个模型的期望校准误差（MLP 784-256-10，600 步 Adam）（ECE，15 个等宽置信度区间，越低越好）",
}
INTRO_ZH = f"""用样本的**混合**来训练：x̃ = λ·x_i + (1 − λ)·x_j，
ỹ = λ·y_i + (1 − λ)·y_j，其中 λ ~ Beta(α, α)，配对在打乱后的小批量内抽取。
下面用同一个小网络、同样的初始化和同样的批次，分别做普通 ERM 和 mixup 训练（论文图 1b），
再比较准确率、校准程度（ECE，越低越好）以及对错误标签的记忆（§3.4）。
在这么小的规模上，差别会随随机种子变化，可以多试几个。多个随机种子的测量结果
（`python -m papers.reproduce mixup`；先列 mixup，旁边是 ERM，最后是论文的数字）：

{comparison_table_zh(SLUG, _CLAIM_IDS, _CLAIMS_ZH)}

标签有噪声、训练时间又长时，mixup 记住的错误标签更少，泛化也更好——这正是论文 §3.4 的结论。
（下面的记忆曲线可以现场观察这一过程。）图 1(b) 部分只训练 500 步，此时 ERM 还没记住多少翻转标签。没有标签噪声时，这里 ERM 一样好甚至更好；
而 mixup 的软标签会让小网络*信心不足*，校准反而更差——这与论文中的大网络不同。"""

_CLAIMS_ZH.update({
    "between_grad_norm_moons": "moons，标签干净：在训练点之间，mixup 的损失对输入的梯度更小（图 2b；500 对随机训练点 (x_i, x_j)，"
                               "x̃ = λ·x_i + (1 − λ)·x_j，λ 取 0.025 到 0.975 之间的 20 个值；"
                               f"{_MLP.format(steps=1000)}）（对所有配对和 λ 平均的 ‖∇x̃ ℓ(f(x̃), ỹ)‖，ℓ 为对混合标签 ỹ 的交叉熵；越低越平滑）",
    "between_miss_moons": "moons，标签干净：在训练点之间，mixup 更常预测出混合标签（图 2a；同样的配对和 λ；"
                          f"{_MLP.format(steps=1000)}）（预测不是 ỹ 中权重较大那一类的混合点所占百分比，即未命中；越低越好）",
    "alpha_sweep_test_error_moons": f"moons，{_FLIP}：测试错误率随 α 的变化（{_MLP.format(steps=3000)}）"
                                    "（% 测试错误率，1,000 个干净的测试点）",
    "alpha_sweep_memorised_moons": f"moons，{_FLIP}：记住的翻转标签随 α 的变化（{_MLP.format(steps=3000)}）（{_MEMORISED}）",
})
BETWEEN_CLAIMS = ["between_grad_norm_moons", "between_miss_moons"]
CURVE_INTRO = f"""The paper (§3.4, Table 2) replaces part of CIFAR-10's labels with random ones: ERM's test error
at the last epoch ends far above its best, because the network goes on to memorise the corrupted
labels; mixup's does not. Here a fraction of a 2-D toy set's training labels is flipped, and ERM
and mixup train from the same initialisation on the same batches for {mixup.LONG_STEPS} steps (the
budget of the §3.4 claims above). Left: the share of the flipped labels each network reproduces —
ERM's climbs as it memorises them; right: its error on the labels left unflipped."""
CURVE_INTRO_ZH = f"""论文（§3.4，表 2）把 CIFAR-10 的部分标签换成随机标签：ERM 在最后一个 epoch 的测试错误率远高于它的最佳值，
因为网络会继续记住这些错误标签；mixup 则不会。这里把二维玩具数据的一部分训练标签翻转，ERM 和 mixup
从同样的初始化、在同样的批次上训练 {mixup.LONG_STEPS} 步（与上面 §3.4 结论的训练量相同）。
左：每个网络仍输出的翻转标签所占比例——ERM 的曲线随着它记住这些标签而上升；右：它在未翻转标签上的错误率。"""
BETWEEN_INTRO = """The paper's Fig. 2 evaluates models at x̃ = λ·x_i + (1 − λ)·x_j between random pairs of training
points: mixup (a) misses the mixed label less often and (b) has smaller gradients of the loss with
respect to the input there — it behaves more linearly in-between examples. Here the same on a 2-D
toy (clean labels): a miss is a prediction other than the class with the larger weight in ỹ (the
paper counts a miss when the prediction is neither y_i nor y_j, which two classes never allow);
the gradient is that of the cross-entropy against ỹ. Measured over seeds:"""
BETWEEN_INTRO_ZH = """论文图 2 在随机训练点对之间的 x̃ = λ·x_i + (1 − λ)·x_j 处评估模型：mixup (a) 更少错过混合标签，
(b) 损失对输入的梯度更小——它在样本之间的行为更接近线性。这里在二维玩具数据（标签干净）上做同样的事：
预测不是 ỹ 中权重较大的那一类即算未命中（论文在预测既不是 y_i 也不是 y_j 时算未命中，两类问题中不会发生）；
梯度是对 ỹ 的交叉熵的梯度。多个随机种子的测量结果："""
SWEEP_INTRO = f"""α sets how strongly pairs are mixed: λ ~ Beta(α, α) lies near 0 or 1 for small α, is uniform
for α = 1 and concentrates near 0.5 for large α. The paper gives no single best α: on ImageNet
(§3.1) α ∈ [0.1, 0.4] improves on ERM while larger α underfits; on CIFAR it uses α = 1; against
corrupted labels (§3.4, Table 2) it tries α ∈ {{1, 2, 8, 32}} and its best results use the large
ones. Below: moons with {setting("30 %")} of the training labels flipped, {mixup.LONG_STEPS} steps, the same
seeds for every α (`python -m papers.reproduce mixup`). Here the share of flipped labels memorised
falls as α grows, and every α > 0 has a lower test error than ERM, with little difference between
α = 0.4 and 8: against label noise larger α helps, as in §3.4; the underfitting the paper reports
for large α on ImageNet does not show on this toy."""
SWEEP_INTRO_ZH = f"""α 决定配对混合的强度：λ ~ Beta(α, α)，α 小时 λ 靠近 0 或 1，α = 1 时均匀分布，α 大时集中在 0.5 附近。
论文没有给出唯一最好的 α：在 ImageNet 上（§3.1），α ∈ [0.1, 0.4] 优于 ERM，更大的 α 会欠拟合；
在 CIFAR 上用 α = 1；面对错误标签（§3.4，表 2）试了 α ∈ {{1, 2, 8, 32}}，最好的结果来自较大的 α。
下面：moons，{setting("30 %")} 的训练标签被翻转，训练 {mixup.LONG_STEPS} 步，每个 α 用同样的随机种子
（`python -m papers.reproduce mixup`）。这里记住的翻转标签比例随 α 增大而下降，每个 α > 0 的测试错误率都低于 ERM，
α 从 0.4 到 8 差别不大：面对标签噪声，较大的 α 有帮助，与 §3.4 一致；论文在 ImageNet 上看到的大 α 欠拟合在这个玩具问题上没有出现。"""

TOY_MESSAGE = "Press **Train ERM and mixup**: two small networks train side by side for a few seconds."
TOY_DEFAULTS = dict(dataset="moons", label_noise=0.0, alpha=1.0, seed=0)  # what the tab opens on
TOY_ASSETS = {"erm": ASSETS / "mixup_toy_erm.png", "mixup": ASSETS / "mixup_toy_mixup.png",
              "results": ASSETS / "mixup_toy.json"}
EXAMPLES = {"cat": "chelsea.jpg", "coffee": "coffee.jpg"}  # label -> shipped example image
INITIAL_LAMBDA = 0.7
MAX_SEEDS, MAX_BUDGET_S = 5, 120  # digits comparison
DIGIT_STEPS = {"cpu": 600, "gpu": 3000}  # training steps per digits run (the GPU trains 5x longer)
DIGIT_BUDGET_S = {"cpu": 30, "gpu": 60}  # the default time budget
STREAM_EVERY = 100  # steps between live updates of the decision surfaces
LIVE_RESOLUTION = 120  # grid points per side while training; the final surface is finer
FINAL_RESOLUTION = 180
DISPLAY_SIDE = 360
MEMORISED_HELP = "share of the flipped training labels the model reproduces (lower = less memorisation)"
MEMORISED_HELP_ZH = "模型仍然输出的翻转训练标签所占比例（越低 = 记忆越少）"


# --------------------------------------------------------------------------- toy (Fig. 1b)
def _toy_table(results: list[mixup.ToyResult], label_noise: float, request=None) -> str:
    rows = [say(request, "| | train acc. (labels as given) | test acc. | test ECE | memorised flipped labels |",
                "| | 训练准确率（按给定标签） | 测试准确率 | 测试 ECE | 记住的翻转标签 |"),
            "|---|---|---|---|---|"]
    for r in results:
        memorised = "–" if math.isnan(r.corrupted_fit) else f"{r.corrupted_fit:.1%}"
        rows.append(f"| **{r.name}** | {r.train_acc:.1%} | {r.test_acc:.1%} | {r.test_ece:.3f} | {memorised} |")
    note = say(request, f"\n\n{label_noise:.0%} of the training labels were flipped (crosses in the plots); "
                        f"*memorised*: {MEMORISED_HELP}.",
               f"\n\n{label_noise:.0%} 的训练标签被翻转（图中的叉）；*记住的*：{MEMORISED_HELP_ZH}。"
               ) if label_noise > 0 else ""
    return "\n".join(rows) + note + say(request, "\n\nShading: the predicted probability of the orange class.",
                                         "\n\n底色：模型预测为橙色类的概率。")


@gpu(duration=120)
@friendly_errors
def train_toy(dataset, label_noise, alpha, seed, request: gr.Request = None):
    """Train ERM and mixup(α) side by side, step for step; stream both decision surfaces."""
    if float(alpha) <= 0:
        raise gr.Error(say(request, "α = 0 means no mixing (that is ERM): choose α > 0.",
                           "α = 0 表示不混合（那就是 ERM）：请选 α > 0。"))
    seed = int(seed) % 2**31  # any number the API sends is a valid seed (scikit-learn's too)
    data = mixup.toy_data(dataset, label_noise=float(label_noise), seed=seed)
    alphas = (0.0, float(alpha))
    models = [mixup.toy_model(int(seed)) for _ in alphas]
    runs = [mixup.toy_steps(model, data, a, seed=int(seed)) for model, a in zip(models, alphas)]
    for step, _ in zip(*runs, strict=True):  # strict: both generators run to their end (model.eval())
        if step % STREAM_EVERY == 0 and step < mixup.TOY_STEPS:
            yield (*(_surface(m, data, LIVE_RESOLUTION) for m in models),
                   say(request, f"Training both networks on the same batches: step {step} / {mixup.TOY_STEPS}…",
                       f"两个网络在同样的批次上训练：第 {step} / {mixup.TOY_STEPS} 步…"))
    results = [mixup.toy_result(mixup.method_name(a), m, data) for m, a in zip(models, alphas)]
    yield (*(_surface(m, data, FINAL_RESOLUTION) for m in models), _toy_table(results, float(label_noise), request))


def toy_opening(request: gr.Request = None):
    """The precomputed toy comparison (ERM surface, mixup surface, table), or the prompt to train."""
    if not all(path.is_file() for path in TOY_ASSETS.values()):
        return None, None, say(request, TOY_MESSAGE, ZH[TOY_MESSAGE])
    from PIL import Image

    saved = json.loads(TOY_ASSETS["results"].read_text())
    results = [mixup.ToyResult(model=None, **r) for r in saved["results"]]
    settings = saved["settings"]
    intro = say(request, f"Trained ahead of time at the defaults ({settings['dataset']}, α = {settings['alpha']:g}, "
                         f"seed {settings['seed']}); press **Train ERM and mixup** to train live.\n\n",
                f"按默认设置预先训练好的结果（{settings['dataset']}，α = {settings['alpha']:g}，"
                f"随机种子 {settings['seed']}）；按**训练 ERM 和 mixup** 可现场训练。\n\n")
    return (np.asarray(Image.open(TOY_ASSETS["erm"]).convert("RGB")),
            np.asarray(Image.open(TOY_ASSETS["mixup"]).convert("RGB")),
            intro + _toy_table(results, settings["label_noise"], request))


def _surface(model, data, resolution: int) -> np.ndarray:
    """The decision surface, enlarged (nearest neighbour) to DISPLAY_SIDE pixels for the page."""
    image = mixup.decision_surface(model, data, resolution)
    scale = max(1, DISPLAY_SIDE // resolution)
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


# --------------------------------------------------------------------------- memorisation over training (§3.4)
CURVE_DEFAULTS = dict(dataset="moons", label_noise=0.3, alpha=1.0, seed=0)  # what the section opens on
CURVE_STEPS = mixup.LONG_STEPS  # the long runs of the results' §3.4 claims
CURVE_EVERY = 100  # steps between measurements (and live updates)
CURVE_BUDGET_S = 60  # the run stops here on a slow machine, with what it has measured
CURVE_ASSET = ASSETS / "mixup_curve.json"
CURVE_COLUMNS = ["step", "% of flipped labels reproduced", "% error on unflipped labels", "method"]
CURVE_MESSAGE = "Press **Train and watch memorisation**: ERM and mixup train for up to a minute."


def _curve_frames(points: list[mixup.CurvePoint]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame([(p.step, 100 * p.flipped_fit, 100 * p.clean_error, p.method) for p in points],
                         columns=CURVE_COLUMNS)
    return frame[[CURVE_COLUMNS[0], CURVE_COLUMNS[1], CURVE_COLUMNS[3]]], frame[[CURVE_COLUMNS[0], CURVE_COLUMNS[2],
                                                                               CURVE_COLUMNS[3]]]


def _curve_summary(points: list[mixup.CurvePoint], label_noise: float, n_train: int, request=None) -> str:
    last = {p.method: p for p in points if p.step == points[-1].step}
    rows = [say(request, "| at step {step} | flipped labels reproduced | error on unflipped labels |",
                "| 第 {step} 步 | 仍输出的翻转标签 | 未翻转标签上的错误率 |").format(step=points[-1].step),
            "|---|---|---|"]
    rows += [f"| **{p.method}** | {p.flipped_fit:.1%} | {p.clean_error:.1%} |" for p in last.values()]
    return "\n".join(rows) + say(
        request, f"\n\n{label_noise:.0%} of the {n_train} training labels flipped. A model that ignored the "
                 "flipped labels entirely would reproduce none of them; fitting them all is memorisation.",
        f"\n\n{n_train} 个训练标签中有 {label_noise:.0%} 被翻转。完全不理会翻转标签的模型一个也不会输出；"
        "全部输出就是死记硬背。")


@gpu(duration=CURVE_BUDGET_S + 30)
@friendly_errors
def memorisation_run(dataset, label_noise, alpha, seed, request: gr.Request = None):
    """§3.4 live: ERM and mixup(α) step for step on labels with a flipped fraction; streams the
    share of flipped labels each reproduces and its error on the unflipped ones."""
    if float(alpha) <= 0:
        raise gr.Error(say(request, "α = 0 means no mixing (that is ERM): choose α > 0.",
                           "α = 0 表示不混合（那就是 ERM）：请选 α > 0。"))
    if not 0 < float(label_noise) < 0.5:
        raise gr.Error(say(request, "Flip a fraction between 0 and 0.5 of the labels (more would swap the classes).",
                           "请翻转 0 到 0.5 之间比例的标签（更多就等于交换两类）。"))
    seed = int(seed) % 2**31
    data = mixup.toy_data(dataset, label_noise=float(label_noise), seed=seed)
    began, points = time.perf_counter(), []
    with contextlib.closing(mixup.memorisation_curve(data, (0.0, float(alpha)), CURVE_STEPS, CURVE_EVERY, seed)) as run:
        for points in run:
            step = points[-1].step
            if time.perf_counter() - began > CURVE_BUDGET_S and step < CURVE_STEPS:
                yield (*_curve_frames(points), _curve_summary(points, float(label_noise), len(data.x_train), request) + say(
                    request, f"\n\nStopped at the time budget ({CURVE_BUDGET_S} s) at step {step}.",
                    f"\n\n已到时间预算（{CURVE_BUDGET_S} 秒），停在第 {step} 步。"))
                return
            status = say(request, f"Training both networks on the same batches: step {step} / {CURVE_STEPS}…",
                         f"两个网络在同样的批次上训练：第 {step} / {CURVE_STEPS} 步…")
            yield (*_curve_frames(points), status if step < CURVE_STEPS else
                   _curve_summary(points, float(label_noise), len(data.x_train), request))


def curve_opening(request: gr.Request = None):
    """The precomputed memorisation curve at CURVE_DEFAULTS, or the prompt to train."""
    if not CURVE_ASSET.is_file():
        return None, None, say(request, CURVE_MESSAGE, ZH[CURVE_MESSAGE])
    saved = json.loads(CURVE_ASSET.read_text())
    points = [mixup.CurvePoint(**p) for p in saved["points"]]
    settings = saved["settings"]
    intro = say(request, f"Trained ahead of time ({settings['dataset']}, α = {settings['alpha']:g}, seed "
                         f"{settings['seed']}); press **Train and watch memorisation** to train live.\n\n",
                f"预先训练好的结果（{settings['dataset']}，α = {settings['alpha']:g}，随机种子 {settings['seed']}）；"
                "按**训练并观察记忆**可现场训练。\n\n")
    return (*_curve_frames(points), intro + _curve_summary(points, settings["label_noise"], settings["n_train"], request))


# --------------------------------------------------------------------------- in-between training points (Fig. 2)
BETWEEN_DEFAULTS = dict(dataset="moons", seed=0)
BETWEEN_ASSET = ASSETS / "mixup_between.json"
BETWEEN_COLUMNS = ["λ", "% misses", "‖∇x̃ loss‖", "method"]


def _between_frames(results: dict[str, mixup.Between]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [(float(lam), 100 * float(miss), float(norm), method) for method, b in results.items()
            for lam, miss, norm in zip(b.lambdas, b.miss, b.grad_norm)]
    frame = pd.DataFrame(rows, columns=BETWEEN_COLUMNS)
    return frame[[BETWEEN_COLUMNS[0], BETWEEN_COLUMNS[1], BETWEEN_COLUMNS[3]]], frame[
        [BETWEEN_COLUMNS[0], BETWEEN_COLUMNS[2], BETWEEN_COLUMNS[3]]]


def _between_summary(results: dict[str, mixup.Between], request=None) -> str:
    rows = [say(request, "| | misses in-between (mean over λ) | mean ‖∇x̃ loss‖ |",
                "| | 中间点的预测错误（对 λ 取平均） | 平均 ‖∇x̃ 损失‖ |"), "|---|---|---|"]
    rows += [f"| **{method}** | {b.miss.mean():.1%} | {b.grad_norm.mean():.2f} |" for method, b in results.items()]
    return "\n".join(rows)


def _between_results(dataset: str, seed: int) -> dict[str, mixup.Between]:
    data = mixup.toy_data(dataset, seed=seed)
    results = {}
    for a in (0.0, mixup.TOY_ALPHA):
        model = mixup.train_toy(data, a, mixup.BETWEEN_STEPS, seed).model
        results[mixup.method_name(a)] = mixup.between_points(model, data.x_train, data.y_train, seed=seed)
    return results


@gpu(duration=60)
@friendly_errors
def between_run(dataset, seed, request: gr.Request = None):
    """Fig. 2: train ERM and mixup (α = 1) on clean labels, then measure misses and input-gradient
    norms along segments between random pairs of training points."""
    seed = int(seed) % 2**31
    yield None, None, say(request, f"Training ERM and mixup for {mixup.BETWEEN_STEPS} steps each…",
                          f"正在训练 ERM 和 mixup，各 {mixup.BETWEEN_STEPS} 步…")
    results = _between_results(dataset, seed)
    yield (*_between_frames(results), _between_summary(results, request))


def between_opening(request: gr.Request = None):
    if not BETWEEN_ASSET.is_file():
        return None, None, ""
    saved = json.loads(BETWEEN_ASSET.read_text())
    results = {m: mixup.Between(*(np.asarray(b[k]) for k in ("lambdas", "miss", "grad_norm")))
               for m, b in saved["results"].items()}
    settings = saved["settings"]
    intro = say(request, f"Computed ahead of time ({settings['dataset']}, seed {settings['seed']}).\n\n",
                f"预先计算的结果（{settings['dataset']}，随机种子 {settings['seed']}）。\n\n")
    return (*_between_frames(results), intro + _between_summary(results, request))


# --------------------------------------------------------------------------- the α sweep (from results/)
SWEEP_CLAIMS = {"test_error": "alpha_sweep_test_error_moons", "memorised": "alpha_sweep_memorised_moons"}
SWEEP_ORDER = [mixup.method_name(a) for a in mixup.SWEEP_ALPHAS]  # the bars in α's order


def sweep_frame(which: str) -> pd.DataFrame | None:
    """Mean over seeds per α of one sweep claim (results/mixup.json), in α's order."""
    found = stored_claim(SLUG, SWEEP_CLAIMS[which])
    if not found:
        return None
    stats = {"ours": found["ours"], **found["baselines"]}
    labels = found.get("labels") or {}
    rows = [(labels.get(key, key), stats[key]["mean"]) for key in labels if key in stats]
    return pd.DataFrame(rows, columns=["α", "%"])


def precompute() -> None:
    """Train the three opening results once and save what the tab opens on."""
    from PIL import Image

    *_, (erm, mixed, _) = train_toy(*TOY_DEFAULTS.values())
    data = mixup.toy_data(TOY_DEFAULTS["dataset"], label_noise=TOY_DEFAULTS["label_noise"], seed=TOY_DEFAULTS["seed"])
    alphas = (0.0, TOY_DEFAULTS["alpha"])  # the results again, from the same seeded run
    models = [mixup.toy_model(TOY_DEFAULTS["seed"]) for _ in alphas]
    for _ in zip(*[mixup.toy_steps(m, data, a, seed=TOY_DEFAULTS["seed"]) for m, a in zip(models, alphas)], strict=True):
        pass
    results = [mixup.toy_result(mixup.method_name(a), m, data) for m, a in zip(models, alphas)]
    Image.fromarray(erm).save(TOY_ASSETS["erm"])
    Image.fromarray(mixed).save(TOY_ASSETS["mixup"])
    fields = ("name", "train_acc", "clean_train_acc", "corrupted_fit", "test_acc", "test_ece")
    TOY_ASSETS["results"].write_text(json.dumps({"settings": TOY_DEFAULTS, "results": [
        {f: getattr(r, f) for f in fields} for r in results]}, indent=1) + "\n")
    d = CURVE_DEFAULTS
    curve_data = mixup.toy_data(d["dataset"], label_noise=d["label_noise"], seed=d["seed"])
    *_, points = mixup.memorisation_curve(curve_data, (0.0, d["alpha"]), CURVE_STEPS, CURVE_EVERY, d["seed"])
    CURVE_ASSET.write_text(json.dumps({"settings": {**d, "steps": CURVE_STEPS, "n_train": len(curve_data.x_train)}, "points": [
        vars(p) for p in points]}, indent=0) + "\n")
    between = _between_results(**BETWEEN_DEFAULTS)
    BETWEEN_ASSET.write_text(json.dumps({"settings": {**BETWEEN_DEFAULTS, "steps": mixup.BETWEEN_STEPS}, "results": {
        m: {k: np.round(getattr(b, k), 5).tolist() for k in ("lambdas", "miss", "grad_norm")}
        for m, b in between.items()}}, indent=1) + "\n")


# --------------------------------------------------------------------------- mixing two images
@friendly_errors
def mix_two(image_a, image_b, label_a, label_b, lam, request: gr.Request = None):
    """(x̃, ỹ) for two images and their labels."""
    a, b = read_image(image_a).rgb, read_image(image_b).rgb
    label_a = (label_a or say(request, "image 1", "图像 1")).strip()
    label_b = (label_b or say(request, "image 2", "图像 2")).strip()
    lam = float(lam)
    if label_a == label_b:
        return mixup.mix_images(a, b, lam), {label_a: 1.0}
    return mixup.mix_images(a, b, lam), {label_a: lam, label_b: 1 - lam}


@friendly_errors
def sample_lambda(alpha, request: gr.Request = None):
    if float(alpha) <= 0:
        raise gr.Error(say(request, "Beta(α, α) needs α > 0.", "Beta(α, α) 需要 α > 0。"))
    return round(mixup.sample_lambda(float(alpha)), 3)


EXAMPLE_NAMES_ZH = {"cat": "猫", "coffee": "咖啡"}


@functools.cache
def _initial_mix(chinese: bool = False):
    names = [EXAMPLE_NAMES_ZH[n] if chinese else n for n in EXAMPLES]
    return (*names, *mix_two(*example_paths(*EXAMPLES.values()), *names, INITIAL_LAMBDA))


def initial_mix(request: gr.Request = None):
    """What the mixing section opens on: the two examples' names in the visitor's language and their mix."""
    return _initial_mix(say(request, "en", "zh") == "zh")


# --------------------------------------------------------------------------- digits comparison
def _digits_table(comparison: mixup.DigitComparison, request=None) -> str:
    rows = [say(request, "| method | seed | test accuracy | test ECE | seconds |", "| 方法 | 随机种子 | 测试准确率 | 测试 ECE | 秒 |"),
            "|---|---|---|---|---|"]
    rows += [f"| {r.method} | {r.seed} | {r.test_acc:.2%} | {r.test_ece:.3f} | {r.seconds:.1f} |"
             for r in comparison.runs]
    accuracy = say(request, "accuracy", "准确率")
    summary = [f"**{method}**: {accuracy} {acc:.2%} ± {acc_sd:.2%}, ECE {ece:.3f} ± {ece_sd:.3f}"
               for method, (acc, acc_sd, ece, ece_sd) in comparison.summary().items()]
    return "\n".join(rows) + say(request, "\n\nMean ± std over seeds: ", "\n\n各随机种子的均值 ± 标准差：") + "; ".join(summary)


@gpu(budget=("budget_s", MAX_BUDGET_S))
@friendly_errors
def compare_digits(alpha, seeds, budget_s, request: gr.Request = None):
    if float(alpha) <= 0:
        raise gr.Error(say(request, "α = 0 means no mixing: choose α > 0 (the paper used 0.1–0.4 on ImageNet, 1 on CIFAR-10).",
                           "α = 0 表示不混合：请选 α > 0（论文在 ImageNet 上用 0.1–0.4，在 CIFAR-10 上用 1）。"))
    seeds = min(max(int(seeds), 1), MAX_SEEDS)  # bounded, also via the API
    budget_s = min(max(float(budget_s), 0.0), MAX_BUDGET_S)
    yield say(request, "Training the first network…", "正在训练第一个网络…")
    comparison = None
    for comparison in mixup.compare_on_digits(float(alpha), seeds, steps=budget(**DIGIT_STEPS), budget_s=budget_s):
        yield _digits_table(comparison, request) + say(request, "\n\n*Training…*", "\n\n*训练中…*")
    if comparison is None:
        yield say(request, "The time budget ran out before the first run finished.", "第一次训练还没完成，时间预算就用完了。")
        return
    cut_short = len(comparison.runs) < 2 * seeds
    yield _digits_table(comparison, request) + (say(request, "\n\nStopped at the time budget.",
                                                    "\n\n已到时间预算，提前停止。") if cut_short else "")


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, cjk_markdown(INTRO_ZH)))
    gr.Markdown(t("### Fig. 1(b) live: ERM vs mixup on a 2-D toy problem"))
    with gr.Row():
        dataset = gr.Dropdown([(t(name), name) for name in mixup.TOY_SETS], value="moons", label=t("Data"))
        label_noise = gr.Slider(0, 0.4, value=0.0, step=0.05, label=t("Corrupted training labels (fraction flipped)"))
        alpha = gr.Slider(0.05, 4, value=1.0, step=0.05, label=t("α (Fig. 1b uses 1)"))
        seed = gr.Number(0, precision=0, label=t("Seed"))
    with gr.Row():
        toy_btn = gr.Button(t("Train ERM and mixup"), variant="primary")
        toy_stop = gr.Button(t("Stop"))
    with gr.Row():
        erm_img = gr.Image(label=t("ERM"), interactive=False, height=320)
        mixup_img = gr.Image(label="mixup", interactive=False, height=320)
    toy_table = gr.Markdown(t(TOY_MESSAGE))
    toy_run = toy_btn.click(train_toy, [dataset, label_noise, alpha, seed], [erm_img, mixup_img, toy_table],
                            api_name=f"{SLUG}_toy", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    toy_stop.click(None, None, None, cancels=[toy_run], api_visibility="private")
    on_tab_open(toy_opening, [erm_img, mixup_img, toy_table])

    gr.Markdown(t("### §3.4 live: memorising flipped labels during training"))
    gr.Markdown(localized(CURVE_INTRO, cjk_markdown(CURVE_INTRO_ZH)))
    with gr.Row():
        curve_dataset = gr.Dropdown([(t(name), name) for name in mixup.TOY_SETS], value=CURVE_DEFAULTS["dataset"],
                                    label=t("Data"))
        curve_noise = gr.Slider(0.05, 0.45, value=CURVE_DEFAULTS["label_noise"], step=0.05,
                                label=t("Flip this fraction of the training labels"))
        curve_alpha = gr.Slider(0.05, 8, value=CURVE_DEFAULTS["alpha"], step=0.05, label=t("α for mixup"))
        curve_seed = gr.Number(CURVE_DEFAULTS["seed"], precision=0, label=t("Seed"))
    with gr.Row():
        curve_btn = gr.Button(t("Train and watch memorisation"), variant="primary")
        curve_stop = gr.Button(t("Stop"))
    with gr.Row():
        flipped_plot = gr.LinePlot(x=CURVE_COLUMNS[0], y=CURVE_COLUMNS[1], color="method", height=280,
                                   x_title=t("training step"), y_title=t("% of flipped labels reproduced"),
                                   color_title=t("method"), title=t("Flipped training labels the model reproduces"))
        clean_plot = gr.LinePlot(x=CURVE_COLUMNS[0], y=CURVE_COLUMNS[2], color="method", height=280,
                                 x_title=t("training step"), y_title=t("% error on unflipped labels"),
                                 color_title=t("method"), title=t("Error on the training labels left unflipped"))
    curve_table = gr.Markdown(t(CURVE_MESSAGE))
    curve_run = curve_btn.click(memorisation_run, [curve_dataset, curve_noise, curve_alpha, curve_seed],
                                [flipped_plot, clean_plot, curve_table], api_name=f"{SLUG}_memorisation",
                                concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    curve_stop.click(None, None, None, cancels=[curve_run], api_visibility="private")
    on_tab_open(curve_opening, [flipped_plot, clean_plot, curve_table])

    gr.Markdown(t("### Fig. 2: in-between training points"))
    gr.Markdown(localized(BETWEEN_INTRO + "\n\n" + comparison_table(SLUG, BETWEEN_CLAIMS),
                          cjk_markdown(BETWEEN_INTRO_ZH + "\n\n" + comparison_table_zh(SLUG, BETWEEN_CLAIMS,
                                                                                        _CLAIMS_ZH))))
    with gr.Row():
        between_dataset = gr.Dropdown([(t(name), name) for name in mixup.TOY_SETS],
                                      value=BETWEEN_DEFAULTS["dataset"], label=t("Data"))
        between_seed = gr.Number(BETWEEN_DEFAULTS["seed"], precision=0, label=t("Seed"))
        between_btn = gr.Button(t("Train and measure between training points"), variant="primary")
    with gr.Row():
        miss_plot = gr.LinePlot(x=BETWEEN_COLUMNS[0], y=BETWEEN_COLUMNS[1], color="method", height=280,
                                x_title="λ", y_title=t("% misses"), color_title=t("method"),
                                title=t("(a) Prediction is not the mixed label's larger class"))
        grad_plot = gr.LinePlot(x=BETWEEN_COLUMNS[0], y=BETWEEN_COLUMNS[2], color="method", height=280,
                                x_title="λ", y_title=t("‖∇x̃ loss‖"), color_title=t("method"),
                                title=t("(b) Norm of the loss's gradient w.r.t. the input"))
    between_table = gr.Markdown()
    between_btn.click(between_run, [between_dataset, between_seed], [miss_plot, grad_plot, between_table],
                      api_name=f"{SLUG}_between", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    on_tab_open(between_opening, [miss_plot, grad_plot, between_table])

    gr.Markdown(t("### How much to mix: an α sweep"))
    gr.Markdown(localized(SWEEP_INTRO + "\n\n" + comparison_table(SLUG, list(SWEEP_CLAIMS.values())),
                          cjk_markdown(SWEEP_INTRO_ZH + "\n\n" + comparison_table_zh(SLUG, list(SWEEP_CLAIMS.values()),
                                                                                      _CLAIMS_ZH))))
    with gr.Row():
        gr.BarPlot(sweep_frame("test_error"), x="α", y="%", sort=SWEEP_ORDER, y_lim=[0, None], height=260, x_title="α",
                   y_title=t("% test error"), title=t("Test error (clean test points), mean over seeds"))
        gr.BarPlot(sweep_frame("memorised"), x="α", y="%", sort=SWEEP_ORDER, y_lim=[0, None], height=260, x_title="α",
                   y_title=t("% of flipped labels reproduced"),
                   title=t("Flipped training labels memorised, mean over seeds"))

    gr.Markdown(t("### Mix two images and their labels"))
    cat, coffee = example_paths(*EXAMPLES.values())
    name_a, name_b = EXAMPLES
    with gr.Row():
        with gr.Column():
            image_a = gr.Image(cat, label="x_i", type="numpy", height=220)
            label_a = gr.Textbox(name_a, label="y_i")
        with gr.Column():
            image_b = gr.Image(coffee, label="x_j", type="numpy", height=220)
            label_b = gr.Textbox(name_b, label="y_j")
        with gr.Column():
            mixed_img = gr.Image(label="x̃ = λ·x_i + (1 − λ)·x_j", interactive=False, height=220)
            mixed_label = gr.Label(label="ỹ = λ·y_i + (1 − λ)·y_j")
            on_tab_open(initial_mix, [label_a, label_b, mixed_img, mixed_label])
    with gr.Row():
        lam = gr.Slider(0, 1, value=INITIAL_LAMBDA, step=0.01, label="λ")
        draw_alpha = gr.Slider(0.05, 4, value=0.4, step=0.05, label="α")
        draw_btn = gr.Button(t("Sample λ ~ Beta(α, α)"))
    mix_inputs = [image_a, image_b, label_a, label_b, lam]
    for trigger in (lam.change, label_a.submit, label_b.submit, image_a.change, image_b.change):
        trigger(mix_two, mix_inputs, [mixed_img, mixed_label], api_visibility="private", show_progress="hidden")
    draw_btn.click(sample_lambda, draw_alpha, lam, api_name=f"{SLUG}_sample_lambda")

    gr.Markdown(t("### ERM vs mixup on the digits (held-out accuracy and calibration, several seeds)"))
    with gr.Row():
        digits_alpha = gr.Slider(0.05, 2, value=0.3, step=0.05,
                                 label=t("α (the paper: 0.1–0.4 on ImageNet, 1 on CIFAR-10)"))
        seeds = gr.Slider(1, MAX_SEEDS, value=3, step=1, label=t("Seeds"))
        steps_gpu, steps_cpu = DIGIT_STEPS["gpu"], DIGIT_STEPS["cpu"]
        budget_s = gr.Slider(5, MAX_BUDGET_S, value=budget(**DIGIT_BUDGET_S), step=5, label=t("Time budget (seconds)"),
                             info=localized(device_note(f"{steps_gpu} training steps per run (not {steps_cpu})"),
                                            device_note_zh(f"每次训练 {steps_gpu} 步（而不是 {steps_cpu} 步）")))
    with gr.Row():
        digits_btn = gr.Button(t("Compare on digits"), variant="primary")
        digits_stop = gr.Button(t("Stop"))
    digits_table = gr.Markdown()
    digits_run = digits_btn.click(compare_digits, [digits_alpha, seeds, budget_s], digits_table,
                                  api_name=f"{SLUG}_digits", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    digits_stop.click(None, None, None, cancels=[digits_run], api_visibility="private")


def bench_default():
    """The toy comparison at default settings (moons, no label noise, α = 1)."""
    *_, last = train_toy("moons", 0.0, 1.0, 0)
    return last


ZH = {
    "### Fig. 1(b) live: ERM vs mixup on a 2-D toy problem": "### 现场重现图 1(b)：二维玩具问题上的 ERM 与 mixup",
    "Data": "数据",
    "ERM": "ERM（经验风险最小化）",
    "moons": "双月（moons）",
    "circles": "同心圆（circles）",
    "spirals": "螺旋（spirals）",
    "Corrupted training labels (fraction flipped)": "被破坏的训练标签（翻转的比例）",
    "α (Fig. 1b uses 1)": "α（图 1b 用 1）",
    "Seed": "随机种子",
    "Train ERM and mixup": "训练 ERM 和 mixup",
    "Stop": "停止",
    TOY_MESSAGE: "按**训练 ERM 和 mixup**：两个小网络会并排训练几秒钟。",
    "### §3.4 live: memorising flipped labels during training": "### 现场重现 §3.4：训练过程中对翻转标签的记忆",
    "Flip this fraction of the training labels": "翻转这一比例的训练标签",
    "α for mixup": "mixup 的 α",
    "Train and watch memorisation": "训练并观察记忆",
    "training step": "训练步数",
    "% of flipped labels reproduced": "仍输出的翻转标签（%）",
    "method": "方法",
    "Flipped training labels the model reproduces": "模型仍输出的翻转训练标签",
    "% error on unflipped labels": "未翻转标签上的错误率（%）",
    "Error on the training labels left unflipped": "在未被翻转的训练标签上的错误率",
    CURVE_MESSAGE: "按**训练并观察记忆**：ERM 和 mixup 最多训练一分钟。",
    "### Fig. 2: in-between training points": "### 图 2：训练点之间",
    "Train and measure between training points": "训练并在训练点之间测量",
    "% misses": "未命中（%）",
    "(a) Prediction is not the mixed label's larger class": "(a) 预测不是混合标签中权重较大的那一类",
    "‖∇x̃ loss‖": "‖∇x̃ 损失‖",
    "(b) Norm of the loss's gradient w.r.t. the input": "(b) 损失对输入的梯度范数",
    "### How much to mix: an α sweep": "### 混合多少：α 扫描",
    "% test error": "测试错误率（%）",
    "Test error (clean test points), mean over seeds": "测试错误率（干净的测试点），随机种子平均",
    "Flipped training labels memorised, mean over seeds": "记住的翻转训练标签，随机种子平均",
    "### Mix two images and their labels": "### 混合两张图像及其标签",
    "Sample λ ~ Beta(α, α)": "采样 λ ~ Beta(α, α)",
    "### ERM vs mixup on the digits (held-out accuracy and calibration, several seeds)":
        "### 手写数字上的 ERM 与 mixup（测试准确率与校准，多个随机种子）",
    "α (the paper: 0.1–0.4 on ImageNet, 1 on CIFAR-10)": "α（论文：ImageNet 上 0.1–0.4，CIFAR-10 上 1）",
    "Seeds": "随机种子数",
    "Time budget (seconds)": "时间预算（秒）",
    "Compare on digits": "在手写数字上比较",
}


if __name__ == "__main__":
    precompute()
