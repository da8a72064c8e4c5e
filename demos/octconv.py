"""Octave Convolution tab: Table 1's theory against this device's clock, the α sweep, the two octaves."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from demos.common import (example_paths, friendly_errors, header, heavy_id, on_tab_open, read_image, weights_note,
                          weights_note_zh)
from demos.i18n import localized, request_locale, say, t, zh_figure
from papers import octconv as O
from papers.checkpoints import get_device, gpu
from papers.xception import device_description

SLUG = "octconv"
TITLE = "Octave Convolution"
PAPER_URL = "https://arxiv.org/abs/1904.05049"
INTRO = """Feature maps, like photos, carry slowly varying structure that does not need every pixel.
**OctConv** keeps a fraction **α** of the channels one octave lower — at half the height and
width — and connects the two groups by four paths (H→H, H→L by pooling, L→H by upsampling,
L→L). Same parameters as a regular convolution, 1 − ¾α(2 − α) of its multiply-adds. Whether
that buys wall-clock time is another matter: measure it here, then see what α does to a small
trained network and to your image."""
INTRO_ZH = """特征图和照片一样，含有变化缓慢、用不着每个像素都存的结构。**OctConv** 把比例为 **α** 的通道放低一个
八度——高和宽各减半——两组之间由四条通路相连（H→H；H→L，经池化；L→H，经上采样；L→L）。参数量和普通卷积
一样，乘加只有它的 1 − ¾α(2 − α)。能不能换来实际运行时间是另一回事：先在这里测一测，再看看 α 对一个训练好的
小网络和对你的图像有什么影响。"""

MEASURE_LIMIT = {"cpu": 2_000_000_000, "cuda": 200_000_000_000}  # multiply-adds of the Conv2d per run
VIEW_ALPHAS = [a for a in O.SWEEP_ALPHAS if a > 0]


# --------------------------------------------------------------------------- handlers
@gpu(duration=60)
@friendly_errors
def measure(channels, size, kernel, request: gr.Request = None):
    channels, size, kernel = int(channels), int(size), int(kernel)
    if not (2 <= channels <= 1024 and 2 <= size <= 224 and size % 2 == 0 and 1 <= kernel <= 7 and kernel % 2):
        raise gr.Error(say(request, "Choose channels 2–1024, an even size 2–224 and an odd kernel 1–7.",
                           "请选择 2–1024 个通道、2–224 的偶数尺寸和 1–7 的奇数卷积核。"))
    macs = channels * channels * kernel ** 2 * size ** 2  # the regular convolution: C · C · k² · H · W
    limit = MEASURE_LIMIT.get(get_device().type)
    if limit and macs > limit:
        raise gr.Error(say(request, f"That convolution needs {macs / 1e9:.1f} G multiply-adds, more than the "
                           f"{limit / 1e9:.0f} G allowed per measurement here: lower the channels or size.",
                           f"这个卷积需要 {macs / 1e9:.1f} G 次乘加，超过了这里每次测量允许的 {limit / 1e9:.0f} G："
                           "请减少通道数或尺寸。"))
    zh = request_locale(request) == "zh-CN"
    points = O.theory_vs_measured(channels, size, kernel)
    table = pd.DataFrame([[p.alpha, round(p.theory_ratio, 3), round(p.counted_ratio, 3), round(O.memory_ratio(p.alpha), 3),
                           round(p.seconds * 1e3, 3), round(p.measured_ratio, 3)] for p in points],
                         columns=["α", "乘加（表 1）", "乘加（计数）", "内存（表 1）", "延迟（毫秒）", "延迟比（实测）"] if zh else
                         ["α", "multiply-adds (Table 1)", "multiply-adds (counted)", "memory (Table 1)",
                          "latency (ms)", "latency ratio (measured)"])
    theory, measured = ("乘加：表 1", "延迟：实测") if zh else ("multiply-adds: Table 1", "latency: measured")
    plot = pd.DataFrame([(p.alpha, value, series) for p in points for series, value in
                         ((theory, p.theory_ratio), (measured, p.measured_ratio))],
                        columns=["alpha", "ratio to Conv2d", "series"])
    best = min(points[1:], key=lambda p: p.measured_ratio)
    if zh:
        return plot, table, (
            f"在 **{device_description()}** 上，数出来的乘加与表 1 完全一致，时钟却不然。α = {points[1].alpha:g} 时，"
            f"这一层只做 {points[1].theory_ratio:.0%} 的运算，却要花 **{points[1].measured_ratio:.0%}** 的时间；这里最好的是 "
            f"α = {best.alpha:g}，为 {best.measured_ratio:.0%}（理论 {best.theory_ratio:.0%}）。四个小卷积、一次池化、一次上采样和"
            "两次加法，每一个都要付启动和内存开销，而一个大卷积只付一次——这就是为什么许多复现发现，除非把各通路融合，"
            "OctConv 实际上更慢。计时是多次运行的中位数，会随机器负载变化：在与其他任务共享的 CPU 上，许多小操作受影响最大。")
    note = (f"On **{device_description()}** the counted multiply-adds follow Table 1 exactly; the clock does not. At "
            f"α = {points[1].alpha:g} the layer does {points[1].theory_ratio:.0%} of the arithmetic and takes "
            f"**{points[1].measured_ratio:.0%}** of the time; the best here is α = {best.alpha:g} at "
            f"{best.measured_ratio:.0%} (theory {best.theory_ratio:.0%}). Four small convolutions, a pooling, an "
            "upsampling and two additions each pay launch and memory costs that one large convolution pays once, "
            "which is why many reimplementations find OctConv slower in practice unless the paths are fused. "
            "Timings are medians of repeated runs and vary with the machine's load: on a CPU shared with other "
            "work, the many small operations suffer most.")
    return plot, table, note


@gpu(duration=60)
@friendly_errors
def sweep(request: gr.Request = None):
    points = O.sweep_results(O.sweep_models())
    zh = request_locale(request) == "zh-CN"
    table = pd.DataFrame([[p.alpha, p.params, p.macs, round(100 * p.test_accuracy, 2)] for p in points],
                         columns=["α", "参数", "每个数字的乘加", "测试准确率（%）"] if zh else
                         ["α", "parameters", "multiply-adds per digit", "test accuracy (%)"])
    plot = pd.DataFrame([(p.macs / 1e3, 100 * p.test_accuracy, f"α = {p.alpha:g}") for p in points],
                        columns=["k multiply-adds per digit", "test accuracy (%)", "α"])
    n_test = len(O.digits16("test")[1])
    if zh:
        return plot, table, (
            f"同一个网络的五个副本，α 从 0（普通 CNN）到 0.75，在 16×16 手写数字上以相同方式训练，并在 {n_test} 个留出的"
            f"数字上测试（一张图像 = {100 / n_test:.2f} 个百分点）：参数相同，乘加降到 {points[-1].macs / points[0].macs:.0%}。"
            "论文图 4（ImageNet 上的 ResNet-50）发现，α ≈ 0.5 以内准确率持平甚至上升，再大就下降；在这个玩具规模上，"
            "一两张图像的差别只是噪声：上面不同随机种子重训的结果给出了波动范围。")
    note = (f"Five copies of one network, α = 0 (a plain CNN) to 0.75, trained alike on 16×16 handwritten digits and "
            f"tested on {n_test} held-out ones (one image = {100 / n_test:.2f} points): equal parameters, multiply-adds "
            f"falling to {points[-1].macs / points[0].macs:.0%}. The paper's Fig. 4 (ResNet-50 on ImageNet) finds "
            "accuracy holding or rising up to α ≈ 0.5 and dropping beyond; at this toy scale differences of one "
            "or two images are noise: the retrained seeds above give the spread.")
    return plot, table, note


@gpu(duration=30)
@friendly_errors
def frequency_maps(image, alpha, request: gr.Request = None):
    rgb = read_image(image).rgb
    model = O.sweep_models()[float(alpha)]
    high, low = O.frequency_maps(model, rgb)
    energy = {k: _share(v) for k, v in O.group_energy(model, O.grey_input(rgb)).items()}  # this image, same layer
    side = max(high.shape[1:])
    if request_locale(request) == "zh-CN":
        return O.maps_grid(high, side), O.maps_grid(low, side), (
            f"α = {float(alpha):g} 网络的第一个 OctConv 层：{len(high)} 张 {high.shape[2]}×{high.shape[1]} 的高频特征图和 "
            f"{len(low)} 张 {low.shape[2]}×{low.shape[1]} 的低频特征图（放大到同样大小显示）。低频组看到的是经 2 倍平均池化的"
            "图像：它保留形状和明暗，高频组保留边缘和细密的纹理。\n\n"
            f"**在这张图像上实测**：高于 {O.HF_CUT:g} 周期/像素的频谱能量占比（各通道平均，先减去每张图的均值）——"
            f"高频组 **{energy['high']}**，低频组 **{energy['low']}**；只算两组都能容纳的频带"
            f"（两个方向都低于 {O.COMMON_BAND:g} 周期/像素）：高频组 {energy['high_common_band']}，"
            f"低频组 {energy['low_common_band']}。")
    note = (f"The first OctConv layer of the α = {float(alpha):g} network: {len(high)} high-frequency maps at "
            f"{high.shape[2]}×{high.shape[1]} and {len(low)} low-frequency maps at {low.shape[2]}×{low.shape[1]} "
            "(shown enlarged to the same size). The low group sees the image average-pooled by 2: it keeps "
            "shapes and shading, the high group keeps edges and fine texture.\n\n"
            f"**Measured on this image**: the share of spectral energy above {O.HF_CUT:g} cycles per pixel "
            f"(averaged over channels, each map's mean removed) — high group **{energy['high']}**, low group "
            f"**{energy['low']}**; counting only the band both groups can hold (below {O.COMMON_BAND:g} cycles "
            f"per pixel in both directions): high {energy['high_common_band']}, low "
            f"{energy['low_common_band']}.")
    return O.maps_grid(high, side), O.maps_grid(low, side), note


def _share(value: float) -> str:
    """A measured share as a percentage; '—' for a flat image (no map has any energy)."""
    return "—" if value != value else f"{value:.0%}"


def energy_note():
    """energy_note_en and its Chinese, shown in the visitor's language."""
    return localized(energy_note_en(), energy_note_en(zh=True))


def energy_note_en(zh: bool = False) -> str:
    """§3.1's premise measured with seeds on test digits (results/octconv.json -> group_energy)."""
    from papers import results

    claim, unit = "group_energy", " %"
    keys = ("ours", "high", "low_common_band", "high_common_band")
    figures = {key: results.figure(SLUG, claim, key, unit) for key in keys}
    values = [results.value(SLUG, claim, key) for key in keys]
    resolution = None not in values and values[3] - values[2] < (values[1] - values[0]) / 2
    if zh:
        return zh_figure(
            f"**论文的前提（§3.1，图 1）实测**（`python -m papers.reproduce octconv`；随附的 α = {O.ENERGY_ALPHA:g} 网络的"
            f"第一个 OctConv 层，每个随机种子抽 {O.ENERGY_DIGITS} 个测试数字）：高于 {O.HF_CUT:g} 周期/像素的频谱能量占比，"
            f"低频组 **{figures['ours']}**，高频组 **{figures['high']}**。只算两组都能容纳的频带时："
            f"低频组 {figures['low_common_band']}，高频组 {figures['high_common_band']}"
            + ("——差距小得多：大部分差别来自低频组的分辨率（它容纳不了更高的频率），而不是它学到的内容。" if resolution else "。"))
    return (f"**The paper's premise (§3.1, Fig. 1), measured** (`python -m papers.reproduce octconv`; first OctConv layer "
            f"of the shipped α = {O.ENERGY_ALPHA:g} network, {O.ENERGY_DIGITS} test digits drawn per seed): the share of "
            f"spectral energy above {O.HF_CUT:g} cycles per pixel is **{figures['ours']}** in the low-frequency group "
            f"and **{figures['high']}** in the high-frequency group. Counting only the band both groups can hold: low "
            f"{figures['low_common_band']}, high {figures['high_common_band']}"
            + (" — a much smaller gap: most of the difference comes from the low group's resolution (it cannot hold "
               "higher frequencies), not from what it learned." if resolution else "."))


def retrained_table():
    """retrained_table_en and its Chinese, shown in the visitor's language."""
    return localized(retrained_table_en(), retrained_table_en(zh=True))


def retrained_table_en(zh: bool = False) -> str:
    """Fig. 4 with seeds: every α retrained from scratch per seed (results/octconv.json)."""
    from papers import results

    rows = ["| α | multiply-adds per digit | share of α = 0 (Table 1, one layer) | accuracy, retrained (mean ± sd) | "
            "plain CNN (α = 0), same seeds |", "| --- | --- | --- | --- | --- |"]
    if zh:
        rows[0] = "| α | 每个数字的乘加 | 占 α = 0 的比例（表 1，单层） | 重新训练的准确率（均值 ± 标准差） | 普通 CNN（α = 0），相同随机种子 |"
    for alpha in O.SWEEP_ALPHAS:
        claim = f"retrained_accuracy_alpha_{alpha:g}"
        ours = results.figure(SLUG, claim, unit=" %") if alpha else ("—（基线）" if zh else "— (the baseline)")
        plain = results.figure(SLUG, claim, "plain_cnn", unit=" %") if alpha else \
            results.figure(SLUG, "retrained_accuracy_alpha_0.5", "plain_cnn", unit=" %")
        share = (f"{results.figure(SLUG, f'macs_fraction_alpha_{alpha:g}', unit=' %')} "
                 f"({results.paper_figure(SLUG, f'macs_fraction_alpha_{alpha:g}', ' %', digits=1)})")
        rows.append(f"| {alpha:g} | {results.figure(SLUG, f'macs_alpha_{alpha:g}', digits=0)} | {share} | {ours} | {plain} |")
    if zh:
        return zh_figure("**从头重新训练**（`python -m papers.reproduce octconv`：每个随机种子都以相同方式训练全部五个网络；"
                         "种子 0 就是随附 α 扫描的训练）：\n\n" + "\n".join(rows))
    return ("**Retrained from scratch** (`python -m papers.reproduce octconv`: each seed trains all five networks "
            "alike; seed 0 is the shipped sweep's training):\n\n" + "\n".join(rows))


def bench_default():
    return measure(128, 56, 3)


# --------------------------------------------------------------------------- UI
THEORY_TEXT = ("One C→C octave convolution with α_in = α_out = α on a C×size×size feature map, against "
               "`nn.Conv2d` with the same weights' shape.")


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, INTRO_ZH))
    with gr.Tabs():
        with gr.Tab(t("Theory vs this device")):
            gr.Markdown(t(THEORY_TEXT))
            with gr.Row():
                channels = gr.Slider(16, 512, value=128, step=16, label=t("channels C"))
                size = gr.Slider(8, 112, value=56, step=8, label=t("feature-map size (pixels)"))
                kernel = gr.Slider(1, 7, value=3, step=2, label=t("kernel size k"))
            run = gr.Button(t("Measure"), variant="primary")
            plot = gr.LinePlot(x="alpha", y="ratio to Conv2d", color="series",
                               x_title=t("α (fraction of low-frequency channels)"), y_title=t("OctConv / Conv2d"),
                               color_title=t("series"),
                               label=t("theory vs measurement"))
            table = gr.Dataframe(label=t("Table 1, counted and measured"), interactive=False)
            note = gr.Markdown()
            run.click(measure, [channels, size, kernel], [plot, table, note], api_name=f"{SLUG}_measure",
                      concurrency_id=heavy_id(SLUG), concurrency_limit=1)

        with gr.Tab(t("Accuracy vs multiply-adds (Fig. 4, small)")):
            gr.Markdown(retrained_table())
            evaluate = gr.Button(t("Evaluate the shipped sweep"), variant="primary")
            sweep_plot = gr.ScatterPlot(x="k multiply-adds per digit", y="test accuracy (%)", color="α",
                                        x_title=t("k multiply-adds per digit"), y_title=t("test accuracy (%)"), color_title=t("α"),
                                        label=t("accuracy vs multiply-adds"))
            sweep_table = gr.Dataframe(label=t("the sweep"), interactive=False)
            sweep_note = gr.Markdown()
            evaluate.click(sweep, None, [sweep_plot, sweep_table, sweep_note], api_name=f"{SLUG}_sweep")
            on_tab_open(sweep, [sweep_plot, sweep_table, sweep_note])  # when this inner tab is selected

        with gr.Tab(t("The two octaves of your image")):
            with gr.Row():
                image = gr.Image(example_paths("chelsea.jpg")[0], label=t("image"), type="numpy")
                with gr.Column():
                    alpha = gr.Radio(VIEW_ALPHAS, value=0.5, label=t("α of the network"))
                    show = gr.Button(t("Show the frequency maps"), variant="primary")
            gr.Examples(example_paths("chelsea.jpg", "astronaut.jpg", "coins.png", "camera.png"), inputs=image,
                        label=t("Examples"))
            gr.Markdown(energy_note())
            with gr.Row():
                high = gr.Image(label=t("high frequency (full resolution)"), interactive=False)
                low = gr.Image(label=t("low frequency (half resolution)"), interactive=False)
            maps_note = gr.Markdown()
            show.click(frequency_maps, [image, alpha], [high, low, maps_note], api_name=f"{SLUG}_maps")
            on_tab_open(frequency_maps, [high, low, maps_note], [image, alpha])  # when this inner tab is selected
    gr.Markdown(localized(weights_note(O.SWEEP, adds=ADDS), weights_note_zh(O.SWEEP, adds=ADDS_ZH)))  # below
    on_tab_open(measure, [plot, table, note], [channels, size, kernel])  # when the OctConv tab is opened


ADDS = "the trained α sweep and the feature maps"
ADDS_ZH = "训练好的 α 扫描网络和特征图"

ZH = {
    "Theory vs this device": "理论 vs 本设备",
    THEORY_TEXT: "在 C×size×size 的特征图上做一个 C→C、α_in = α_out = α 的八度卷积，与权重形状相同的 `nn.Conv2d` 对比。",
    "channels C": "通道数 C",
    "feature-map size (pixels)": "特征图尺寸（像素）",
    "kernel size k": "卷积核大小 k",
    "Measure": "测量",
    "α (fraction of low-frequency channels)": "α（低频通道所占比例）",
    "OctConv / Conv2d": "OctConv / Conv2d",
    "theory vs measurement": "理论 vs 实测",
    "series": "曲线",
    "α": "α",
    "Table 1, counted and measured": "表 1：数出来的与测出来的",
    "Accuracy vs multiply-adds (Fig. 4, small)": "准确率 vs 乘加（小规模图 4）",
    "Evaluate the shipped sweep": "评估随附的 α 扫描",
    "k multiply-adds per digit": "每个数字的乘加（千次）",
    "test accuracy (%)": "测试准确率（%）",
    "accuracy vs multiply-adds": "准确率 vs 乘加",
    "the sweep": "α 扫描",
    "The two octaves of your image": "你的图像的两个八度",
    "image": "图像",
    "α of the network": "网络的 α",
    "Show the frequency maps": "显示高低频特征图",
    "Examples": "示例",
    "high frequency (full resolution)": "高频（全分辨率）",
    "low frequency (half resolution)": "低频（半分辨率）",
}
