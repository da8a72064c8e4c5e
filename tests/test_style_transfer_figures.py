"""Gatys style transfer, the paper's figures: Fig. 1 (reconstruction from one content layer or one
set of style layers, from white noise), the Fig. 3 grid command, and the weighted terms α·L_content
and β·L_style the tab plots. Random (normalised) VGG-19 weights stand in for ImageNet's."""
import json
import math

import numpy as np
import pytest
import torch

from demos import style_transfer as demo
from demos.common import example_paths
from papers import style_transfer as st
from papers.checkpoints import WeightsUnavailable

torch.set_num_threads(1)


def tiny_vgg():
    torch.manual_seed(0)
    model = st.VGG19Features("avg")
    st.normalise_mean_activation(model, st.normalisation_images(32), st.relu_layer_names(model))
    return model.eval().requires_grad_(False)


class Spy(torch.nn.Module):
    """Wraps a network; records the layers asked for and the images optimised (those with grad)."""

    def __init__(self, network):
        super().__init__()
        self.network, self.layers, self.optimised = network, set(), []

    def forward(self, rgb, layers):
        if rgb.requires_grad:
            self.layers |= set(layers)
            self.optimised.append(rgb.detach().clone())
        return self.network(rgb, layers)


@pytest.fixture(scope="module")
def network():
    return tiny_vgg()


PICTURE = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("layer", ["conv1_2", "conv5_2"])
def test_content_reconstruction_uses_one_layer_and_no_style(network, layer):
    spy = Spy(network)
    config = st.StyleConfig(size=32, steps=4, init="content")  # a reconstruction ignores init: white noise
    progress = list(st.reconstruct(PICTURE, "content", layer, config, spy))
    assert spy.layers == {layer}
    last = progress[-1]
    assert (last.alpha, last.beta) == (1.0, 0.0) and last.style_loss == 0.0 and last.content_loss > 0
    target = st.to_tensor(PICTURE, 32)
    assert (spy.optimised[0] - target).abs().mean() > 0.2  # started from noise, not the image


def test_content_reconstruction_from_a_low_layer_gets_closer(network):
    *_, last = st.reconstruct(PICTURE, "content", "conv1_2", st.StyleConfig(size=32, steps=12), network)
    first = st.initial_image("noise", None, st.to_tensor(PICTURE, 32), (1, 3, 32, 32), 0)
    target = st.to_tensor(PICTURE, 32)
    result = torch.from_numpy(last.image.astype(np.float32) / 255).permute(2, 0, 1)[None]
    assert (result - target).abs().mean() < 0.8 * (first - target).abs().mean()


@pytest.mark.parametrize("depth", [1, 3])
def test_style_reconstruction_uses_conv1_1_up_to_the_chosen_layer(network, depth):
    spy = Spy(network)
    config = st.StyleConfig(size=32, steps=12, init="style", ratio=1e-3)
    progress = list(st.reconstruct(PICTURE, "style", depth, config, spy))
    assert len(progress) >= 2
    assert spy.layers == set(st.STYLE_LAYERS[:depth])
    last = progress[-1]
    assert (last.alpha, last.beta) == (0.0, 1.0) and last.content_loss == 0.0
    assert last.style_loss < progress[0].style_loss
    # from the style image it would start at the optimum: it starts from noise
    assert (spy.optimised[0] - st.to_tensor(PICTURE, 32)).abs().mean() > 0.2


def test_texture_synthesis_from_the_style_start_does_not_return_the_style(network):
    spy = Spy(network)
    *_, last = st.synthesise(None, PICTURE, st.StyleConfig(size=32, steps=2, ratio=0.0, init="style"), spy)
    assert (spy.optimised[0] - st.to_tensor(PICTURE, 32)).abs().mean() > 0.2


def test_reconstruct_rejects_unknown_layers(network):
    with pytest.raises(ValueError):
        st.reconstruct(PICTURE, "content", "conv4_1", st.StyleConfig(size=32), network)
    with pytest.raises(ValueError):
        st.reconstruct(PICTURE, "style", 6, st.StyleConfig(size=32), network)


def test_the_plot_shows_the_weighted_terms_not_the_raw_losses():
    image = np.zeros((2, 2, 3), np.uint8)
    history = [st.Progress(2, image, 100.0, 2.0, 0.0, alpha=1e-3, beta=1.0),
               st.Progress(4, image, 10.0, 0.5, 0.0, alpha=1e-3, beta=1.0)]
    frame = demo._loss_frame(history)
    content = frame[frame["term"] == demo.CONTENT_TERM]["loss"].to_numpy()
    style = frame[frame["term"] == demo.STYLE_TERM]["loss"].to_numpy()
    np.testing.assert_allclose(content, [math.log10(0.1), math.log10(0.01)])  # α·L_content
    np.testing.assert_allclose(style, [math.log10(2.0), math.log10(0.5)])
    texture = demo._loss_frame([st.Progress(1, image, 0.0, 3.0, 0.0, alpha=0.0, beta=1.0)])
    assert set(texture["term"]) == {demo.STYLE_TERM}  # α = 0: no content term drawn


# --------------------------------------------------------------------------- the tab's Fig. 1 handler
def fig1(kind, layer="conv1_2", depth=2, steps=3):
    return list(demo.reconstruct(example_paths("chelsea.jpg")[0], kind, layer, depth, 32, steps, 30))


def test_fig1_without_vgg_weights_says_what_it_would_show(monkeypatch):
    def missing(pooling="avg"):
        raise WeightsUnavailable("VGG-19 weights missing")

    monkeypatch.setattr(st, "vgg19", missing)
    (image, curve, status), = fig1(demo.FIG1_CONTENT, layer="conv5_2")
    assert image is None and curve is None
    assert "Not run" in status and "VGG-19" in status and "conv5_2" in status and "random" in status
    (_, _, status), = fig1(demo.FIG1_STYLE, depth=3)
    assert "conv1_1 + conv2_1 + conv3_1" in status and "Gram" in status


@pytest.mark.parametrize("kind, term", [(demo.FIG1_CONTENT, demo.CONTENT_TERM), (demo.FIG1_STYLE, demo.STYLE_TERM)])
def test_fig1_streams_a_reconstruction_with_vgg(monkeypatch, network, kind, term):
    monkeypatch.setattr(st, "vgg19", lambda pooling="avg": network)
    outputs = fig1(kind, steps=4)
    image, curve, status = outputs[-1]
    assert image.shape == (21, 32, 3)  # chelsea is 451x300
    assert set(curve["term"]) == {term} and "VGG-19" in status and "white noise" in status


# --------------------------------------------------------------------------- the Fig. 3 grid command
def test_grid_command_writes_a_labelled_grid_and_its_settings(monkeypatch, network, tmp_path):
    monkeypatch.setattr(st, "vgg19", lambda pooling="avg": network)
    content, style = example_paths("chelsea.jpg", "brick.png")
    st.main(["grid", "--out", str(tmp_path), "--content", content, "--style", style, "--size", "32",
             "--steps", "2", "--ratios", "1e-3", "1e-2", "--depths", "1", "2"])
    settings = json.loads((tmp_path / f"{st.GRID_NAME}.json").read_text())
    picture = np.asarray(st.Image.open(tmp_path / f"{st.GRID_NAME}.jpg").convert("L")).astype(int)
    assert settings["row_labels"] == ["conv1_1", "conv1_1..conv2_1"]
    assert settings["col_labels"] == ["1e-03", "1e-02"] and settings["corner_label"] == "a/b ="
    assert [(r["style_layers"], r["ratio"]) for r in settings["runs"]] == [
        (["conv1_1"], 1e-3), (["conv1_1"], 1e-2), (["conv1_1", "conv2_1"], 1e-3), (["conv1_1", "conv2_1"], 1e-2)]
    assert settings["content"] == "chelsea.jpg" and settings["style"] == "brick.png" and settings["steps"] == 2
    layout = settings["layout"]
    assert picture.shape == (layout["height"], layout["width"])
    cells = layout["cells"]
    assert len(cells) == 2 and all(len(row) == 2 for row in cells)
    x0, y0, x1, y1 = cells[0][0]
    assert (x1 - x0, y1 - y0) == (32, 21)  # each cell is one 32 px result
    assert cells[0][1][0] > x1 and cells[1][0][1] > y1  # left to right, top to bottom, no overlap
    for x0, y0, x1, y1 in layout["col_labels"] + layout["row_labels"] + [layout["corner_label"]]:
        assert picture[y0:y1, x0:x1].min() < 100  # text was drawn in every label box
    x0, _, x1, _ = layout["col_labels"][0]
    assert picture[:st.GRID_LABEL_HEIGHT, x0 - st.GRID_GAP:x0].min() > 200  # labels stay in their boxes
    assert picture[:st.GRID_LABEL_HEIGHT, x1:x1 + st.GRID_GAP].min() > 200
    assert [np.abs(np.diff(picture[y0:y1, x0:x1], axis=1)).mean() > 1 for row in cells
            for x0, y0, x1, y1 in row] == [True] * 4  # every cell holds a picture, not blank paper
    # the tab shows a shipped grid with its settings
    monkeypatch.setattr(demo, "GRID_IMAGE", tmp_path / f"{st.GRID_NAME}.jpg")
    monkeypatch.setattr(demo, "GRID_SETTINGS", tmp_path / f"{st.GRID_NAME}.json")
    path, shown = demo._grid()
    assert path == str(tmp_path / f"{st.GRID_NAME}.jpg") and shown == settings
    from demos.i18n import _PAIRS
    en, zh = _PAIRS[demo._grid_caption(shown).key]
    assert "chelsea.jpg" in en and "brick.png" in en and "32 px" in en and "VGG19Features" in en and "chelsea.jpg" in zh


def test_the_tab_says_how_to_make_the_grid_when_it_is_not_shipped(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "GRID_IMAGE", tmp_path / "absent.jpg")
    assert demo._grid() == (None, None)
    text = demo._grid_caption(None)
    english = getattr(text, "key", None)
    from demos.i18n import _PAIRS
    en, zh = _PAIRS[english]
    assert "not shipped yet" in en and demo.GRID_COMMAND in en and demo.GRID_COMMAND in zh


@pytest.mark.parametrize("optimiser, steps", [("lbfgs", 7), ("lbfgs", 8), ("lbfgs", 2), ("adam", 5)])
def test_steps_are_exactly_the_forward_backward_passes(network, optimiser, steps):
    spy = Spy(network)
    config = st.StyleConfig(size=32, ratio=1e-3, steps=steps, optimiser=optimiser)
    *_, last = st.synthesise(PICTURE, PICTURE[::-1].copy(), config, spy, stream_every=1)
    assert last.step == steps == len(spy.optimised) and last.reason == "steps done"


def test_grid_command_without_vgg_weights_stops_with_a_message(monkeypatch, tmp_path):
    def missing(pooling="avg"):
        raise WeightsUnavailable("VGG-19 ImageNet weights are not here; to get them: ...")

    monkeypatch.setattr(st, "vgg19", missing)
    with pytest.raises(SystemExit, match="Fig. 3 needs the ImageNet VGG-19"):
        st.main(["grid", "--out", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # no stand-in grid is written
