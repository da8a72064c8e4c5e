"""Deconvnet Fig. 2 (one map's top 9 over a data set, each activation projected alone, beside the
patch under its receptive field) and Fig. 7(e) (the most probable label per occluder position),
each checked against a brute-force computation."""
import gradio as gr
import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from demos import deconvnet as demo
from papers import deconvnet

torch.set_num_threads(1)


# --------------------------------------------------------------------------- receptive fields
def gradient_support(features: nn.Sequential, x: torch.Tensor, upto: int, channel: int, row: int, col: int):
    """(x0, y0, x1, y1) of the input pixels with a non-zero gradient of one unit (brute force)."""
    x = x.clone().requires_grad_(True)
    features[:upto + 1](x)[0, channel, row, col].backward()
    ys, xs = torch.nonzero(x.grad[0].abs().sum(0) > 0, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def dense(features: nn.Sequential) -> nn.Sequential:
    """The same geometry with every input of a window mattering: positive weights, max-pool ->
    average-pool (same kernel, stride, padding), so a unit's gradient covers its whole receptive field."""
    layers = []
    for layer in features:
        if isinstance(layer, nn.MaxPool2d):
            layer = nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding, count_include_pad=False)
        elif isinstance(layer, nn.Conv2d):
            with torch.no_grad():
                layer.weight.copy_(layer.weight.abs() + 0.01)
                layer.bias.fill_(0.1)
        layers.append(layer)
    return nn.Sequential(*layers)


@pytest.mark.parametrize("net, layer, spots", [
    ("small", "conv2", [(0, 0), (5, 17), (31, 31)]), ("small", "conv4", [(0, 7), (3, 4), (7, 0)]),
    ("alexnet", "conv1", [(0, 0), (27, 30)]), ("alexnet", "conv5", [(0, 0), (6, 7), (12, 12)]),
])
def test_receptive_field_is_exactly_what_a_unit_can_see(net, layer, spots):
    torch.manual_seed(0)
    features = deconvnet.SmallCNN().features if net == "small" else torchvision.models.alexnet().features
    x = torch.rand(1, 1, 64, 64) if net == "small" else torch.rand(1, 3, 224, 224)
    upto = deconvnet.conv_layers(features)[layer]
    with torch.no_grad():
        _, switches = deconvnet.forward_recording(features, x, upto)
    positive = dense(features)
    for row, col in spots:
        box = deconvnet.receptive_field(features, switches.shapes, row, col)
        assert box == gradient_support(positive, x, upto, 0, row, col)


# --------------------------------------------------------------------------- Fig. 2
@pytest.fixture(scope="module")
def small_set():
    model = deconvnet.small_cnn("cpu")
    images, _, _ = deconvnet.cluttered_digits(40, "test", seed=7)
    mean, std = deconvnet._pixel_stats()
    return model.features, (images - mean) / std


def brute_force_top(features, x, layer, channel, k=9):
    """Each image alone: its map's largest activation and where; then the k largest, one per image."""
    upto = deconvnet.conv_layers(features)[layer]
    found = []
    with torch.no_grad():
        for i in range(len(x)):
            chosen = features[:upto + 1](x[i:i + 1])[0, channel]  # (h, w)
            row, col = divmod(int(chosen.argmax()), chosen.shape[1])
            found.append((float(chosen[row, col]), i, (row, col)))
    return sorted(found, key=lambda f: -f[0])[:k]


@pytest.mark.parametrize("layer, channel", [("conv1", 3), ("conv2", 5), ("conv3", 4), ("conv4", 11)])
def test_top9_are_the_9_largest_activations_of_the_map_over_the_set(small_set, layer, channel):
    features, x = small_set
    maxima = deconvnet.layer_maxima(features, x, batch=16)[layer]
    tops = deconvnet.top_activations(features, x, maxima, layer, channel)
    expected = brute_force_top(features, x, layer, channel)
    assert [t.image for t in tops] == [i for _, i, _ in expected]
    assert [t.position for t in tops] == [p for _, _, p in expected]
    np.testing.assert_allclose([t.value for t in tops], [v for v, _, _ in expected], rtol=1e-5, atol=1e-6)


def test_a_single_activation_projects_only_inside_its_receptive_field(small_set):
    features, x = small_set
    for layer, channel in [("conv1", 0), ("conv2", 5), ("conv3", 4)]:
        maxima = deconvnet.layer_maxima(features, x)[layer]
        for top in deconvnet.top_activations(features, x, maxima, layer, channel):
            x0, y0, x1, y1 = top.box
            outside = top.pixels.abs().sum(0)  # (H, W)
            assert outside[y0:y1, x0:x1].sum() > 0  # the activation did project
            outside[y0:y1, x0:x1] = 0
            assert float(outside.max()) == 0.0
            # and it is that one activation alone: the same as backproject keeping its map's maximum
            with torch.no_grad():
                maps, switches = deconvnet.forward_recording(features, x[top.image:top.image + 1],
                                                             deconvnet.conv_layers(features)[layer])
            alone = deconvnet.backproject(features, maps, switches, [channel])[0]
            assert alone.position == top.position
            torch.testing.assert_close(alone.pixels, top.pixels, rtol=1e-4, atol=1e-6)


def test_shipped_top9_over_the_held_out_set_against_one_plain_forward():
    """The cached Fig. 2 for the shipped CNN: no canvas of the set has a larger activation of the map
    than the 9 shown, and each shown value is really that canvas's activation at that position."""
    features, (mean, std) = deconvnet.small_cnn("cpu").features, deconvnet._pixel_stats()
    x = (deconvnet.fig2_canvases() - mean) / std
    assert len(x) == deconvnet.FIG2_CANVASES
    layer, channel = "conv3", 4
    with torch.no_grad():
        maps = features[:deconvnet.conv_layers(features)[layer] + 1](x)[:, channel]  # (N, h, w)
    per_image = maps.flatten(1).amax(1)  # (N,)
    tops = deconvnet.shipped_top_activations(layer, channel, "cpu")
    assert len(tops) == 9 and len({t.image for t in tops}) == 9
    assert sorted(t.image for t in tops) == sorted(per_image.topk(9).indices.tolist())
    for t in tops:
        assert float(maps[t.image][t.position]) == pytest.approx(t.value, rel=1e-5)
    assert deconvnet.shipped_top_activations(layer, channel, "cpu") is tops  # cached
    with pytest.raises(ValueError, match="choose a channel"):
        deconvnet.shipped_top_activations(layer, 64, "cpu")


# --------------------------------------------------------------------------- Fig. 7(e)
def test_label_map_is_the_argmax_on_the_occluded_images(shipped_canvas):
    model, x = shipped_canvas
    size, stride = 16, 8
    *_, maps = deconvnet.occlusion(model, x, 0, "conv4", 0, size, stride, batch=7)
    assert maps.labels.shape == (len(maps.tops), len(maps.lefts)) and (maps.labels >= 0).all()
    rng = np.random.default_rng(0)
    for r, c in [(0, 0), (len(maps.tops) - 1, len(maps.lefts) - 1)] + [tuple(rng.integers(len(maps.tops), size=2))
                                                                       for _ in range(4)]:
        t, l = maps.tops[r], maps.lefts[c]
        occluded = x.clone()
        occluded[..., t:t + size, l:l + size] = 0.0
        with torch.no_grad():
            assert int(maps.labels[r, c]) == int(model(occluded).argmax())
        # per pixel: the square centred nearest is this one
        assert maps.label_pixels(size)[t + size // 2, l + size // 2] == maps.labels[r, c]


def test_label_map_changes_when_the_digit_is_hidden(shipped_canvas):
    """On a two-digit canvas the unoccluded answer holds away from the digit; hiding the digit
    hands the answer to the other one (the effect Fig. 7(e) shows)."""
    model, x = shipped_canvas
    with torch.no_grad():
        answer = int(model(x).argmax())
    *_, maps = deconvnet.occlusion(model, x, 0, "conv4", 0, 16, 4, batch=64)
    assert (maps.labels == answer).mean() > 0.5 and (maps.labels != answer).any()


@pytest.fixture(scope="module")
def shipped_canvas():
    from demos.common import read_image

    model = deconvnet.small_cnn("cpu")
    chosen = deconvnet.BACKBONES["digits"]
    view = chosen.view(read_image(demo.example_paths("two_digits_3_7.png")[0]).rgb)
    return model, chosen.to_tensor(view)


# --------------------------------------------------------------------------- the tab
def test_top9_handler_shows_projections_beside_patches():
    image, info = demo.top9("digits", "conv4", 5)
    side = 3 * demo.FIG2_CELL + 2 * 3
    assert image.shape == (side, 2 * side + 12, 3)
    assert "feature map **5**" in info and f"{deconvnet.FIG2_CANVASES} held-out" in info
    left, right = image[:, :side], image[:, side + 12:]
    assert left.std() > 0 and right.std() > 0 and not np.array_equal(left, right)


def test_top9_handler_messages():
    image, info = demo.top9("digits", "conv3", 2)  # a dead ReLU unit of the shipped CNN
    assert image is None and "never fires" in info
    image, info = demo.top9("alexnet", "conv1", 0)
    assert image is None and "digits CNN" in info
    with pytest.raises(gr.Error, match="choose a channel"):
        demo.top9("digits", "conv2", 32)
    with pytest.raises(gr.Error, match="choose a channel"):
        demo.top9("digits", "conv2", -1)
    with pytest.raises(gr.Error, match="whole number"):
        demo.top9("digits", "conv2", float("nan"))
    with pytest.raises(gr.Error, match="Pick a layer"):
        demo.top9("digits", "conv7", 0)


def test_occlude_streams_the_label_map_with_a_legend():
    *_, (prob, act, labels, info) = demo.occlude(demo.example_paths("two_digits_3_7.png")[0], "digits", "conv4",
                                                 demo.TOP_CLASS, 16, 4, 0.5)
    assert prob.shape == act.shape == (256, 256, 3)
    assert labels.shape[1] == 256 and labels.shape[0] > 256  # the legend under the map
    assert "(e)" in info
    colours = {tuple(c) for c in labels[:256].reshape(-1, 3)[::97]}
    assert len(colours) > 10  # the view shows through the label colours


def test_label_map_keeps_the_true_digit_away_from_it_and_loses_it_on_it():
    """results/deconvnet.json -> label_map_follows_the_digit, re-measured on 20 canvases."""
    measured = deconvnet.measure_label_map(0, quick=True)
    assert measured["ours"] > 80 and measured["on_digit"] < measured["ours"] - 30


def test_label_map_of_a_thousand_class_network_colours_its_ten_commonest_labels():
    names = [f"class {i}" for i in range(1000)]
    labels = np.repeat(np.arange(12) * 50, 19)[:, None].repeat(12, axis=1)[:224]  # (224, 12): 12 labels
    labels = np.concatenate([labels, np.full((224, 212), 50)], axis=1)  # label 50 covers most of the map
    labels[0, 0] = -1  # a position not yet measured shows the image as it is
    view = np.full((224, 224, 3), 200, np.uint8)
    image = demo.label_map_image(view, labels, names, 1.0)
    assert image.shape[1] == 224 and image.shape[0] > 224  # the legend below
    assert tuple(image[0, 0]) == (200, 200, 200)
    assert tuple(image[100, 100]) == tuple(demo.PALETTE[0])  # the commonest label gets the first colour
    assert len(demo.label_colours(labels, 1000)) == 10
