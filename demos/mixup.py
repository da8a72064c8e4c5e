"""mixup (Zhang et al. 2018): ERM vs mixup side by side, trained live on a CPU.

The tab opens on the toy comparison at its defaults, trained once ahead of time
(demos/assets/mixup_toy_*.png and mixup_toy.json, remade by `python -m demos.mixup`): training
takes seconds, too long to run whenever the tab is opened."""
from __future__ import annotations

import functools
import json
import math

import gradio as gr
import numpy as np

from demos.common import (ASSETS, comparison_table_zh, device_note_zh, example_paths, friendly_errors, header,
                          heavy_id, on_tab_open, read_image)
from demos.common import cjk_markdown
from demos.i18n import localized, say, t
from papers import mixup
from papers.results import comparison_table
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
paper's §3.4 claim. At the 500 steps this tab trains, ERM has not yet fitted many flipped labels.
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
本页只训练 500 步，此时 ERM 还没记住多少翻转标签。没有标签噪声时，这里 ERM 一样好甚至更好；
而 mixup 的软标签会让小网络*信心不足*，校准反而更差——这与论文中的大网络不同。"""

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


def precompute() -> None:
    """Train the toy comparison at TOY_DEFAULTS once and save what the tab opens on."""
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
