"""mixup (Zhang et al. 2018): ERM vs mixup side by side, trained live on a CPU."""
from __future__ import annotations

import functools
import math

import gradio as gr
import numpy as np

from demos.common import heavy_id, example_paths, friendly_errors, header, on_tab_open, read_image
from papers import mixup
from papers.results import comparison_table
from papers.checkpoints import budget, gpu
from demos.common import device_note

SLUG = "mixup"
TITLE = "mixup"
PAPER_URL = "https://arxiv.org/abs/1710.09412"
INTRO = f"""Train on **mixtures** of examples: x̃ = λ·x_i + (1 − λ)·x_j and
ỹ = λ·y_i + (1 − λ)·y_j, with λ ~ Beta(α, α) and pairs drawn within a shuffled minibatch.
Below, the same small network is trained with plain ERM and with mixup from the same
initialisation on the same batches (the paper's Fig. 1b), then compared on accuracy,
calibration (ECE, lower is better) and memorisation of corrupted labels (§3.4).
At this tiny scale the differences vary with the seed; try several. Measured over seeds
(`python -m papers.reproduce mixup`; mixup first, ERM beside it, the paper's figure last):

{comparison_table(SLUG, ["memorised_flipped_labels_moons", "memorised_flipped_labels_circles",
                         "noisy_test_error_moons", "noisy_test_error_circles", "memorised_flipped_labels_moons_tab",
                         "clean_test_error_moons", "digits_test_error", "digits_ece"])}

With corrupted labels and long training, mixup fits fewer of them and generalises better — the
paper's §3.4 claim. At the 500 steps this tab trains, ERM has not yet fitted many flipped labels.
Without label noise ERM is as good or better here, and mixup's soft targets make a small network
*under*-confident, so its calibration is worse — unlike the paper's large networks."""

TOY_MESSAGE = "Press **Train ERM and mixup**: two small networks train side by side for a few seconds."
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


# --------------------------------------------------------------------------- toy (Fig. 1b)
def _toy_table(results: list[mixup.ToyResult], label_noise: float) -> str:
    rows = ["| | train acc. (labels as given) | test acc. | test ECE | memorised flipped labels |",
            "|---|---|---|---|---|"]
    for r in results:
        memorised = "–" if math.isnan(r.corrupted_fit) else f"{r.corrupted_fit:.1%}"
        rows.append(f"| **{r.name}** | {r.train_acc:.1%} | {r.test_acc:.1%} | {r.test_ece:.3f} | {memorised} |")
    note = (f"\n\n{label_noise:.0%} of the training labels were flipped (crosses in the plots); "
            f"*memorised*: {MEMORISED_HELP}." if label_noise > 0 else "")
    return "\n".join(rows) + note + "\n\nShading: the predicted probability of the orange class."


@gpu(duration=120)
@friendly_errors
def train_toy(dataset, label_noise, alpha, seed):
    """Train ERM and mixup(α) side by side, step for step; stream both decision surfaces."""
    if float(alpha) <= 0:
        raise gr.Error("α = 0 means no mixing (that is ERM): choose α > 0.")
    seed = int(seed) % 2**31  # any number the API sends is a valid seed (scikit-learn's too)
    data = mixup.toy_data(dataset, label_noise=float(label_noise), seed=seed)
    alphas = (0.0, float(alpha))
    models = [mixup.toy_model(int(seed)) for _ in alphas]
    runs = [mixup.toy_steps(model, data, a, seed=int(seed)) for model, a in zip(models, alphas)]
    for step, _ in zip(*runs, strict=True):  # strict: both generators run to their end (model.eval())
        if step % STREAM_EVERY == 0 and step < mixup.TOY_STEPS:
            yield (*(_surface(m, data, LIVE_RESOLUTION) for m in models),
                   f"Training both networks on the same batches: step {step} / {mixup.TOY_STEPS}…")
    results = [mixup.toy_result(mixup.method_name(a), m, data) for m, a in zip(models, alphas)]
    yield (*(_surface(m, data, FINAL_RESOLUTION) for m in models), _toy_table(results, float(label_noise)))


def _surface(model, data, resolution: int) -> np.ndarray:
    """The decision surface, enlarged (nearest neighbour) to DISPLAY_SIDE pixels for the page."""
    image = mixup.decision_surface(model, data, resolution)
    scale = max(1, DISPLAY_SIDE // resolution)
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


# --------------------------------------------------------------------------- mixing two images
@friendly_errors
def mix_two(image_a, image_b, label_a, label_b, lam):
    """(x̃, ỹ) for two images and their labels."""
    a, b = read_image(image_a).rgb, read_image(image_b).rgb
    label_a, label_b = (label_a or "image 1").strip(), (label_b or "image 2").strip()
    lam = float(lam)
    if label_a == label_b:
        return mixup.mix_images(a, b, lam), {label_a: 1.0}
    return mixup.mix_images(a, b, lam), {label_a: lam, label_b: 1 - lam}


@friendly_errors
def sample_lambda(alpha):
    if float(alpha) <= 0:
        raise gr.Error("Beta(α, α) needs α > 0.")
    return round(mixup.sample_lambda(float(alpha)), 3)


@functools.cache
def _initial_mix():
    return mix_two(*example_paths(*EXAMPLES.values()), *EXAMPLES.keys(), INITIAL_LAMBDA)


# --------------------------------------------------------------------------- digits comparison
def _digits_table(comparison: mixup.DigitComparison) -> str:
    rows = ["| method | seed | test accuracy | test ECE | seconds |", "|---|---|---|---|---|"]
    rows += [f"| {r.method} | {r.seed} | {r.test_acc:.2%} | {r.test_ece:.3f} | {r.seconds:.1f} |"
             for r in comparison.runs]
    summary = [f"**{method}**: accuracy {acc:.2%} ± {acc_sd:.2%}, ECE {ece:.3f} ± {ece_sd:.3f}"
               for method, (acc, acc_sd, ece, ece_sd) in comparison.summary().items()]
    return "\n".join(rows) + "\n\nMean ± std over seeds: " + "; ".join(summary)


@gpu(budget=("budget_s", MAX_BUDGET_S))
@friendly_errors
def compare_digits(alpha, seeds, budget_s):
    if float(alpha) <= 0:
        raise gr.Error("α = 0 means no mixing: choose α > 0 (the paper used 0.1–0.4 on ImageNet, 1 on CIFAR-10).")
    seeds = min(max(int(seeds), 1), MAX_SEEDS)  # bounded, also via the API
    budget_s = min(max(float(budget_s), 0.0), MAX_BUDGET_S)
    yield "Training the first network…"
    comparison = None
    for comparison in mixup.compare_on_digits(float(alpha), seeds, steps=budget(**DIGIT_STEPS), budget_s=budget_s):
        yield _digits_table(comparison) + "\n\n*Training…*"
    if comparison is None:
        yield "The time budget ran out before the first run finished."
        return
    cut_short = len(comparison.runs) < 2 * seeds
    yield _digits_table(comparison) + ("\n\nStopped at the time budget." if cut_short else "")


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown("### Fig. 1(b) live: ERM vs mixup on a 2-D toy problem")
    with gr.Row():
        dataset = gr.Dropdown(list(mixup.TOY_SETS), value="moons", label="Data")
        label_noise = gr.Slider(0, 0.4, value=0.0, step=0.05, label="Corrupted training labels (fraction flipped)")
        alpha = gr.Slider(0.05, 4, value=1.0, step=0.05, label="α (Fig. 1b uses 1)")
        seed = gr.Number(0, precision=0, label="Seed")
    with gr.Row():
        toy_btn = gr.Button("Train ERM and mixup", variant="primary")
        toy_stop = gr.Button("Stop")
    with gr.Row():
        erm_img = gr.Image(label="ERM", interactive=False, height=320)
        mixup_img = gr.Image(label="mixup", interactive=False, height=320)
    toy_table = gr.Markdown(TOY_MESSAGE)
    toy_run = toy_btn.click(train_toy, [dataset, label_noise, alpha, seed], [erm_img, mixup_img, toy_table],
                            api_name=f"{SLUG}_toy", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    toy_stop.click(None, None, None, cancels=[toy_run], api_visibility="private")

    gr.Markdown("### Mix two images and their labels")
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
            on_tab_open(_initial_mix, [mixed_img, mixed_label])
    with gr.Row():
        lam = gr.Slider(0, 1, value=INITIAL_LAMBDA, step=0.01, label="λ")
        draw_alpha = gr.Slider(0.05, 4, value=0.4, step=0.05, label="α")
        draw_btn = gr.Button("Sample λ ~ Beta(α, α)")
    mix_inputs = [image_a, image_b, label_a, label_b, lam]
    for trigger in (lam.change, label_a.submit, label_b.submit, image_a.change, image_b.change):
        trigger(mix_two, mix_inputs, [mixed_img, mixed_label], api_visibility="private", show_progress="hidden")
    draw_btn.click(sample_lambda, draw_alpha, lam, api_name=f"{SLUG}_sample_lambda")

    gr.Markdown("### ERM vs mixup on the digits (held-out accuracy and calibration, several seeds)")
    with gr.Row():
        digits_alpha = gr.Slider(0.05, 2, value=0.3, step=0.05,
                                 label="α (the paper: 0.1–0.4 on ImageNet, 1 on CIFAR-10)")
        seeds = gr.Slider(1, MAX_SEEDS, value=3, step=1, label="Seeds")
        budget_s = gr.Slider(5, MAX_BUDGET_S, value=budget(**DIGIT_BUDGET_S), step=5, label="Time budget (seconds)",
                             info=device_note(f"{DIGIT_STEPS['gpu']} training steps per run (not {DIGIT_STEPS['cpu']})"))
    with gr.Row():
        digits_btn = gr.Button("Compare on digits", variant="primary")
        digits_stop = gr.Button("Stop")
    digits_table = gr.Markdown()
    digits_run = digits_btn.click(compare_digits, [digits_alpha, seeds, budget_s], digits_table,
                                  api_name=f"{SLUG}_digits", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    digits_stop.click(None, None, None, cancels=[digits_run], api_visibility="private")


def bench_default():
    """The toy comparison at default settings (moons, no label noise, α = 1)."""
    *_, last = train_toy("moons", 0.0, 1.0, 0)
    return last
