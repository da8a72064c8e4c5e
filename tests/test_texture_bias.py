"""Texture vs shape bias: the paper's shape-bias definition, the generated data, the claim
(stylized training raises shape bias) on a short run, and the tab's handlers."""
import gradio as gr
import numpy as np
import pytest
import torch

from demos import texture_bias as demo
from papers import style_transfer as st
from papers import texture_bias as tb

torch.set_num_threads(1)


def test_shape_bias_counts_only_conflicts_and_cue_hits():
    shapes = torch.tensor([0, 0, 1, 2, 3, 4])
    textures = torch.tensor([1, 2, 0, 2, 5, 0])  # the 4th image has no conflict (2, 2)
    predictions = torch.tensor([0, 2, 3, 2, 5, 4])  # shape, texture, neither, (ignored), texture, shape
    decisions = tb.cue_decisions(predictions, shapes, textures)
    assert (decisions.shape, decisions.texture, decisions.neither) == (2, 2, 1)
    assert decisions.shape_bias == pytest.approx(2 / 4)
    assert np.isnan(tb.cue_decisions(torch.tensor([3]), torch.tensor([0]), torch.tensor([1])).shape_bias)
    per_class = tb.shape_bias_per_class(predictions, shapes, textures)
    assert per_class["circle"] == pytest.approx(0.5) and per_class["cross"] == 1.0 and per_class["star"] == 0.0
    assert np.isnan(per_class["triangle"])  # its only image has no cue conflict
    assert np.isnan(per_class["heart"])  # no images


def test_cue_conflict_set_covers_every_pair_of_different_cues():
    images, shapes, textures = tb.cue_conflict_set(2, seed=0)
    k = len(tb.SHAPES)
    assert images.shape == (2 * k * (k - 1), 1, tb.IMAGE_SIZE, tb.IMAGE_SIZE)
    assert bool((shapes != textures).all())
    assert len({(int(s), int(t)) for s, t in zip(shapes, textures)}) == k * (k - 1)


@pytest.mark.parametrize("regime,expected", [("natural", 0.9), ("stylized", 1 / len(tb.SHAPES))])
def test_texture_goes_with_the_class_only_in_natural_data(regime, expected):
    images, labels, textures = tb.sample_batch(regime, 600, np.random.default_rng(0), texture_match=0.9)
    assert images.shape == (600, 1, tb.IMAGE_SIZE, tb.IMAGE_SIZE)
    assert 0 <= float(images.min()) and float(images.max()) <= 1
    assert float((labels == textures).float().mean()) == pytest.approx(expected, abs=0.05)


def test_silhouettes_are_filled_shapes_inside_the_image():
    rng = np.random.default_rng(0)
    areas = {}
    for shape in tb.SHAPES:
        mask = tb.silhouette(shape, rng)
        assert mask.dtype == bool and not mask[0].any() and not mask[-1].any()
        areas[shape] = mask.mean()
    assert 0.05 < min(areas.values()) and max(areas.values()) < 0.7
    assert areas["circle"] > areas["star"]  # a star fills less of its circle


def test_textures_are_standardised_so_only_the_pattern_differs():
    for sheet in tb.texture_sheets():
        assert sheet.shape == (tb.TEXTURE_BANK, tb.TEXTURE_BANK)
        assert abs(float(sheet.mean()) - 0.5) < 0.03 and 0.15 < float(sheet.std()) < 0.21


def test_stylized_training_raises_the_shape_bias():
    """The paper's claim, on a short deterministic run (the tab trains longer)."""
    config = tb.TrainConfig(steps=80, batch_size=32, time_budget_s=1e9, conflicts_per_pair=4, eval_every=1000)
    result = tb.final_result(config)
    bias = result.shape_bias()
    assert bias["stylized"] > bias["natural"] + 0.3
    assert result.accuracy["natural"] > 0.5  # it learned something, from texture mostly


def test_the_natural_models_texture_bias_follows_the_texture_label_correlation():
    """The control: the same natural model, trained where texture says nothing about the class
    (its own texture 1/6 of the time) and where it always does, on the same short budget."""
    def natural_bias(match):
        config = tb.TrainConfig(steps=80, time_budget_s=1e9, conflicts_per_pair=4, eval_every=1000, texture_match=match)
        *_, last = tb.train_both(config, regimes=("natural",))
        assert set(last.models) == {"natural"}
        return last.shape_bias()["natural"]

    assert natural_bias(1 / 6) > natural_bias(1.0) + 0.3


def test_paper_means_stand_only_beside_our_means_not_per_class():
    frame = demo._per_class_frame({"natural": {"circle": 0.2, "star": 0.4}, "stylized": {"circle": 1.0, "star": 0.8}})
    paper = frame[frame.model.isin(tb.PAPER_SHAPE_BIAS)]
    assert set(paper["class"]) == {"mean of all classes"} and len(paper) == len(tb.PAPER_SHAPE_BIAS)
    means = frame[(frame["class"] == "mean of all classes") & ~frame.model.isin(tb.PAPER_SHAPE_BIAS)]
    assert sorted(means["shape bias"].round(6)) == [0.3, 0.9]


def test_the_control_plot_reads_every_correlation_from_results():
    frame = demo.correlation_frame()
    assert frame["class texture (% of images)"].tolist() == pytest.approx([100 * m for m in tb.TEXTURE_MATCHES])
    assert frame["shape bias (%)"].iloc[0] > frame["shape bias (%)"].iloc[-1]


def test_both_models_start_identical_and_training_moves_them_apart():
    """Same initial weights (checked before any step), then one step on different data apart."""
    config = tb.TrainConfig(steps=0, batch_size=4, conflicts_per_pair=1, seed=3)
    start = next(iter(tb.train_both(config)))
    assert start.done and start.step == 0
    natural, stylized = (start.models[r].state_dict() for r in tb.REGIMES)
    assert natural.keys() == stylized.keys()
    for name in natural:
        assert torch.equal(natural[name], stylized[name]), name
    torch.manual_seed(config.seed)  # the initialisation is the seed's: another seed starts elsewhere
    assert torch.equal(natural["features.0.weight"], tb.SmallCNN().features[0].weight.detach())
    other = next(iter(tb.train_both(tb.TrainConfig(steps=0, conflicts_per_pair=1, seed=4))))
    assert not torch.equal(other.models["natural"].features[0].weight, start.models["natural"].features[0].weight)
    one_step = next(iter(tb.train_both(tb.TrainConfig(steps=1, batch_size=4, conflicts_per_pair=1, seed=3))))
    moved = (one_step.models[r].features[0].weight for r in tb.REGIMES)
    assert not torch.equal(*moved)


# --------------------------------------------------------------------------- the tab's handlers
@pytest.fixture(scope="module")
def trained():
    outputs = list(demo.train(10, 0.9, 60, 0))
    return outputs


def test_train_streams_curves_and_ends_with_plots_gallery_and_state(trained):
    assert len(trained) >= 2
    status, loss, accuracy, bias, per_class, gallery, state = trained[-1]
    assert "shape bias" in status and "22 %" in status
    assert set(loss["model"]) == {demo.NATURAL, demo.STYLIZED}
    assert set(per_class["model"]) >= set(tb.PAPER_SHAPE_BIAS)
    assert len(gallery) == demo.GALLERY_SIZE and gallery[0][0].shape == (128, 128)
    assert set(state) == set(tb.REGIMES)


def test_compose_answers_with_both_models(trained):
    state = trained[-1][-1]
    image, natural, stylized, text = demo.compose("star", "brick", None, 1, state)
    assert image.shape == (128, 128) and "star" in text
    for answer in (natural, stylized):
        assert set(answer) == set(tb.SHAPES) and sum(answer.values()) == pytest.approx(1, abs=1e-5)


def test_compose_with_an_uploaded_grey_16_bit_texture(trained):
    texture = np.random.default_rng(0).integers(0, 65535, (50, 70), dtype=np.uint16)
    _, _, _, text = demo.compose("cross", "brick", texture, 2, trained[-1][-1])
    assert "your texture" in text


@pytest.mark.parametrize("upload", [np.zeros((1, 1, 3), np.uint8), "/nonexistent.png"])
def test_compose_bad_upload_is_a_message(trained, upload):
    with pytest.raises(gr.Error):
        demo.compose("star", "brick", upload, 1, trained[-1][-1])


def test_compose_before_training_asks_to_train():
    with pytest.raises(gr.Error, match="Train both"):
        demo.compose("star", "brick", None, 1, None)


def test_stylize_without_vgg_weights_says_how_to_get_them(trained):
    if st.vgg19_local():
        pytest.skip("VGG-19 weights are installed here")
    texture = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    with pytest.raises(gr.Error, match="VGG-19"):
        list(demo.stylize("star", texture, 10, trained[-1][-1]))


def test_stylize_makes_a_stimulus_by_style_transfer_and_classifies_it(trained, monkeypatch):
    """The paper's way to make cue-conflict images, with random VGG weights standing in."""
    torch.manual_seed(0)
    vgg = st.VGG19Features("avg")
    st.normalise_mean_activation(vgg, st.normalisation_images(32), st.relu_layer_names(vgg))
    monkeypatch.setattr(st, "vgg19", lambda pooling="avg": vgg.eval().requires_grad_(False))
    monkeypatch.setattr(demo, "STIMULUS_SIDE", 32)
    texture = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    *_, (image, natural, stylized, text) = demo.stylize("heart", texture, 2, trained[-1][-1])
    assert image.shape == (32, 32, 3) and "heart" in text
    assert set(natural) == set(stylized) == set(tb.SHAPES)


def test_the_tab_opens_on_the_shipped_run_which_this_code_reproduces():
    """The tab opens on a run made ahead of time (python -m demos.texture_bias): its stored
    numbers are what training at the stored settings gives (checked at the first evaluation),
    and the opening shows its curves, scores and gallery in the visitor's language."""
    import json
    from types import SimpleNamespace

    saved = json.loads(demo.OPENING.read_text())
    first = next(iter(tb.train_both(tb.TrainConfig(**saved["config"]))))
    stored = saved["history"][0]
    assert first.step == stored["step"] and first.loss == pytest.approx(stored["loss"], rel=1e-4)
    assert {r: [d.shape, d.texture, d.neither] for r, d in first.decisions.items()} == stored["decisions"]
    status, loss, accuracy, bias, per_class, gallery = demo.opening()
    assert "trained ahead of time" in status and "shape bias" in status and "22 %" in status
    assert set(loss["model"]) == {demo.NATURAL, demo.STYLIZED} and loss["step"].max() == demo.STEPS[2]
    assert set(per_class["model"]) >= set(tb.PAPER_SHAPE_BIAS) and len(gallery) == demo.GALLERY_SIZE
    chinese = demo.opening(SimpleNamespace(query_params="lang=zh", headers={}))
    assert "预先训练" in chinese[0] and set(chinese[1]["model"]) == set(demo.MODEL_NAMES_ZH.values())
    assert "自然 →" in chinese[5][0][1]
