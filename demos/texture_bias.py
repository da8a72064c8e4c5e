"""Geirhos et al. 2019: texture vs shape bias, reproduced small by training two CNNs on the fly."""
from __future__ import annotations

import numpy as np
import gradio as gr
import pandas as pd

from demos.common import bounded_seconds, heavy_id, example_paths, friendly_errors, header, read_image, weights_note
from papers import style_transfer as st
from papers.results import comparison_table, paper_figure
from papers import texture_bias as tb
from papers.checkpoints import budget, gpu
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
the class, so that model's shape bias is there by construction; the finding is that the natural
model, given a texture that predicts the class, learns to decide by it."""

NATURAL, STYLIZED = "natural-trained CNN", "stylized-trained CNN"
MODEL_NAMES = {"natural": NATURAL, "stylized": STYLIZED}
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
def _curves(history: list[tb.TrainProgress]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(loss, held-out accuracy, shape bias) against step, one line per model."""
    def frame(column: str, value) -> pd.DataFrame:
        rows = [{"step": p.step, column: value(p, r), "model": MODEL_NAMES[r]} for p in history for r in tb.REGIMES]
        return pd.DataFrame(rows, columns=["step", column, "model"])

    return (frame("loss", lambda p, r: p.loss[r]), frame("accuracy", lambda p, r: p.accuracy[r]),
            frame("shape bias", lambda p, r: p.decisions[r].shape_bias))


def _per_class_frame(per_class: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The paper's Fig. 4/5 style: shape bias per class, with the paper's means as reference."""
    rows = [{"class": c, "shape bias": v, "model": MODEL_NAMES[r]}
            for r, values in per_class.items() for c, v in values.items() if not np.isnan(v)]
    rows += [{"class": c, "shape bias": v, "model": name}
             for name, v in tb.PAPER_SHAPE_BIAS.items() for c in tb.SHAPES]
    return pd.DataFrame(rows, columns=["class", "shape bias", "model"])


def _display(image: np.ndarray) -> np.ndarray:
    """(S, S) float in [0, 1] -> enlarged uint8 for the page."""
    big = np.kron(image, np.ones((DISPLAY_SCALE, DISPLAY_SCALE), dtype=np.float32))
    return (np.clip(big, 0, 1) * 255 + 0.5).astype(np.uint8)


def _cue(prediction: int, shape: int, texture: int) -> str:
    """Which cue a decision followed, for a caption."""
    name = tb.SHAPES[prediction]
    return "shape ✓" if prediction == shape else f"{name} (texture)" if prediction == texture else name


def _gallery(models: dict, seed: int) -> list[tuple[np.ndarray, str]]:
    images, shapes, textures = tb.cue_conflict_set(1, seed=seed)
    pick = np.random.default_rng(seed).choice(len(shapes), GALLERY_SIZE, replace=False)
    answers = {r: tb.predict(m, images[pick]) for r, m in models.items()}
    items = []
    for i, index in enumerate(pick):
        s, t = int(shapes[index]), int(textures[index])
        caption = (f"{tb.SHAPES[s]} + {tb.TEXTURES[t]}: natural → {_cue(int(answers['natural'][i]), s, t)}, "
                   f"stylized → {_cue(int(answers['stylized'][i]), s, t)}")
        items.append((_display(images[index, 0].numpy()), caption))
    return items


def _summary(p: tb.TrainProgress) -> str:
    lines = [f"| | {NATURAL} | {STYLIZED} |", "| --- | --- | --- |",
             "| accuracy on its own held-out data | " + " | ".join(f"{p.accuracy[r]:.0%}" for r in tb.REGIMES) + " |",
             "| **shape bias** on cue-conflict images | " + " | ".join(f"**{p.decisions[r].shape_bias:.0%}**" for r in tb.REGIMES) + " |",
             "| decisions: shape / texture / neither | " + " | ".join(
                 f"{d.shape} / {d.texture} / {d.neither}" for d in p.decisions.values()) + " |"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- handlers
def _state(progress: tb.TrainProgress) -> dict:
    return {r: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for r, m in progress.models.items()}


def _models(state: dict | None) -> dict:
    if not state:
        raise gr.Error("Train both models first (press **Train both**; about 30 s).")
    models = {}
    for regime, weights in state.items():
        models[regime] = tb.SmallCNN()
        models[regime].load_state_dict(weights)
    return models


@gpu(budget=("budget_s", BUDGET_S[1]))
@friendly_errors
def train(steps, texture_match, budget_s, seed):
    """Stream (status, loss, accuracy, shape-bias curves, per-class plot, gallery, state)."""
    config = tb.TrainConfig(steps=int(steps), texture_match=float(texture_match), time_budget_s=bounded_seconds(budget_s, *BUDGET_S[:2]),
                            seed=int(seed) % 2**31, eval_every=max(1, min(25, int(steps) // 4)))
    history = []
    for progress in tb.train_both(config):
        history.append(progress)
        bias = progress.shape_bias()
        status = (f"Step {progress.step}/{config.steps}, {progress.elapsed_s:.0f} s of {config.time_budget_s:.0f} s. "
                  f"Shape bias so far: natural **{bias['natural']:.0%}**, stylized **{bias['stylized']:.0%}**.")
        if not progress.done:
            yield (status, *_curves(history)) + (gr.skip(),) * 3
    last = history[-1]
    images, shapes, textures = tb.cue_conflict_set(config.conflicts_per_pair, seed=config.seed + 12345)
    per_class = {r: tb.shape_bias_per_class(tb.predict(m, images), shapes, textures) for r, m in last.models.items()}
    status = (f"Done: {last.step} steps each in {last.elapsed_s:.0f} s ({last.reason}).\n\n" + _summary(last)
              + f"\n\nThe paper: ResNet-50 on ImageNet {paper_figure(SLUG, 'natural_shape_bias', ' %', digits=0)}, "
              f"on Stylized-ImageNet {paper_figure(SLUG, 'shape_bias', ' %', digits=0)}.")
    yield (status, *_curves(history), _per_class_frame(per_class), _gallery(last.models, config.seed), _state(last))


def _texture_sheet(texture_name: str, upload) -> tuple[np.ndarray, str]:
    if upload is not None:
        grey = read_image(upload).rgb.mean(axis=2)
        return tb.texture_sheet_from_image(grey), "your texture"
    return tb.texture_sheets()[tb.TEXTURES.index(texture_name)], f"{texture_name} texture"


def _answers(models: dict, image: np.ndarray) -> tuple[dict, dict]:
    return tuple(tb.probabilities(models[r], image) for r in tb.REGIMES)


@gpu(duration=20)
@friendly_errors
def compose(shape_name, texture_name, upload, seed, state):
    """A cue-conflict image of the chosen shape and texture, and both models' answers."""
    models = _models(state)
    rng = np.random.default_rng(int(seed) % 2**32)  # any number the API sends is a valid seed
    sheet, what = _texture_sheet(texture_name, upload)
    image = tb.compose(tb.silhouette(shape_name, rng), tb.texture_patch(sheet, rng))
    natural, stylized = _answers(models, image)
    shape = tb.SHAPES.index(shape_name)
    texture = tb.TEXTURES.index(texture_name) if upload is None else -1
    followed = "; ".join(f"{MODEL_NAMES[r]} → **{_cue(tb.SHAPES.index(max(a, key=a.get)), shape, texture)}**"
                         for r, a in zip(tb.REGIMES, (natural, stylized)))
    belongs = f" ({texture_name} belongs to {tb.SHAPES[texture]})" if upload is None else ""
    return _display(image), natural, stylized, f"A **{shape_name}** filled with **{what}**{belongs}. {followed}."


@gpu(duration=180)
@friendly_errors
def stylize(shape_name, texture, steps, state):
    """The paper's way to make a stimulus: Gatys transfer of a texture onto a silhouette (VGG-19)."""
    models = _models(state)
    texture_rgb = read_image(texture).rgb
    mask = tb.silhouette(shape_name, np.random.default_rng(0), size=STIMULUS_SIDE)
    content = (np.where(mask, 0.15, 0.85)[..., None].repeat(3, 2) * 255).astype(np.uint8)  # dark shape, light ground
    config = st.StyleConfig(size=STIMULUS_SIDE, ratio=1e-3, steps=int(steps), init="content")
    network = st.vgg19("avg")
    for progress in st.synthesise(content, texture_rgb, config, network, stream_every=5):
        yield progress.image, gr.skip(), gr.skip(), f"Style transfer step {progress.step}/{config.steps}…"
    small = tb.to_model_image(progress.image)
    natural, stylized = _answers(models, small)
    yield progress.image, natural, stylized, (f"Stylized {shape_name} after {progress.step} steps; the models see "
                                              "it reduced to 32 px grey.")


def bench_default() -> str:
    *_, last = train(default_steps(), tb.TrainConfig.texture_match, BUDGET_S[2], 0)
    return last[0]


# --------------------------------------------------------------------------- UI
def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    state = gr.State(None)
    with gr.Row():
        steps = gr.Slider(*STEPS[:2], value=default_steps(), step=10,
                          label="Training steps per model",
                          info=device_note(f"{GPU_STEPS} steps per model by default in the same time budget"))
        match = gr.Slider(0.5, 1.0, value=tb.TrainConfig.texture_match, step=0.05,
                          label="Natural data: how often a class wears its own texture")
        budget = gr.Slider(*BUDGET_S[:2], value=BUDGET_S[2], step=5, label="Time budget (seconds)")
        seed = gr.Number(0, precision=0, label="Seed")
    with gr.Row():
        train_btn = gr.Button("Train both", variant="primary")
        stop_btn = gr.Button("Stop")
    status = gr.Markdown("Press **Train both** (about 30 s on a CPU).")
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="loss", color="model", title="Training loss", height=240)
        acc_plot = gr.LinePlot(x="step", y="accuracy", color="model", title="Held-out accuracy (own data)",
                               height=240, y_lim=[0, 1])
        bias_plot = gr.LinePlot(x="step", y="shape bias", color="model", title="Shape bias on cue-conflict images",
                                height=240, y_lim=[0, 1])
    per_class = gr.ScatterPlot(x="class", y="shape bias", color="model", y_lim=[0, 1], height=300,
                               title="Shape bias per class (by the image's shape); paper means for reference")
    gallery = gr.Gallery(label="Cue-conflict examples (shape + texture of another class) and which cue each "
                               "model followed", columns=4, height="auto")

    gr.Markdown("### Make your own cue-conflict image\nPick a shape and a texture (or upload a texture).")
    with gr.Row():
        with gr.Column():
            shape = gr.Dropdown(list(tb.SHAPES), value="star", label="Shape")
            texture = gr.Dropdown(list(tb.TEXTURES), value="brick", label="Texture (brick belongs to circle, …)")
            upload = gr.Image(label="…or upload a texture", type="numpy", height=160)
            compose_seed = gr.Number(1, precision=0, label="Placement seed")
            compose_btn = gr.Button("Compose and classify", variant="primary")
        composed = gr.Image(label="Cue-conflict image (32 px, enlarged)", type="numpy", interactive=False, height=200)
        natural_label = gr.Label(label=NATURAL, num_top_classes=3)
        stylized_label = gr.Label(label=STYLIZED, num_top_classes=3)
    compose_text = gr.Markdown()
    gr.Examples(example_paths("brick.png", "grass.png", "gravel.png"), inputs=upload, label="Texture examples")

    with gr.Accordion("The paper's way: make the stimulus by style transfer (needs VGG-19)", open=False):
        gr.Markdown(weights_note(st.VGG19_IMAGENET, adds="Gatys style transfer of any texture onto a silhouette, "
                                                         "as the paper made its cue-conflict images"))
        with gr.Row():
            st_texture = gr.Image(label="Texture / style image", type="numpy", height=160)
            st_steps = gr.Slider(10, 300, value=50, step=10, label="Style-transfer steps")
            st_btn = gr.Button("Stylize the shape and classify")
        st_image = gr.Image(label="Stylized silhouette", type="numpy", interactive=False, height=200)

    event = train_btn.click(train, [steps, match, budget, seed],
                            [status, loss_plot, acc_plot, bias_plot, per_class, gallery, state],
                            api_name=f"{SLUG}_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[event], api_visibility="private")
    compose_btn.click(compose, [shape, texture, upload, compose_seed, state],
                      [composed, natural_label, stylized_label, compose_text], api_name=f"{SLUG}_compose")
    st_event = st_btn.click(stylize, [shape, st_texture, st_steps, state],
                            [st_image, natural_label, stylized_label, compose_text], api_name=f"{SLUG}_stylize",
                            concurrency_id=heavy_id(SLUG), concurrency_limit=1)
    stop_btn.click(None, None, None, cancels=[st_event], api_visibility="private")
