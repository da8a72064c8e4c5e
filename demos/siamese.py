"""Siamese similarity network (Chopra, Hadsell & LeCun 2005): train a metric live, verify pairs."""
from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import pandas as pd
import torch

from demos.common import heavy_id, device_note, friendly_errors, header, on_tab_open, read_image, weights_note
from papers.checkpoints import WeightsUnavailable, budget, get_device, gpu, seeded_init
from papers import results, siamese

SLUG = "siamese"
TITLE = "Siamese similarity network"
PAPER_URL = "https://ieeexplore.ieee.org/document/1467314"
INTRO = """Two copies of one convnet G_W map two images to vectors; their **L1 distance E_W is
the energy**: low for *genuine* pairs (same class), high for *impostor* pairs. The paper trains
on some people and verifies **people it never saw**. Here you train on some digit classes (or on
30 of the 40 ORL faces, the paper's own data, when they are installed) and verify the held-out
ones. Label convention, as in the paper: **Y = 0 genuine, Y = 1 impostor**."""


def _versus(claim_id: str, method: str) -> str:
    """How the learned metric compares with `method` on a claim (lower EER is better): worse or
    better only when the difference of the means exceeds the sum of the two seed spreads."""
    found = results.claim(SLUG, claim_id)
    if not found or method not in found["baselines"]:
        return "compared with"
    ours, other = found["ours"], found["baselines"][method]
    gap, noise = ours["mean"] - other["mean"], ours["sd"] + other["sd"]
    if abs(gap) <= noise:  # within the seed-to-seed spread: say which way the means lean
        return "no better than" if gap >= 0 else "not reliably better than"
    return "**worse** than" if gap > 0 else "**better** than"


def honest_note() -> str:
    """What the measurements say (results/siamese.json; mean ± sd over seeds), a loss included."""
    fig = functools.partial(results.figure, SLUG)
    text = (f"*Honest note* (equal error rate, EER, lower is better; each seed trains G_W from scratch for "
            f"{siamese.TRAIN_STEPS} steps on digits 0–6): on the **unseen** digits 7–9 the learned metric "
            f"reaches {fig('unseen_digits_eer')}, {_versus('unseen_digits_eer', 'pixels')} raw pixels "
            f"({fig('unseen_digits_eer', 'pixels', spread=False)}, no randomness) and {_versus('unseen_digits_eer', 'untrained')} the same "
            f"network untrained ({fig('unseen_digits_eer', 'untrained')}). On the **trained** classes 0–6 (their "
            f"test images) it reaches {fig('seen_digits_eer')}, {_versus('seen_digits_eer', 'pixels')} raw "
            f"pixels ({fig('seen_digits_eer', 'pixels', spread=False)}): seven training classes teach it those classes, "
            "not a metric that transfers.")
    if results.claim(SLUG, "orl_unseen_eer"):
        text += (f" **ORL faces** (train on 30 people, verify the 10 others; {siamese.FACE_STEPS} steps): "
                 f"learned {fig('orl_unseen_eer')}, {_versus('orl_unseen_eer', 'pixels')} raw pixels "
                 f"({fig('orl_unseen_eer', 'pixels', spread=False)}); untrained {fig('orl_unseen_eer', 'untrained')}.")
    return text + (" The paper trained far longer, with distorted copies, on more people. Regenerate: "
                   "`python -m papers.reproduce siamese`.")


DIGITS, FACES = "digits", "ORL faces"
SHIPPED_KEY = (DIGITS, tuple(range(7)), "chopra2005")  # what the shipped checkpoint was trained on
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


@functools.cache
def _shipped_evaluation() -> siamese.Evaluation:
    return siamese.evaluate(siamese.pretrained(), _data(*SHIPPED_KEY[:2]), SHIPPED_KEY[2])


def _current(state: dict | None):
    """(model, data, loss, evaluation, key): the visitor's trained model, else the shipped one."""
    if not state:
        return (siamese.pretrained(), _data(*SHIPPED_KEY[:2]), SHIPPED_KEY[2],
                _shipped_evaluation(), SHIPPED_KEY)
    dataset, train_digits, loss = state["key"]
    data = _data(dataset, train_digits)
    model = siamese.SiameseNet(data.config)
    model.load_state_dict(state["weights"])
    return model.eval(), data, loss, state["evaluation"], state["key"]


# --------------------------------------------------------------------------- plot frames
def _loss_frame(history: list[siamese.Progress]) -> pd.DataFrame:
    return pd.DataFrame({"step": [p.step for p in history], "loss": [p.loss for p in history]})


def _embedding_frame(embeddings: torch.Tensor, labels: torch.Tensor) -> pd.DataFrame:
    xy = siamese.project_2d(embeddings)
    return pd.DataFrame({"PC 1": xy[:, 0], "PC 2": xy[:, 1],
                         "class": [f"class {c}" for c in labels.tolist()]})


def _histogram_frame(ev: siamese.Evaluation) -> pd.DataFrame:
    edges = np.linspace(0, max(ev.genuine.max(), ev.impostor.max()), HIST_BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    frames = []
    for kind, values in (("genuine (Y=0)", ev.genuine), ("impostor (Y=1)", ev.impostor)):
        counts, _ = np.histogram(values, edges)
        frames.append(pd.DataFrame({"energy E_W": centres, "fraction of pairs": counts / len(values),
                                    "pairs": kind}))
    return pd.concat(frames, ignore_index=True)


def _roc_frame(learned: siamese.Roc, pixels: siamese.Roc) -> pd.DataFrame:
    frames = []
    for name, curve in (("learned E_W", learned), ("raw-pixel L1", pixels)):
        keep = np.unique(np.linspace(0, len(curve.far) - 1, MAX_CURVE_POINTS).round().astype(int))
        frames.append(pd.DataFrame({"false accept rate": curve.far[keep],
                                    "genuine accept rate": 1 - curve.frr[keep], "metric": name}))
    return pd.concat(frames, ignore_index=True)


def _rates_text(ev: siamese.Evaluation, threshold: float) -> str:
    far, frr = ev.roc.at(threshold)
    return (f"**Threshold {threshold:.2f}** (accept a pair when E_W ≤ threshold): false accept rate "
            f"**{far:.1%}** of impostor pairs, false reject rate **{frr:.1%}** of genuine pairs. "
            f"Equal error rate **{ev.roc.eer:.3f}** at threshold {ev.roc.eer_threshold:.2f}.")


def _result_values(state: dict | None):
    """(histograms, ROC, slider maximum, threshold, rates) of the current model on the held-out set."""
    _, data, _, ev, key = _current(state)
    threshold = round(ev.roc.eer_threshold, 2)
    top = round(float(max(ev.genuine.max(), ev.impostor.max())), 2)
    pixels = _baseline(*key[:2])
    text = (f"Held-out set: {data.describe()}. Equal error rate: learned E_W **{ev.roc.eer:.3f}**, "
            f"raw-pixel L1 {pixels.eer:.3f}.\n\n" + _rates_text(ev, threshold))
    return _histogram_frame(ev), _roc_frame(ev.roc, pixels), top, threshold, text


def _results(state: dict | None):
    hist, roc, top, threshold, text = _result_values(state)
    return hist, roc, gr.update(maximum=top, value=threshold), text


# --------------------------------------------------------------------------- handlers
def _shipped_embedding():
    """Initial 2-D view: the held-out classes under the shipped checkpoint."""
    try:
        _, data, _, ev, _ = _current(None)
    except WeightsUnavailable:
        return None
    return _embedding_frame(ev.embeddings, data.heldout_labels)


@gpu(duration=60)
def _shipped_view():
    """Page-load values from the shipped checkpoint (computed on the first visit, then cached):
    embedding, energy histograms, ROC, threshold slider, rates."""
    try:
        hist, roc, top, threshold, text = _result_values(None)
    except WeightsUnavailable:
        return None, None, None, gr.update(), ""
    return _shipped_embedding(), hist, roc, gr.update(maximum=top, value=threshold), text


@gpu(budget=("budget_s", GPU_BUDGET_S[1]))
@friendly_errors
def train(dataset, train_digits, loss, budget_s, seed, state):
    """Stream (status, loss plot, embedding plot, histograms, ROC, slider, rates, state)."""
    digits_key = () if dataset == FACES else tuple(sorted(int(d) for d in train_digits or []))
    key = (dataset, digits_key, loss)
    data = _data(*key[:2])
    budget_s = min(float(budget_s), budget(cpu=BUDGET_S, gpu=GPU_BUDGET_S)[1])  # bounded, also via the API
    with seeded_init(int(seed)):  # this request's weights; the process's RNG is left as it was
        model = siamese.SiameseNet(data.config)
    model = model.to(get_device())
    history, unchanged = [], (gr.skip(),) * 5
    for progress in siamese.fit(model, data, loss=loss, budget_s=budget_s, seed=int(seed)):
        history.append(progress)
        status = (f"Training on {data.describe()}: step {progress.step}, loss {progress.loss:.3f}, "
                  f"{progress.seconds:.0f} / {budget_s:.0f} s")
        if not progress.done:
            embeddings = siamese.embed(model, data.heldout_images)
            yield (status, _loss_frame(history), _embedding_frame(embeddings, data.heldout_labels)) + unchanged
    ev = siamese.evaluate(model, data, loss)
    state = {"key": key, "weights": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
             "evaluation": ev}
    done = (f"Trained for {history[-1].step} steps "
            f"({history[-1].seconds:.0f} s). Held-out equal error rate **{ev.roc.eer:.3f}** "
            f"(raw pixels: {_baseline(*key[:2]).eer:.3f}). Verification below now uses this model.")
    yield (done, _loss_frame(history), _embedding_frame(ev.embeddings, data.heldout_labels)) \
        + _results(state) + (state,)


@gpu(duration=20)
@friendly_errors
def move_threshold(threshold, state):
    return _rates_text(_current(state)[3], float(threshold))


@gpu(duration=20)
@friendly_errors
def random_pair(state, genuine: bool):
    """Two held-out images (of one class when `genuine`), enlarged for display."""
    _, data, _, _, _ = _current(state)
    rng = np.random.default_rng()
    labels = data.heldout_labels.numpy()
    first = rng.integers(len(labels))
    pool = np.flatnonzero((labels == labels[first]) if genuine else (labels != labels[first]))
    pool = pool[pool != first]
    second = rng.choice(pool)
    return tuple(_display(data.heldout_images[i]) for i in (first, second))


def _display(image: torch.Tensor) -> np.ndarray:  # (1, H, W) in [0, 1] -> (h, w) uint8, enlarged
    scale = max(1, PREVIEW_SIDE // image.shape[-1])
    big = image[0].repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return (big.numpy() * 255 + 0.5).astype(np.uint8)


@gpu(duration=20)
@friendly_errors
def verify(image_a, image_b, threshold, state):
    """Energy of the two images under the current model, and the verdict at `threshold`."""
    model, data, loss, _, _ = _current(state)
    inputs = [siamese.to_model_input(read_image(img).rgb, data.config) for img in (image_a, image_b)]
    e_w = siamese.pair_energy(model, *inputs, loss=loss)
    same = e_w <= float(threshold)
    verdict = "✅ **genuine**: the same class" if same else "❌ **impostor**: different classes"
    shown = [_display(x[0]) for x in inputs]
    return (f"E_W = **{e_w:.2f}** {'≤' if same else '>'} threshold {float(threshold):.2f} → {verdict}. "
            f"(Model: {'your trained one' if state else 'the shipped digits 0–6 checkpoint'}; "
            f"inputs are shown below as the network sees them.)", shown[0], shown[1])


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(honest_note())
    gr.Markdown(weights_note(siamese.DIGITS_CHECKPOINT, adds="verification before any training"))
    state = gr.State(None)
    datasets = [DIGITS] + ([FACES] if siamese.faces_available() else [])
    with gr.Row():
        with gr.Column(scale=1):
            dataset = gr.Radio(datasets, value=DIGITS, label="Data",
                               info=None if FACES in datasets else
                               "ORL faces: not installed (set GALLERY_ORL_DIR, see the paper module).")
            train_digits = gr.CheckboxGroup([str(d) for d in range(10)], value=[str(d) for d in range(7)],
                                            label="Digit classes to train on (the others are held out)")
            loss = gr.Radio(LOSS_CHOICES, value="chopra2005", label="Loss")
            low, high, default = budget(cpu=BUDGET_S, gpu=GPU_BUDGET_S)
            budget_s = gr.Slider(low, high, value=default, step=1, label="Training budget (seconds)",
                                 info=device_note(f"budgets up to {GPU_BUDGET_S[1]} s (default {GPU_BUDGET_S[2]} s)"))
            seed = gr.Number(0, precision=0, label="Seed")
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary")
                stop_btn = gr.Button("Stop")
        with gr.Column(scale=2):
            status = gr.Markdown("Showing the shipped checkpoint (digits 0–6, the paper's loss). "
                                 "Press **Train** to train your own.")
            with gr.Row():
                loss_plot = gr.LinePlot(x="step", y="loss", title="Training loss", height=260)
                embed_plot = gr.ScatterPlot(x="PC 1", y="PC 2", color="class", height=260,
                                            title="Held-out classes in G_W's space (2 principal components)")
    with gr.Row():
        hist_plot = gr.LinePlot(x="energy E_W", y="fraction of pairs",
                                color="pairs", height=280,
                                title="Energies of held-out pairs")
        roc_plot = gr.LinePlot(x="false accept rate", y="genuine accept rate",
                               color="metric", height=280,
                               title="ROC on held-out classes (accept when E_W ≤ threshold)")
    threshold = gr.Slider(0, siamese.max_energy(siamese.DIGITS_CONFIG, SHIPPED_KEY[2]),
                          step=0.01, label="Decision threshold on E_W")
    rates = gr.Markdown()
    on_tab_open(_shipped_view, [embed_plot, hist_plot, roc_plot, threshold, rates])
    gr.Markdown("### Verify two images\nPick a held-out pair, or upload / draw a digit "
                "(dark ink on white) in each box.")
    with gr.Row():
        image_a = gr.ImageEditor(label="Image 1", type="numpy", sources=["upload", "clipboard"], height=260)
        image_b = gr.ImageEditor(label="Image 2", type="numpy", sources=["upload", "clipboard"], height=260)
        with gr.Column():
            genuine_btn = gr.Button("Random genuine pair")
            impostor_btn = gr.Button("Random impostor pair")
            verify_btn = gr.Button("Verify", variant="primary")
    verdict = gr.Markdown()
    with gr.Row():
        seen_a = gr.Image(label="Image 1 as the network sees it", height=140, interactive=False)
        seen_b = gr.Image(label="Image 2 as the network sees it", height=140, interactive=False)

    result_outputs = [hist_plot, roc_plot, threshold, rates]
    run = train_btn.click(train, [dataset, train_digits, loss, budget_s, seed, state],
                          [status, loss_plot, embed_plot] + result_outputs + [state],
                          api_name=f"{SLUG}_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[run], api_visibility="private")
    threshold.release(move_threshold, [threshold, state], rates, api_name=f"{SLUG}_threshold")
    genuine_btn.click(functools.partial(random_pair, genuine=True), state, [image_a, image_b],
                      api_name=f"{SLUG}_genuine_pair")
    impostor_btn.click(functools.partial(random_pair, genuine=False), state, [image_a, image_b],
                       api_name=f"{SLUG}_impostor_pair")
    verify_btn.click(verify, [image_a, image_b, threshold, state], [verdict, seen_a, seen_b],
                     api_name=f"{SLUG}_verify")


def bench_default():
    """Verify one held-out pair with the shipped checkpoint (the tab's main inference)."""
    a, b = random_pair(None, genuine=True)
    return verify(a, b, _shipped_evaluation().roc.eer_threshold, None)
