"""Octave Convolution tab: Table 1's theory against this device's clock, the α sweep, the two octaves."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from demos.common import heavy_id, example_paths, friendly_errors, header, read_image, weights_note
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

MEASURE_LIMIT = {"cpu": 2_000_000_000, "cuda": 200_000_000_000}  # multiply-adds of the Conv2d per run
VIEW_ALPHAS = [a for a in O.SWEEP_ALPHAS if a > 0]


# --------------------------------------------------------------------------- handlers
@gpu(duration=60)
@friendly_errors
def measure(channels, size, kernel):
    channels, size, kernel = int(channels), int(size), int(kernel)
    if not (2 <= channels <= 1024 and 2 <= size <= 224 and size % 2 == 0 and 1 <= kernel <= 7 and kernel % 2):
        raise gr.Error("Choose channels 2–1024, an even size 2–224 and an odd kernel 1–7.")
    macs = channels * channels * kernel ** 2 * size ** 2  # the regular convolution: C · C · k² · H · W
    limit = MEASURE_LIMIT.get(get_device().type)
    if limit and macs > limit:
        raise gr.Error(f"That convolution needs {macs / 1e9:.1f} G multiply-adds, more than the "
                       f"{limit / 1e9:.0f} G allowed per measurement here: lower the channels or size.")
    points = O.theory_vs_measured(channels, size, kernel)
    table = pd.DataFrame([[p.alpha, round(p.theory_ratio, 3), round(p.counted_ratio, 3), round(O.memory_ratio(p.alpha), 3),
                           round(p.seconds * 1e3, 3), round(p.measured_ratio, 3)] for p in points],
                         columns=["α", "multiply-adds (Table 1)", "multiply-adds (counted)", "memory (Table 1)",
                                  "latency (ms)", "latency ratio (measured)"])
    plot = pd.DataFrame([(p.alpha, value, series) for p in points for series, value in
                         (("multiply-adds: Table 1", p.theory_ratio), ("latency: measured", p.measured_ratio))],
                        columns=["alpha", "ratio to Conv2d", "series"])
    best = min(points[1:], key=lambda p: p.measured_ratio)
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
def sweep():
    points = O.sweep_results(O.sweep_models())
    table = pd.DataFrame([[p.alpha, p.params, p.macs, round(100 * p.test_accuracy, 2)] for p in points],
                         columns=["α", "parameters", "multiply-adds per digit", "test accuracy (%)"])
    plot = pd.DataFrame([(p.macs / 1e3, 100 * p.test_accuracy, f"α = {p.alpha:g}") for p in points],
                        columns=["k multiply-adds per digit", "test accuracy (%)", "α"])
    n_test = len(O.digits16("test")[1])
    note = (f"Five copies of one network, α = 0 (a plain CNN) to 0.75, trained alike on 16×16 handwritten digits and "
            f"tested on {n_test} held-out ones (one image = {100 / n_test:.2f} points): equal parameters, multiply-adds "
            f"falling to {points[-1].macs / points[0].macs:.0%}. The paper's Fig. 4 (ResNet-50 on ImageNet) finds "
            "accuracy holding or rising up to α ≈ 0.5 and dropping beyond; at this toy scale differences of one "
            "or two images are noise: the retrained seeds above give the spread.")
    return plot, table, note


@gpu(duration=30)
@friendly_errors
def frequency_maps(image, alpha):
    rgb = read_image(image).rgb
    model = O.sweep_models()[float(alpha)]
    high, low = O.frequency_maps(model, rgb)
    side = max(high.shape[1:])
    note = (f"The first OctConv layer of the α = {float(alpha):g} network: {len(high)} high-frequency maps at "
            f"{high.shape[2]}×{high.shape[1]} and {len(low)} low-frequency maps at {low.shape[2]}×{low.shape[1]} "
            "(shown enlarged to the same size). The low group sees the image average-pooled by 2: it keeps "
            "shapes and shading, the high group keeps edges and fine texture.")
    return O.maps_grid(high, side), O.maps_grid(low, side), note


def retrained_table() -> str:
    """Fig. 4 with seeds: every α retrained from scratch per seed (results/octconv.json)."""
    from papers import results

    rows = ["| α | multiply-adds per digit | share of α = 0 (Table 1, one layer) | accuracy, retrained (mean ± sd) | "
            "plain CNN (α = 0), same seeds |", "| --- | --- | --- | --- | --- |"]
    for alpha in O.SWEEP_ALPHAS:
        claim = f"retrained_accuracy_alpha_{alpha:g}"
        ours = results.figure(SLUG, claim, unit=" %") if alpha else "— (the baseline)"
        plain = results.figure(SLUG, claim, "plain_cnn", unit=" %") if alpha else \
            results.figure(SLUG, "retrained_accuracy_alpha_0.5", "plain_cnn", unit=" %")
        share = (f"{results.figure(SLUG, f'macs_fraction_alpha_{alpha:g}', unit=' %')} "
                 f"({results.paper_figure(SLUG, f'macs_fraction_alpha_{alpha:g}', ' %', digits=1)})")
        rows.append(f"| {alpha:g} | {results.figure(SLUG, f'macs_alpha_{alpha:g}', digits=0)} | {share} | {ours} | {plain} |")
    return ("**Retrained from scratch** (`python -m papers.reproduce octconv`: each seed trains all five networks "
            "alike; seed 0 is the shipped sweep's training):\n\n" + "\n".join(rows))


def bench_default():
    return measure(128, 56, 3)


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(weights_note(O.SWEEP, adds="the trained α sweep and the feature maps"))
    with gr.Tabs():
        with gr.Tab("Theory vs this device"):
            gr.Markdown("One C→C octave convolution with α_in = α_out = α on a C×size×size feature map, against "
                        "`nn.Conv2d` with the same weights' shape.")
            with gr.Row():
                channels = gr.Slider(16, 512, value=128, step=16, label="channels C")
                size = gr.Slider(8, 112, value=56, step=8, label="feature-map size (pixels)")
                kernel = gr.Slider(1, 7, value=3, step=2, label="kernel size k")
            run = gr.Button("Measure", variant="primary")
            plot = gr.LinePlot(x="alpha", y="ratio to Conv2d", color="series", x_title="α (fraction of low-frequency channels)",
                               y_title="OctConv / Conv2d", label="theory vs measurement")
            table = gr.Dataframe(label="Table 1, counted and measured", interactive=False)
            note = gr.Markdown()
            run.click(measure, [channels, size, kernel], [plot, table, note], api_name=f"{SLUG}_measure",
                      concurrency_id=heavy_id(SLUG), concurrency_limit=1)

        with gr.Tab("Accuracy vs multiply-adds (Fig. 4, small)"):
            gr.Markdown(retrained_table())
            evaluate = gr.Button("Evaluate the shipped sweep", variant="primary")
            sweep_plot = gr.ScatterPlot(x="k multiply-adds per digit", y="test accuracy (%)", color="α",
                                        label="accuracy vs multiply-adds")
            sweep_table = gr.Dataframe(label="the sweep", interactive=False)
            sweep_note = gr.Markdown()
            evaluate.click(sweep, None, [sweep_plot, sweep_table, sweep_note], api_name=f"{SLUG}_sweep")

        with gr.Tab("The two octaves of your image"):
            with gr.Row():
                image = gr.Image(label="image", type="numpy")
                with gr.Column():
                    alpha = gr.Radio(VIEW_ALPHAS, value=0.5, label="α of the network")
                    show = gr.Button("Show the frequency maps", variant="primary")
            gr.Examples(example_paths("chelsea.jpg", "astronaut.jpg", "coins.png", "camera.png"), inputs=image)
            with gr.Row():
                high = gr.Image(label="high frequency (full resolution)", interactive=False)
                low = gr.Image(label="low frequency (half resolution)", interactive=False)
            maps_note = gr.Markdown()
            show.click(frequency_maps, [image, alpha], [high, low, maps_note], api_name=f"{SLUG}_maps")
