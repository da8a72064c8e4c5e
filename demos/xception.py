"""Xception tab: classify at 299×299, measure the Inception hypothesis, look at separable filters."""
from __future__ import annotations

import contextlib
import functools
import json
import time

import gradio as gr
import pandas as pd

from demos.common import (ASSETS, comparison_table_zh, example_paths, friendly_errors, header, heavy_id, on_tab_open,
                          read_image, weights_note, weights_note_zh)
from demos.i18n import localized, request_locale, say, t, zh_figure
from papers.results import comparison_table
from papers import xception as X
from papers.checkpoints import WeightsUnavailable, get_device, gpu, is_available_locally

SLUG = "xception"
TITLE = "Xception"
PAPER_URL = "https://arxiv.org/abs/1610.02357"
INTRO = """Chollet's **Inception hypothesis**: let a layer find spatial patterns and cross-channel
patterns *separately*. Taken to the extreme this is a **depthwise separable convolution** — one
k×k filter per channel, then a 1×1 convolution that mixes channels, no ReLU in between. Xception
has 36 convolutional layers: two regular ones in the stem, then 34 depthwise separable ones, in 14
modules of which the 12 in between have residual connections (§3, Fig. 5). Its gain is accuracy
for the parameters (Table 1, Table 3), not speed: one separable layer needs far fewer
multiply-adds than a regular one, yet the whole network needs *more* than Inception V3."""
INTRO_ZH = """Chollet 的 **Inception 假设**：让一层分别去找空间上的模式和跨通道的模式。把这个想法推到极致，
就是 **深度可分离卷积**——每个通道一个 k×k 卷积核，然后用 1×1 卷积混合各通道，中间不加 ReLU。Xception
有 36 个卷积层：主干开头两个普通卷积，之后 34 个深度可分离卷积，分成 14 个模块，中间 12 个带残差连接
（§3，图 5）。它赢在同样参数量下的精度（表 1、表 3），而不是速度：一个可分离层比普通卷积少得多的乘加，
整个网络的乘加却 *多于* Inception V3。"""
ADDS = "ImageNet top-5 classification at 299×299 and the trained filters below"
ADDS_ZH = "299×299 输入的 ImageNet 前 5 名分类，以及下面那些训练好的滤波器"


def counts_note():
    """counts_note_en and its Chinese, shown in the visitor's language."""
    from papers import results

    f = lambda claim, **kw: zh_figure(results.figure(SLUG, claim, **kw))  # noqa: E731
    zh = (f"在这里数出来的（`python -m papers.reproduce xception`）：Xception 有 **{f('xception_params')}** 个参数"
          f"（表 3：{results.paper_figure(SLUG, 'xception_params')}），Inception V3 有 {f('inception_v3_params')}；"
          f"每张 299×299 图像 Xception 需要 **{f('xception_macs', unit=' G')}** 次乘加，Inception V3 需要 "
          f"**{f('inception_v3_macs', unit=' G')}**；在 CPU 上每张图像的耗时是 Inception V3 的 **{f('latency_ratio', unit='×')}**"
          f"（论文表 3：在 60 块 K80 GPU 上每个训练步的耗时是它的 {results.paper_figure(SLUG, 'latency_ratio', '×')}）。"
          "为什么可分离层省下的时间不如省下的乘加多：在下面亲自测一测。")
    return localized(counts_note_en(), zh)


def counts_note_en() -> str:
    """Xception against Inception V3, counted from the models (results/xception.json)."""
    from papers import results

    f = functools.partial(results.figure, SLUG)
    return (f"Counted here (`python -m papers.reproduce xception`): Xception has **{f('xception_params')}** parameters "
            f"(Table 3: {results.paper_figure(SLUG, 'xception_params')}) against Inception V3's "
            f"{f('inception_v3_params')}, and needs **{f('xception_macs', unit=' G')}** multiply-adds per 299×299 image "
            f"against Inception V3's **{f('inception_v3_macs', unit=' G')}**; on a CPU it takes "
            f"**{f('latency_ratio', unit='×')}** Inception V3's time per image (the paper's Table 3: "
            f"{results.paper_figure(SLUG, 'latency_ratio', '×')} its time per training step on 60 K80 GPUs). "
            "Why a separable layer saves less time than multiply-adds: measure it below.")


EXPLORER_LIMITS = {"cpu": 2_000_000_000, "cuda": 200_000_000_000}  # multiply-adds per measurement
COST_COLUMNS = ["layer", "parameters", "multiply-adds (M)", "latency (ms)", "G multiply-adds / s"]
COST_COLUMNS_ZH = ["层", "参数", "乘加次数（M）", "延迟（毫秒）", "每秒乘加（G）"]
ROW_NAMES_ZH = {"regular convolution": "普通卷积", "depthwise separable (Xception)": "深度可分离卷积（Xception）",
                "  ↳ its depthwise part": "  ↳ 其中的逐通道部分", "  ↳ its pointwise part": "  ↳ 其中的逐点部分",
                "Xception (Fig. 5)": "Xception（图 5）", "Inception V3 (torchvision)": "Inception V3（torchvision）"}


def _row_name_zh(name: str) -> str:
    if name.startswith("Inception-style ("):  # "Inception-style (3 segments, Fig. 3)"
        return f"Inception 式模块（{name.split('(')[1].split(' ')[0]} 段，图 3）"
    return ROW_NAMES_ZH.get(name, name)


def _cost_table(rows: list[X.LayerCost], request=None) -> pd.DataFrame:
    zh = request_locale(request) == "zh-CN"
    name = _row_name_zh if zh else (lambda n: n)  # noqa: E731
    return pd.DataFrame([[name(r.name), r.params, round(r.macs / 1e6, 2), round(r.seconds * 1e3, 3),
                          round(r.macs_per_second / 1e9, 2)] for r in rows], columns=COST_COLUMNS_ZH if zh else COST_COLUMNS)


# --------------------------------------------------------------------------- handlers
@gpu(duration=30)
@friendly_errors
def classify(image) -> dict[str, float]:
    rgb = read_image(image).rgb
    return dict(X.top_k(X.imagenet_model(), rgb, X.imagenet_categories()))


def _explain(rows: list[X.LayerCost], kernel: int, channels: int, request=None) -> str:
    regular, inception, separable, depthwise, pointwise = rows
    fewer, faster = regular.macs / separable.macs, regular.seconds / separable.seconds
    dw_macs, dw_time = depthwise.macs / separable.macs, depthwise.seconds / (depthwise.seconds + pointwise.seconds)
    speed = (f"yet runs **{1 / faster:.1f}× slower**" if faster < 1 else
             f"but runs only **{faster:.1f}× faster**" if faster < fewer else f"and runs **{faster:.1f}× faster** here")
    share = f"Its depthwise part does {dw_macs:.0%} of its multiply-adds and takes **{dw_time:.0%} of its time**"
    why = (f": per value it reads it does k² = {kernel * kernel} multiply-adds, a regular convolution "
           f"k²·C = {kernel * kernel * channels}, so it waits on memory rather than arithmetic"
           if dw_time > 1.5 * dw_macs else "")
    if request_locale(request) == "zh-CN":
        speed_zh = (f"却 **慢了 {1 / faster:.1f} 倍**" if faster < 1 else
                    f"但只 **快了 {faster:.1f} 倍**" if faster < fewer else f"在这里也 **快了 {faster:.1f} 倍**")
        why_zh = (f"：它每读一个数只做 k² = {kernel * kernel} 次乘加，普通卷积则做 k²·C = {kernel * kernel * channels} 次，"
                  "所以它是在等内存，而不是在等算术" if dw_time > 1.5 * dw_macs else "")
        return (f"在 **{X.device_description()}** 上：深度可分离卷积的乘加比普通卷积 **少 {fewer:.1f} 倍**，参数少 "
                f"{regular.params / separable.params:.1f} 倍，{speed_zh}。其中逐通道部分只占 {dw_macs:.0%} 的乘加，"
                f"却花了 **{dw_time:.0%} 的时间**{why_zh}（每秒 {depthwise.macs_per_second / 1e9:.2f} G 次乘加，普通卷积为 "
                f"{regular.macs_per_second / 1e9:.2f}）。延迟是这台机器上各层轮流运行的中位数，会随负载变化。")
    return (f"On **{X.device_description()}**: the depthwise separable convolution needs **{fewer:.1f}× fewer "
            f"multiply-adds** than the regular one and {regular.params / separable.params:.1f}× fewer parameters, "
            f"{speed}. {share}{why} ({depthwise.macs_per_second / 1e9:.2f} G multiply-adds/s against "
            f"{regular.macs_per_second / 1e9:.2f} for the regular convolution). Latencies are medians of layers run "
            "in turns on this machine and vary with its load.")


@gpu(duration=60)
@friendly_errors
def measure(channels, kernel, size, request: gr.Request = None):
    channels, kernel, size = int(channels), int(kernel), int(size)
    if not (X.INCEPTION_SEGMENTS <= channels <= 1024 and 1 <= kernel <= 9 and kernel % 2 and 2 <= size <= 224):
        raise gr.Error(say(request, "Choose channels 3–1024 (a multiple of 3), an odd kernel 1–9 and a size 2–224.",
                           "请选择 3–1024 个通道（3 的倍数）、1–9 的奇数卷积核和 2–224 的尺寸。"))
    rows = X.explore(channels, kernel, size, max_macs=EXPLORER_LIMITS.get(get_device().type))
    return _cost_table(rows, request), _explain(rows, kernel, channels, request)


@gpu(duration=120)
@friendly_errors
def time_networks(request: gr.Request = None):
    yield None, say(request, f"Building both networks and timing them on {X.device_description()} (a few seconds on a CPU)…",
                    f"正在构建两个网络并在 {X.device_description()} 上计时（CPU 上需要几秒）……")
    rows = X.whole_networks()
    xception, inception = rows
    p_ratio, m_ratio, t_ratio = xception.params / inception.params, xception.macs / inception.macs, \
        xception.seconds / inception.seconds
    note = say(request,
               f"Xception has {p_ratio:.2f}× the parameters and {m_ratio:.2f}× the multiply-adds of Inception V3 here, "
               f"and takes **{t_ratio:.2f}× its time** on {X.device_description()}. The paper's Table 3 trains Xception "
               "at fewer steps per second than Inception V3 on 60 K80 GPUs. Random weights: the time does not depend "
               "on them.",
               f"在 {X.device_description()} 上，Xception 的参数是 Inception V3 的 {p_ratio:.2f} 倍、乘加是 {m_ratio:.2f} 倍，"
               f"耗时是它的 **{t_ratio:.2f} 倍**。论文表 3 中，在 60 块 K80 GPU 上 Xception 每秒训练的步数少于 "
               "Inception V3。这里用随机权重：耗时与权重无关。")
    yield gr.Dataframe(_cost_table(rows, request), visible=True), note


@gpu(duration=30)
@friendly_errors
def filters(request: gr.Request = None):
    try:
        model = X.imagenet_model()
    except WeightsUnavailable as exc:
        sizes = X.first_block_sizes(X.Xception())
        return None, None, _sizes_text(sizes, request) + say(
            request, f"\n\nThe trained filters need the ImageNet weights. {exc}", f"\n\n训练好的滤波器需要 ImageNet 权重。{exc}")
    return X.depthwise_image(model), X.pointwise_image(model), _sizes_text(X.first_block_sizes(model), request)


def _sizes_text(s: dict[str, int], request=None) -> str:
    if request_locale(request) == "zh-CN":
        return (f"第一个可分离卷积把 {s['in']} 个通道映射到 {s['out']} 个：{s['depthwise']:,} 个逐通道权重"
                f"（{s['in']} 个 {s['kernel']}×{s['kernel']} 卷积核）加 {s['pointwise']:,} 个逐点权重"
                f"（{s['out']}×{s['in']}）；普通的 {s['kernel']}×{s['kernel']} 卷积需要 {s['regular']:,} 个。")
    return (f"The first separable convolution maps {s['in']} → {s['out']} channels with {s['depthwise']:,} depthwise "
            f"weights ({s['in']} filters of {s['kernel']}×{s['kernel']}) and {s['pointwise']:,} pointwise weights "
            f"({s['out']}×{s['in']}); a regular {s['kernel']}×{s['kernel']} convolution would need {s['regular']:,}.")


def bench_default():
    return measure(192, 3, 28)


# --------------------------------------------------------------------------- §4.7 at small scale
CURVES_ASSET = ASSETS / "xception_curves.json"  # seed 0 of the results' run: `python -m demos.xception`
CURVE_COLUMNS = ["step", "% validation accuracy", "network"]
GROUPS = {"fig10": X.FIG10_VARIANTS, "fig9": ("no intermediate activation", "no residual connections"),
          "matched": ("no intermediate activation", "regular convolutions", "Inception-style (Fig. 3)")}
LIVE_BUDGET_S = 120  # a live run stops here, with what it has measured
LIVE_MAX_STEPS = X.TrainSettings().steps
VARIANTS_ZH = {"no intermediate activation": "中间无激活（Xception）", "ReLU in between": "中间加 ReLU",
               "ELU in between": "中间加 ELU", "no residual connections": "无残差连接",
               "regular convolutions": "普通卷积", "Inception-style (Fig. 3)": "Inception 式（图 3）"}
DIGITS_CLAIMS = ["fig10_early_val", "fig10_test", "fig9_early_val", "fig9_test", "matched_early_val", "matched_test",
                 "matched_params"]
_WHAT_ZH = {"fig10": "深度卷积与逐点卷积之间不加激活 vs ReLU vs ELU", "fig9": "有残差连接 vs 无残差连接",
            "matched": "可分离卷积 vs 普通卷积 vs Inception 式卷积（参数量对齐）"}


def _claims_zh() -> dict[str, str]:
    s = X.TrainSettings()
    out = {"matched_params": "数字任务上三个小网络的参数量：可分离、普通、Inception 式，宽度按参数量对齐（可学习参数）"}
    for c, what in _WHAT_ZH.items():
        out[f"{c}_early_val"] = (f"14×14 手写数字上的小 Xception，{what}：整条训练曲线上验证准确率的平均（训练得多快）"
                                 f"（% 留出的训练数字上的准确率，{s.steps} 步 Adam 中每 {s.every} 步测一次，取平均，"
                                 f"即曲线下面积；批大小 {s.batch}）")
        out[f"{c}_test"] = (f"14×14 手写数字上的小 Xception，{what}：训练 {s.steps} 步后的测试准确率"
                            f"（% 449 个测试数字上的准确率，Adam，批大小 {s.batch}）")
    return out


def _labels_zh() -> dict[str, str]:
    return {k: VARIANTS_ZH[v] for k, v in X.METHOD_KEYS.items()}


_COMPARISON_NAMES = {"fig10": ("Fig. 10 (nothing vs ReLU vs ELU in between)", "图 10（中间不放 vs ReLU vs ELU）"),
                     "fig9": ("Fig. 9 (with vs without residuals)", "图 9（有无残差）"),
                     "matched": ("Same parameters (separable vs regular vs Inception-style)",
                                 "同样参数量（可分离 vs 普通 vs Inception 式）")}
_MATCHED_NOTE = ("(The paper's claim is against Inception; regular convolutions are a reference added here.)",
                 "（论文比较的是 Inception；普通卷积是这里另加的参照。）")
_METRIC_NAMES = {"early_val": ("how fast it trains (validation, mean of the curve)", "训练得多快（验证，曲线平均）"),
                 "test": ("test accuracy at the end", "最后的测试准确率")}
_RELATIONS = {"ahead": ("ahead of {}", "领先于{}"), "behind": ("behind {}", "落后于{}"),
              "tie": ("level with {}", "与{}持平")}


def relation(comparison: str, metric: str, key: str) -> str | None:
    """Xception's choice against baseline `key` on a stored claim, seed by seed (both trained from
    the same seed on the same minibatches): "ahead" / "behind" when the mean of the per-seed
    differences is larger than their standard deviation, else "tie"."""
    import statistics

    from papers import results

    found = results.claim(SLUG, f"{comparison}_{metric}")
    if not found or key not in found["baselines"]:
        return None
    diffs = [a - b for a, b in zip(found["ours"]["per_seed"], found["baselines"][key]["per_seed"])]
    if len(diffs) < 2:
        return None
    mean, spread = statistics.fmean(diffs), statistics.stdev(diffs)
    return "tie" if abs(mean) <= spread else "ahead" if mean > 0 else "behind"


def verdict(chinese: bool = False) -> str:
    """What the digits runs show against the paper's direction, one line per comparison, from results/."""
    lang = 1 if chinese else 0
    names = VARIANTS_ZH if chinese else {v: v for v in VARIANTS_ZH}
    lines = []
    for comparison, keys in X.COMPARISONS.items():
        parts, relations = [], []
        for metric, metric_name in _METRIC_NAMES.items():
            rel = {k: relation(comparison, metric, k) for k in keys}
            if None in rel.values():
                return ""
            relations += [r for k, r in rel.items() if k in _PAPER_BASELINES.get(comparison, keys)]
            parts.append(metric_name[lang] + ("：" if chinese else ": ") + ("，" if chinese else ", ").join(
                _RELATIONS[r][lang].format(names[X.METHOD_KEYS[k]]) for k, r in rel.items()))
        shown = ("all" if all(r == "ahead" for r in relations) else
                 "part" if "ahead" in relations else "none")
        outcome = _OUTCOMES[shown][lang]
        sep = "；" if chinese else "; "
        lines.append(f"- **{_COMPARISON_NAMES[comparison][lang]}**{'：' if chinese else ' — '}{sep.join(parts)}"
                     + ("。" if chinese else ". ") + outcome
                     + ((" " if not chinese else "") + _MATCHED_NOTE[lang] if comparison == "matched" else ""))
    return _VERDICT_HEAD[lang] + "\n" + "\n".join(lines)


_VERDICT_HEAD = (
    "At this scale, Xception's choice (nothing in between; residuals; separable) against each alternative, seed by "
    "seed (both trained from the same seed on the same minibatches): *ahead of* or *behind* when the mean difference "
    "is larger than its standard deviation over seeds, else *level with*:",
    "在这个规模上，Xception 的选择（中间不放激活；残差；可分离）与每个替代方案逐个随机种子比较（两者从同一初始化、在同样的"
    "小批次上训练）：差值的均值大于它在随机种子间的标准差时记为 *领先* 或 *落后*，否则为 *持平*：")
_PAPER_BASELINES = {"matched": ("inception",)}  # the paper compares with Inception; regular convs are our reference
_OUTCOMES = {"all": ("The paper's direction shows here.", "论文的方向在这里出现了。"),
             "part": ("The paper's direction shows only in part here.", "论文的方向在这里只部分出现。"),
             "none": ("The paper's direction does not show at this scale.", "论文的方向在这个规模上没有出现。")}


def _name(method: str, request=None) -> str:
    return VARIANTS_ZH.get(method, method) if request_locale(request) == "zh-CN" else method


def _curve_frame(points: list[X.CurvePoint], group: str, request=None) -> pd.DataFrame:
    return pd.DataFrame([(p.step, 100 * p.val_acc, _name(p.method, request)) for p in points
                         if p.method in GROUPS[group]], columns=CURVE_COLUMNS)


def _final_table(points: list[X.CurvePoint], test: dict[str, float] | None, request=None) -> str:
    """Validation accuracy averaged over the curve and at its last step (and test accuracy when finished)."""
    last = max(p.step for p in points)
    val = {(p.step, p.method): p.val_acc for p in points}
    methods = list(dict.fromkeys(p.method for p in points))
    head = say(request, f"| network | validation, mean of the curve (how fast) | validation at step {last} |",
               f"| 网络 | 验证准确率，曲线平均（训练得多快） | 第 {last} 步的验证准确率 |")
    rows = [head + (say(request, " test |", " 测试 |") if test else ""), "|---|---|---|" + ("---|" if test else "")]
    for m in methods:
        mean = X.curve_mean(points, m) if last > 0 else val[(last, m)]
        rows.append(f"| {_name(m, request)} | {mean:.1%} | {val[(last, m)]:.1%} |"
                    + (f" {test[m]:.1%} |" if test else ""))
    return "\n".join(rows)


def curves_opening(request: gr.Request = None):
    """The precomputed curves (seed 0 of the results' run), or the prompt to train."""
    if not CURVES_ASSET.is_file():
        return None, None, None, say(request, LIVE_MESSAGE, ZH[LIVE_MESSAGE])
    saved = json.loads(CURVES_ASSET.read_text())
    points = [X.CurvePoint(**p) for p in saved["points"]]
    settings = saved["settings"]
    intro = say(request, f"Trained ahead of time (seed {settings['seed']}, {settings['steps']} steps, the same run as "
                         "seed 0 of the table above).\n\n",
                f"预先训练好的结果（随机种子 {settings['seed']}，{settings['steps']} 步，与上表随机种子 0 的那次相同）。\n\n")
    return (*(_curve_frame(points, g, request) for g in GROUPS), intro + _final_table(points, saved["test"], request))


@gpu(duration=LIVE_BUDGET_S + 30)
@friendly_errors
def train_live(seed, steps, request: gr.Request = None):
    """Fig. 10 live: the three variants (no activation, ReLU, ELU between depthwise and pointwise)
    trained side by side on the same minibatches; streams their validation curves."""
    seed, steps = int(seed) % 2**31, int(steps)
    if not 20 <= steps <= LIVE_MAX_STEPS:
        raise gr.Error(say(request, f"Choose 20–{LIVE_MAX_STEPS} steps.", f"请选择 20–{LIVE_MAX_STEPS} 步。"))
    settings = X.TrainSettings(steps=steps)
    began, points = time.perf_counter(), []
    run = X.train_together(X.FIG10_VARIANTS, seed, settings)
    with contextlib.closing(run):
        while True:
            try:
                points = next(run)
            except StopIteration as done:
                test = {name: acc for name, (_, acc) in done.value.items()}
                yield _curve_frame(points, "fig10", request), _final_table(points, test, request)
                return
            step = points[-1].step
            if time.perf_counter() - began > LIVE_BUDGET_S:
                yield _curve_frame(points, "fig10", request), _final_table(points, None, request) + say(
                    request, f"\n\nStopped at the time budget ({LIVE_BUDGET_S} s) at step {step}.",
                    f"\n\n已到时间预算（{LIVE_BUDGET_S} 秒），停在第 {step} 步。")
                return
            yield _curve_frame(points, "fig10", request), say(
                request, f"Training the three networks on the same minibatches: step {step} / {steps}…",
                f"三个网络在同样的小批次上训练：第 {step} / {steps} 步…")


def precompute() -> None:
    """Seed 0 of the results' digits run (all six networks), saved for the tab to open on."""
    import torch

    torch.set_num_threads(1)
    points, test = X.digits_run(0, False)
    CURVES_ASSET.write_text(json.dumps({"settings": {"seed": 0, "steps": X.TrainSettings().steps}, "test": test,
                                        "points": [{**vars(p), "val_acc": round(p.val_acc, 5)} for p in points]},
                                       indent=0, ensure_ascii=False) + "\n")


def _digits_section() -> None:
    gr.Markdown(t(DIGITS_HEADING))
    gr.Markdown(localized(DIGITS_TEXT + "\n\n" + comparison_table(SLUG, DIGITS_CLAIMS) + "\n\n" + PAPER_SAYS
                          + "\n\n" + verdict(),
                          DIGITS_TEXT_ZH + "\n\n" + comparison_table_zh(SLUG, DIGITS_CLAIMS, _claims_zh(), _labels_zh())
                          + "\n\n" + PAPER_SAYS_ZH + "\n\n" + verdict(chinese=True)))
    plot = functools.partial(gr.LinePlot, x=CURVE_COLUMNS[0], y=CURVE_COLUMNS[1], color=CURVE_COLUMNS[2], height=280,
                             x_title=t("training step"), y_title=t("% validation accuracy"), color_title=t("network"))
    with gr.Row():
        fig10 = plot(title=t("Fig. 10: between depthwise and pointwise"))
        fig9 = plot(title=t("Fig. 9: with and without residuals"))
        matched = plot(title=t("Same parameters, three convolutions"))
    table = gr.Markdown(t(LIVE_MESSAGE))
    on_tab_open(curves_opening, [fig10, fig9, matched, table])
    with gr.Row():
        seed = gr.Number(0, precision=0, label=t("Seed"))
        steps = gr.Slider(20, LIVE_MAX_STEPS, value=LIVE_MAX_STEPS, step=10, label=t("Steps"))
        go = gr.Button(t("Train the three variants yourself"), variant="primary")
        stop = gr.Button(t("Stop"))
    live = go.click(train_live, [seed, steps], [fig10, table], api_name=f"{SLUG}_train",
                    concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop.click(None, None, None, cancels=[live], api_visibility="private")


# --------------------------------------------------------------------------- UI
def short_weights_note():
    """One line below the main content: whether the ImageNet weights are here."""
    ckpt = X.IMAGENET
    if is_available_locally(ckpt):
        return localized(f"**{ckpt.name}** weights: found locally ({ckpt.size_text()}).",
                         f"**{ckpt.name}** 权重：已在本地找到（{ckpt.size_text()}）。")
    return localized(f"Classifying photos and the trained filters need the ImageNet weights ({ckpt.size_text()}), "
                     "not found here: the **Classify** tab says how to get them.",
                     f"给照片分类和查看训练好的滤波器需要 ImageNet 权重（{ckpt.size_text()}），这里没有找到："
                     "**分类** 页里写了获取方法。")


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    gr.Markdown(counts_note())
    _digits_section()
    with gr.Tabs():
        _explorer()
        _classifier()
    gr.Markdown(short_weights_note())  # short, below the main content


def _explorer() -> None:
    with gr.Tab(t("The Inception hypothesis, measured")):
        gr.Markdown(t(EXPLORER_TEXT))
        with gr.Row():
            channels = gr.Slider(24, 768, value=192, step=24, label=t("channels C"))
            kernel = gr.Slider(1, 9, value=3, step=2, label=t("kernel size k"))
            size = gr.Slider(4, 112, value=28, step=4, label=t("feature-map size (pixels)"))
        run = gr.Button(t("Measure"), variant="primary")
        table = gr.Dataframe(headers=COST_COLUMNS, label=t("cost on this device"), interactive=False)
        explanation = gr.Markdown()
        run.click(measure, [channels, kernel, size], [table, explanation], api_name=f"{SLUG}_measure",
                  concurrency_id=heavy_id(SLUG), concurrency_limit=1)
        on_tab_open(measure, [table, explanation], [channels, kernel, size])  # the Xception tab opens measured
        gr.Markdown(t(NETWORKS_TEXT))
        networks = gr.Button(t("Time both networks"))
        networks_table = gr.Dataframe(label=t("whole networks"), interactive=False, visible=False)  # shown when timed
        networks_note = gr.Markdown()
        networks.click(time_networks, None, [networks_table, networks_note], api_name=f"{SLUG}_networks",
                       concurrency_id=heavy_id(SLUG), concurrency_limit=1)


def _classifier() -> None:
    with gr.Tab(t("Classify (ImageNet weights)")):
        gr.Markdown(localized(weights_note(X.IMAGENET, adds=ADDS), weights_note_zh(X.IMAGENET, adds=ADDS_ZH)))
        with gr.Row():
            image = gr.Image(label=t("image"), type="numpy")
            labels = gr.Label(num_top_classes=5, label=t("top-5 (ImageNet)"))
        gr.Examples(example_paths("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg"), inputs=image,
                    label=t("Examples"))
        go = gr.Button(t("Classify"), variant="primary")
        go.click(classify, image, labels, api_name=f"{SLUG}_classify")
        gr.Markdown(t(FILTERS_TEXT))
        show = gr.Button(t("Show filters"))
        with gr.Row():
            depthwise = gr.Image(label=t("depthwise filters"), interactive=False)
            pointwise = gr.Image(label=t("pointwise weights (out × in)"), interactive=False)
        sizes = gr.Markdown()
        show.click(filters, None, [depthwise, pointwise, sizes], api_name=f"{SLUG}_filters")
        on_tab_open(filters, [depthwise, pointwise, sizes])  # when this inner tab is selected: the block's sizes


EXPLORER_TEXT = ("One layer mapping C channels to C channels, three ways (Fig. 1–4 of the paper): a regular "
                 "convolution (space and channels jointly), the Inception-style module rewritten as in Fig. 3 "
                 "(a 1×1 convolution, then k×k convolutions over 3 separate channel segments) and Xception's "
                 "depthwise separable convolution (one k×k filter per channel, then 1×1).")
NETWORKS_TEXT = "### The whole network\nXception against the Inception V3 it was compared with, both at 299×299."
FILTERS_TEXT = ("### The first separable block's filters\nLeft: 64 depthwise 3×3 filters, one per input channel "
                "(spatial patterns). Right: the 128×64 pointwise matrix (how channels are mixed). "
                "Red positive, blue negative.")

DIGITS_HEADING = "### §4.7 at small scale: Fig. 10, Fig. 9 and parameter-matched convolutions, trained here"
DIGITS_TEXT = ("A small Xception (a regular stem, two downsampling modules, two residual middle modules of three "
               "separable units; global average pooling) trained from scratch on 14×14 scikit-learn digits, every "
               "network on the same minibatches. **Fig. 10**: only what sits between the depthwise and the pointwise "
               "convolution changes — nothing (Xception's choice), ReLU or ELU. **Fig. 9**: the same network without "
               "its shortcuts. **Same parameters**: every separable unit replaced by a regular 3×3 convolution or by "
               "Fig. 3's Inception-style unit (1×1, then 3×3 over 3 channel segments), widths set to match the "
               "parameter count. Curves: accuracy on training digits held out for validation; the table: mean ± sd "
               "over seeds (`python -m papers.reproduce xception`).")
DIGITS_TEXT_ZH = ("一个小 Xception（普通卷积的主干、两个下采样模块、两个各含三个可分离单元的残差中间模块，全局平均池化），"
                  "在 14×14 的 scikit-learn 手写数字上从头训练，所有网络用同样的小批次。**图 10**：只改变深度卷积与逐点卷积"
                  "之间放的东西——什么都不放（Xception 的选择）、ReLU 或 ELU。**图 9**：同一网络去掉捷径连接。"
                  "**同样的参数量**：把每个可分离单元换成普通 3×3 卷积，或换成图 3 的 Inception 式单元（先 1×1，再在 3 段通道上"
                  "各做 3×3），宽度按参数量对齐。曲线：留作验证的训练数字上的准确率；表格：多个随机种子的均值 ± 标准差"
                  "（`python -m papers.reproduce xception`）。")
PAPER_SAYS = ("**The paper** (curves on ImageNet and JFT, so a direction to compare, not a number): **Fig. 10** — with "
              "no non-linearity between the depthwise and the pointwise convolution training converges fastest and "
              "ends best, ahead of ELU, then ReLU; **Fig. 9** — with its residual connections Xception converges much "
              "faster and ends better; **Tables 1 and 3** — Xception beats Inception V3 with about as many parameters.")
PAPER_SAYS_ZH = ("**论文**（ImageNet 和 JFT 上的曲线，所以能对比的是方向，不是数字）：**图 10**——深度卷积与逐点卷积之间"
                 "不放任何非线性时收敛最快、最终也最好，其次是 ELU，再次是 ReLU；**图 9**——有残差连接的 Xception "
                 "收敛快得多，最终也更好；**表 1 和表 3**——参数量相近时，Xception 胜过 Inception V3。")
LIVE_MESSAGE = "Press **Train the three variants yourself**: the three Fig. 10 networks train for up to two minutes."

ZH = {
    DIGITS_HEADING: "### 小规模的 §4.7：图 10、图 9 与参数量对齐的卷积，在这里训练",
    LIVE_MESSAGE: "按 **自己训练这三个变体**：图 10 的三个网络最多训练两分钟。",
    "training step": "训练步数",
    "% validation accuracy": "% 验证准确率",
    "network": "网络",
    "Fig. 10: between depthwise and pointwise": "图 10：深度卷积与逐点卷积之间",
    "Fig. 9: with and without residuals": "图 9：有无残差连接",
    "Same parameters, three convolutions": "同样的参数量，三种卷积",
    "Seed": "随机种子",
    "Steps": "步数",
    "Train the three variants yourself": "自己训练这三个变体",
    "Stop": "停止",
    "The Inception hypothesis, measured": "实测 Inception 假设",
    EXPLORER_TEXT: "一个把 C 个通道映射到 C 个通道的层，三种做法（论文图 1–4）：普通卷积（空间和通道一起处理）、"
                   "按图 3 改写的 Inception 式模块（先 1×1 卷积，再在 3 段互不相交的通道上各做 k×k 卷积），以及 Xception 的"
                   "深度可分离卷积（每个通道一个 k×k 卷积核，再接 1×1）。",
    "channels C": "通道数 C",
    "kernel size k": "卷积核大小 k",
    "feature-map size (pixels)": "特征图尺寸（像素）",
    "Measure": "测量",
    "cost on this device": "在本设备上的开销",
    NETWORKS_TEXT: "### 整个网络\nXception 与论文用来对比的 Inception V3，输入都是 299×299。",
    "Time both networks": "给两个网络计时",
    "whole networks": "整个网络",
    "Classify (ImageNet weights)": "分类（ImageNet 权重）",
    "image": "图像",
    "top-5 (ImageNet)": "前 5 名（ImageNet）",
    "Examples": "示例",
    "Classify": "分类",
    FILTERS_TEXT: "### 第一个可分离模块的滤波器\n左：64 个 3×3 逐通道滤波器，每个输入通道一个（空间模式）。"
                  "右：128×64 的逐点矩阵（通道如何混合）。红为正，蓝为负。",
    "Show filters": "显示滤波器",
    "depthwise filters": "逐通道（depthwise）滤波器",
    "pointwise weights (out × in)": "逐点（pointwise）权重（输出 × 输入）",
}


if __name__ == "__main__":
    precompute()
